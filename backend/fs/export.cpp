#include "backend/fs/export.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "backend/fs/host_file.hpp"
#include "backend/fs/node.hpp"

namespace xen9p::fs {

namespace {

// The export as the root of a mount of its own, so that the kernel keeps ".."
// inside it (walk.cpp relies on this to make ".." cost O(1)): a detached copy of
// its mount tree (open_tree; needs CAP_SYS_ADMIN), nodev/nosuid/noexec as the
// worker's sandbox mounts it. `root` unchanged when it is a mount root already
// (the sandboxed worker's "/": no mount call may run under its seccomp filter)
// or when the copy cannot be made (an unprivileged `serve`).
UniqueFd as_mount_root(UniqueFd root) {
    auto st = stat_fd(root.get(), STATX_INO);
    if (!st || (st->stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0) return root;
    long raw = ::syscall(SYS_open_tree, root.get(), "",
                         AT_EMPTY_PATH | AT_RECURSIVE | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (raw < 0) return root;
    UniqueFd copy(static_cast<int>(raw));
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
    if (::syscall(SYS_mount_setattr, copy.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                  sizeof(attr)) != 0) {
        return root;
    }
    return copy;
}

}  // namespace

std::optional<SecurityModel> parse_security_model(std::string_view name) {
    if (name == "none") return SecurityModel::kNone;
    if (name == "passthrough") return SecurityModel::kPassthrough;
    if (name == "mapped-xattr" || name == "mapped") return SecurityModel::kMappedXattr;
    return std::nullopt;
}

std::string_view security_model_name(SecurityModel model) {
    switch (model) {
        case SecurityModel::kNone:
            return "none";
        case SecurityModel::kPassthrough:
            return "passthrough";
        case SecurityModel::kMappedXattr:
            return "mapped-xattr";
    }
    return "none";
}

Export::Export(UniqueFd root, UniqueFd proc, const ExportConfig& config, std::uint64_t root_dev,
               std::uint64_t root_ino)
    : root_(std::move(root)),
      proc_(std::move(proc)),
      config_(config),
      root_dev_(root_dev),
      root_ino_(root_ino),
      limits_(std::make_unique<SpaceLimits>(config.limits)) {}

Result<Export> Export::open(const std::string& path, const ExportConfig& config) {
    UniqueFd proc_fd(::open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!proc_fd) return fail_errno();
    return open(path, config, std::move(proc_fd));
}

Result<Export> Export::open(const std::string& path, const ExportConfig& config,
                            UniqueFd proc_self_fd) {
    UniqueFd opened(::open(path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!opened) return fail_errno();
    UniqueFd root_fd = as_mount_root(std::move(opened));
    auto st = stat_fd(root_fd.get());
    if (!st) return std::unexpected(st.error());
    Export ex(std::move(root_fd), std::move(proc_self_fd), config,
              makedev(st->stx_dev_major, st->stx_dev_minor), st->stx_ino);
    if (config.model == SecurityModel::kPassthrough) {
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        if (::syscall(SYS_capget, &header, ex.caps_.data.data()) != 0) return fail_errno();
    }
    if (ex.limits_->tracks_usage()) {
        if (auto s = ex.limits_->scan(ex.root_fd()); !s) return std::unexpected(s.error());
    }
    return ex;
}

Result<Node> Export::root() const {
    int fd = ::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return fail_errno();
    return Node(UniqueFd(fd));
}

bool Export::is_root(int fd) const {
    auto st = stat_fd(fd, STATX_INO);
    if (!st) return false;
    return st->stx_ino == root_ino_ && makedev(st->stx_dev_major, st->stx_dev_minor) == root_dev_;
}

}  // namespace xen9p::fs
