// The mapped-xattr security model's metadata, in QEMU's format: the guest's view
// of uid, gid, mode and rdev stored in user.virtfs.uid/.gid/.mode (32-bit little
// endian) and user.virtfs.rdev (64-bit little endian, host makedev encoding).
// Files carrying it are plain regular files and directories owned by the worker.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "backend/fs/export.hpp"
#include "base/errno.hpp"

namespace xen9p::fs {

inline constexpr std::string_view kMetaPrefix = "user.virtfs.";
// Host modes of the files mapped-xattr creates (QEMU's fmode/dmode defaults).
inline constexpr mode_t kMappedFileMode = 0600;
inline constexpr mode_t kMappedDirMode = 0700;

struct MappedMeta {
    std::optional<std::uint32_t> uid;
    std::optional<std::uint32_t> gid;
    std::optional<std::uint32_t> mode;  // with the file type bits
    std::optional<std::uint64_t> rdev;
};

// The attributes present on O_PATH fd `fd` (all empty for symlinks and special
// files, which mapped-xattr never creates).
Result<MappedMeta> read_meta(const Export& ex, int fd, std::uint32_t host_mode);

// Sets the present fields on the open file description `real_fd`.
Status write_meta(int real_fd, const MappedMeta& meta);

// Same, for an O_PATH fd (re-opened read-only for the purpose).
Status write_meta_path(const Export& ex, int fd, const MappedMeta& meta);

bool is_meta_name(std::string_view name);

}  // namespace xen9p::fs
