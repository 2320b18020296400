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

constexpr unsigned kIdentity = STATX_INO | STATX_MNT_ID;

// True when `st` is on the mount whose root is the export root `root`.
bool on_export_mount(const struct statx& root, const struct statx& st) {
    return (root.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0 &&
           (root.stx_mask & STATX_MNT_ID) != 0 && (st.stx_mask & STATX_MNT_ID) != 0 &&
           st.stx_mnt_id == root.stx_mnt_id;
}

// True when `parent`, the ".." of a directory of the export other than its
// root, is inside the export still. A ".." the kernel resolved onto the mount
// whose root is the export root is: the kernel's path_connected() refuses
// (ENOENT) a ".." that would land outside the root of the mount it is on,
// which is exactly a directory the host moved out of the export, and ".."
// leaves a mount only from its root, which walk_one never asks for. That holds
// for the worker (the export is "/" of its mount namespace) and wherever
// Export::open could make the export a mount of its own: one statx, whatever
// the depth. Otherwise (an unprivileged `serve` of a plain directory, or a
// parent on a mount below the export) walk up with plain ".." (RESOLVE_BENEATH
// refuses it) until the export root, or the export's own mount, is reached:
// O(depth), bounded.
Result<bool> inside_export(const Export& ex, int parent) {
    auto root = stat_fd(ex.root_fd(), kIdentity);
    if (!root) return std::unexpected(root.error());
    auto st = stat_fd(parent, kIdentity);
    if (!st) return std::unexpected(st.error());
    if (same_file(*st, *root) || on_export_mount(*root, *st)) return true;
    int dup = ::fcntl(parent, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return fail_errno();
    UniqueFd cur(dup);
    for (int depth = 0; depth < 4096; ++depth) {
        int up = ::openat(cur.get(), "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (up < 0) return fail_errno();
        UniqueFd next(up);
        auto nst = stat_fd(next.get(), kIdentity);
        if (!nst) return std::unexpected(nst.error());
        if (same_file(*nst, *st)) return false;  // reached "/" (or our chroot)
        if (same_file(*nst, *root) || on_export_mount(*root, *nst)) return true;
        cur = std::move(next);
        st = nst;
    }
    return false;
}

}  // namespace

Status check_entry_name(std::string_view name) {
    if (name.empty() || name == "." || name == "..") return fail(EINVAL);
    if (name.size() > p9proto::kMaxNameLength) return fail(ENAMETOOLONG);
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
        Node node(std::move(parent), &ex.limits());
        // The ".." of a removed directory may have no name left either.
        ex.limits().identify_pins();
        return node;
    }

    if (name.empty() || name.find('/') != std::string_view::npos ||
        name.find('\0') != std::string_view::npos) {
        return fail(EINVAL);
    }
    if (name.size() > p9proto::kMaxNameLength) return fail(ENAMETOOLONG);
    std::string cname(name);
    auto fd = open_beneath(dir.fd(), cname.c_str(), 0);
    if (!fd) return std::unexpected(fd.error());
    return Node(std::move(*fd), &ex.limits(), dir.shared_fd(), std::move(cname));
}

}  // namespace xen9p::fs
