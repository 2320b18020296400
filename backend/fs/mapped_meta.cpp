#include "backend/fs/mapped_meta.hpp"

#include <endian.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>

#include "backend/fs/host_file.hpp"

namespace xen9p::fs {
namespace {

constexpr const char* kUid = "user.virtfs.uid";
constexpr const char* kGid = "user.virtfs.gid";
constexpr const char* kMode = "user.virtfs.mode";
constexpr const char* kRdev = "user.virtfs.rdev";

template <class T>
Result<std::optional<T>> get_le(int fd, const char* name) {
    T raw{};
    ssize_t n = ::fgetxattr(fd, name, &raw, sizeof(raw));
    if (n < 0) {
        if (errno == ENODATA || errno == ENOTSUP) return std::optional<T>{};
        return fail_errno();
    }
    // QEMU tests "> 0" and uses what is there; a short value is not QEMU's.
    if (static_cast<std::size_t>(n) != sizeof(raw)) return std::optional<T>{};
    if constexpr (sizeof(T) == 4) return std::optional<T>{le32toh(raw)};
    return std::optional<T>{le64toh(raw)};
}

template <class T>
Status set_le(int fd, const char* name, T value) {
    T raw;
    if constexpr (sizeof(T) == 4) {
        raw = htole32(value);
    } else {
        raw = htole64(value);
    }
    if (::fsetxattr(fd, name, &raw, sizeof(raw), 0) != 0) return fail_errno();
    return {};
}

}  // namespace

Result<MappedMeta> read_meta(const Export& ex, int fd, std::uint32_t host_mode) {
    MappedMeta meta;
    if (!S_ISREG(host_mode) && !S_ISDIR(host_mode)) return meta;
    auto file = reopen(ex, fd, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!file) {
        // Files the worker cannot read were not created by it: no metadata.
        if (file.error().value == EACCES || file.error().value == EPERM) return meta;
        return std::unexpected(file.error());
    }
    auto uid = get_le<std::uint32_t>(file->get(), kUid);
    auto gid = get_le<std::uint32_t>(file->get(), kGid);
    auto mode = get_le<std::uint32_t>(file->get(), kMode);
    auto rdev = get_le<std::uint64_t>(file->get(), kRdev);
    if (!uid) return std::unexpected(uid.error());
    if (!gid) return std::unexpected(gid.error());
    if (!mode) return std::unexpected(mode.error());
    if (!rdev) return std::unexpected(rdev.error());
    meta.uid = *uid;
    meta.gid = *gid;
    meta.mode = *mode;
    meta.rdev = *rdev;
    return meta;
}

Status write_meta(int real_fd, const MappedMeta& meta) {
    if (meta.uid) {
        if (auto s = set_le<std::uint32_t>(real_fd, kUid, *meta.uid); !s) return s;
    }
    if (meta.gid) {
        if (auto s = set_le<std::uint32_t>(real_fd, kGid, *meta.gid); !s) return s;
    }
    if (meta.mode) {
        if (auto s = set_le<std::uint32_t>(real_fd, kMode, *meta.mode); !s) return s;
    }
    if (meta.rdev) {
        if (auto s = set_le<std::uint64_t>(real_fd, kRdev, *meta.rdev); !s) return s;
    }
    return {};
}

Status write_meta_path(const Export& ex, int fd, const MappedMeta& meta) {
    auto st = stat_fd(fd, STATX_TYPE);
    if (!st) return std::unexpected(st.error());
    if (!S_ISREG(st->stx_mode) && !S_ISDIR(st->stx_mode)) return fail(EOPNOTSUPP);
    auto file = reopen(ex, fd, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!file) return std::unexpected(file.error());
    return write_meta(file->get(), meta);
}

bool is_meta_name(std::string_view name) {
    return name.starts_with(kMetaPrefix);
}

}  // namespace xen9p::fs
