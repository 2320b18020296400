#include "backend/fs/walk.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "backend/fs/host_file.hpp"
#include "p9proto/constants.hpp"

namespace xen9p::fs {
namespace {

Result<UniqueFd> open_beneath(int dir_fd, const char* name, std::uint64_t flags) {
    struct open_how how {};
    how.flags = flags | O_PATH | O_NOFOLLOW | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
    long fd;
    do {
        fd = ::syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));
    } while (fd < 0 && errno == EAGAIN);
    if (fd < 0) return fail_errno();
    return UniqueFd(static_cast<int>(fd));
}

bool same_file(const struct statx& a, const struct statx& b) {
    return a.stx_ino == b.stx_ino && a.stx_dev_major == b.stx_dev_major &&
           a.stx_dev_minor == b.stx_dev_minor;
}

// True when `fd` (a directory) still has the export root among its ancestors.
// Walks up with plain ".." (RESOLVE_BENEATH refuses it), bounded by depth.
Result<bool> inside_export(const Export& ex, int fd) {
    auto root = stat_fd(ex.root_fd(), STATX_INO);
    if (!root) return std::unexpected(root.error());
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return fail_errno();
    UniqueFd cur(dup);
    for (int depth = 0; depth < 4096; ++depth) {
        auto st = stat_fd(cur.get(), STATX_INO);
        if (!st) return std::unexpected(st.error());
        if (same_file(*st, *root)) return true;
        int up = ::openat(cur.get(), "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (up < 0) return fail_errno();
        UniqueFd parent(up);
        auto pst = stat_fd(parent.get(), STATX_INO);
        if (!pst) return std::unexpected(pst.error());
        if (same_file(*pst, *st)) return false;  // reached "/" (or our chroot)
        cur = std::move(parent);
    }
    return false;
}

}  // namespace

Status check_entry_name(std::string_view name) {
    if (name.empty() || name == "." || name == "..") return fail(EINVAL);
    if (name.size() > proto::kMaxNameLength) return fail(ENAMETOOLONG);
    if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
        return fail(EINVAL);
    }
    return {};
}

Result<Node> walk_one(Export& ex, const Caller& who, const Node& dir, std::string_view name) {
    if (!dir) return fail(EBADF);
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    auto dst = stat_fd(dir.fd(), STATX_TYPE);
    if (!dst) return std::unexpected(dst.error());
    // Walking on through a symlink would mean following it.
    if (S_ISLNK(dst->stx_mode)) return fail(ELOOP);
    if (!S_ISDIR(dst->stx_mode)) return fail(ENOTDIR);

    if (name == ".") return dir.clone();
    if (name == "..") {
        if (ex.is_root(dir.fd())) return dir.clone();
        // Search permission on `dir` is what the kernel would check for "..".
        if (::faccessat(dir.fd(), ".", X_OK, AT_EACCESS) != 0) return fail_errno();
        int up = ::openat(dir.fd(), "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (up < 0) return fail_errno();
        UniqueFd parent(up);
        auto inside = inside_export(ex, parent.get());
        if (!inside) return std::unexpected(inside.error());
        if (!*inside) return fail(ENOENT);
        // The grandparent is not known here: the result cannot be Tremove'd
        // through its origin, which remove_node reports as ESTALE.
        return Node(std::move(parent));
    }

    if (name.empty() || name.find('/') != std::string_view::npos ||
        name.find('\0') != std::string_view::npos) {
        return fail(EINVAL);
    }
    if (name.size() > proto::kMaxNameLength) return fail(ENAMETOOLONG);
    std::string cname(name);
    auto fd = open_beneath(dir.fd(), cname.c_str(), 0);
    if (!fd) return std::unexpected(fd.error());
    return Node(std::move(*fd), dir.shared_fd(), std::move(cname));
}

}  // namespace xen9p::fs
