#include "backend/fs/export.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "backend/fs/host_file.hpp"
#include "backend/fs/node.hpp"

namespace xen9p::fs {

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
    UniqueFd root_fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root_fd) return fail_errno();
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
