#include "backend/fs/xattr.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>
#include <string>

#include "backend/fs/host_file.hpp"
#include "backend/fs/mapped_meta.hpp"
#include "p9proto/constants.hpp"

namespace xen9p::fs {
namespace {

// f*xattr refuse O_PATH fds on older kernels: re-open regular files and
// directories read-only. Symlinks and special files carry no xattrs we serve.
Result<UniqueFd> xattr_fd(const Export& ex, const Node& node) {
    if (!node) return fail(EBADF);
    auto st = stat_fd(node.fd(), STATX_TYPE);
    if (!st) return std::unexpected(st.error());
    if (!S_ISREG(st->stx_mode) && !S_ISDIR(st->stx_mode)) return fail(EOPNOTSUPP);
    return reopen(ex, node.fd(), O_RDONLY | O_NONBLOCK | O_NOCTTY);
}

constexpr std::string_view kUserPrefix = "user.";
constexpr std::string_view kAclAccess = "system.posix_acl_access";
constexpr std::string_view kAclDefault = "system.posix_acl_default";

bool is_acl_name(std::string_view name) {
    return name == kAclAccess || name == kAclDefault;
}

bool mapped(const Export& ex) {
    return ex.model() == SecurityModel::kMappedXattr;
}

// The names a guest may use: user.* under every model, and the two POSIX ACL
// names where the model gives them a meaning within what the guest may do
// anyway: passthrough applies them to the host file as the guest's ids (which
// it trusts already), mapped-xattr keeps them as data. Under `none` they would
// put the guest's uid claims into the host's permission checks. Every other
// namespace is the host's: security.capability grants privilege to whoever
// runs the file, trusted.* and security.* are for the host admin and LSMs.
bool served(const Export& ex, std::string_view name) {
    if (name.starts_with(kUserPrefix)) return true;
    return is_acl_name(name) && ex.model() != SecurityModel::kNone;
}

bool hidden(const Export& ex, std::string_view name) {
    return mapped(ex) && is_meta_name(name);
}

// Under mapped-xattr the guest's POSIX ACLs live in user.virtfs.system.posix_acl_*
// (QEMU's place for them): applied to the host file they would change the
// host's permission checks.
std::string host_name(const Export& ex, std::string_view name) {
    if (mapped(ex) && is_acl_name(name)) return std::string(kMetaPrefix) + std::string(name);
    return std::string(name);
}

// The guest's name for host attribute `name`; empty when the guest may not see
// it (another namespace, or mapped-xattr's own metadata and host-side ACLs).
std::string_view guest_name(const Export& ex, std::string_view name) {
    if (!mapped(ex)) return served(ex, name) ? name : std::string_view{};
    if (!is_meta_name(name)) return name.starts_with(kUserPrefix) ? name : std::string_view{};
    std::string_view rest = name.substr(kMetaPrefix.size());
    return is_acl_name(rest) ? rest : std::string_view{};
}

}  // namespace

Status check_xattr_name(const Export& ex, std::string_view name) {
    if (name.empty()) return fail(EINVAL);
    if (name.size() > p9proto::kMaxNameLength) return fail(ERANGE);
    if (name.find('\0') != std::string_view::npos) return fail(EINVAL);
    if (!served(ex, name)) return fail(EOPNOTSUPP);
    return {};
}

Result<std::vector<std::byte>> xattr_get(Export& ex, const Caller& who, const Node& node,
                                         std::string_view name) {
    if (auto s = check_xattr_name(ex, name); !s) return std::unexpected(s.error());
    if (hidden(ex, name)) return fail(ENODATA);
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    auto fd = xattr_fd(ex, node);
    if (!fd) return std::unexpected(fd.error());
    std::string cname = host_name(ex, name);
    // The value may change between the size query and the read: retry once.
    for (int attempt = 0; attempt < 2; ++attempt) {
        ssize_t size = ::fgetxattr(fd->get(), cname.c_str(), nullptr, 0);
        if (size < 0) return fail_errno();
        if (static_cast<std::size_t>(size) > kMaxXattrSize) return fail(E2BIG);
        std::vector<std::byte> value(static_cast<std::size_t>(size));
        ssize_t got = ::fgetxattr(fd->get(), cname.c_str(), value.data(), value.size());
        if (got < 0) {
            if (errno == ERANGE) continue;
            return fail_errno();
        }
        value.resize(static_cast<std::size_t>(got));
        return value;
    }
    return fail(ERANGE);
}

Result<std::vector<std::byte>> xattr_list(Export& ex, const Caller& who, const Node& node) {
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    auto fd = xattr_fd(ex, node);
    if (!fd) return std::unexpected(fd.error());
    for (int attempt = 0; attempt < 2; ++attempt) {
        ssize_t size = ::flistxattr(fd->get(), nullptr, 0);
        if (size < 0) return fail_errno();
        std::string names(static_cast<std::size_t>(size), '\0');
        ssize_t got = ::flistxattr(fd->get(), names.data(), names.size());
        if (got < 0) {
            if (errno == ERANGE) continue;
            return fail_errno();
        }
        names.resize(static_cast<std::size_t>(got));
        std::vector<std::byte> out;
        out.reserve(names.size());
        std::size_t pos = 0;
        while (pos < names.size()) {
            std::size_t end = names.find('\0', pos);
            if (end == std::string::npos) end = names.size();
            std::string_view one = guest_name(ex, std::string_view(names.data() + pos, end - pos));
            if (!one.empty()) {
                for (char c : one)
                    out.push_back(static_cast<std::byte>(c));
                out.push_back(std::byte{0});
            }
            pos = end + 1;
        }
        if (out.size() > kMaxXattrSize) return fail(E2BIG);
        return out;
    }
    return fail(ERANGE);
}

Status xattr_set(Export& ex, const Caller& who, const Node& node, std::string_view name,
                 std::span<const std::byte> value, std::uint32_t flags) {
    if (auto s = check_xattr_name(ex, name); !s) return s;
    if (flags != 0 && flags != p9proto::kXattrCreate && flags != p9proto::kXattrReplace) {
        return fail(EINVAL);
    }
    if (value.size() > kMaxXattrSize) return fail(E2BIG);
    if (auto s = check_writable(ex); !s) return s;
    if (hidden(ex, name)) return fail(EACCES);
    if (ex.limits().tracks_usage()) {
        // The file system may give the value a block of its own.
        auto st = stat_fd(node.fd(), STATX_TYPE);
        if (!st) return std::unexpected(st.error());
        std::uint64_t bound = allocation_bound(st->stx_blksize, 0, name.size() + value.size());
        if (auto s = ex.limits().make_room(ex.root_fd(), 0, bound); !s) return s;
    }
    UsageProbe probe(ex.limits(), node.fd());
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    auto fd = xattr_fd(ex, node);
    if (!fd) return std::unexpected(fd.error());
    std::string cname = host_name(ex, name);
    int host_flags = flags == p9proto::kXattrCreate    ? XATTR_CREATE
                     : flags == p9proto::kXattrReplace ? XATTR_REPLACE
                                                       : 0;
    if (::fsetxattr(fd->get(), cname.c_str(), value.data(), value.size(), host_flags) != 0) {
        return fail_errno();
    }
    return {};
}

Status xattr_remove(Export& ex, const Caller& who, const Node& node, std::string_view name) {
    if (auto s = check_xattr_name(ex, name); !s) return s;
    if (auto s = check_writable(ex); !s) return s;
    if (hidden(ex, name)) return fail(EACCES);
    UsageProbe probe(ex.limits(), node.fd());
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    auto fd = xattr_fd(ex, node);
    if (!fd) return std::unexpected(fd.error());
    std::string cname = host_name(ex, name);
    if (::fremovexattr(fd->get(), cname.c_str()) != 0) return fail_errno();
    return {};
}

}  // namespace xen9p::fs
