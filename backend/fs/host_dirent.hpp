// One record of a buffer getdents64 filled (struct linux_dirent64), read out
// without assuming the buffer is aligned for it.
#pragma once

#include <dirent.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace xen9p::fs {

struct HostDirent {
    std::uint64_t ino = 0;
    std::int64_t off = 0;  // the cookie of the next record
    unsigned short reclen = 0;
    unsigned char type = 0;
    std::string_view name;  // points into the buffer
};

// The record at `pos`, which must be below what getdents64 returned.
inline HostDirent host_dirent_at(std::span<const std::byte> filled, std::size_t pos) {
    struct Raw {
        std::uint64_t ino;
        std::int64_t off;
        unsigned short reclen;
        unsigned char type;
    } raw;
    std::memcpy(&raw, filled.data() + pos, sizeof(raw));
    constexpr std::size_t kNameOffset = offsetof(struct dirent64, d_name);
    const char* name = reinterpret_cast<const char*>(filled.data() + pos + kNameOffset);
    return {raw.ino, raw.off, raw.reclen, raw.type,
            std::string_view(name, ::strnlen(name, raw.reclen - kNameOffset))};
}

}  // namespace xen9p::fs
