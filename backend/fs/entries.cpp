#include "backend/fs/entries.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "backend/fs/attr.hpp"
#include "backend/fs/host_file.hpp"
#include "backend/fs/mapped_meta.hpp"
#include "backend/fs/walk.hpp"
#include "p9proto/constants.hpp"

namespace xen9p::fs {
namespace {

// The checks every creating operation starts with.
Result<std::string> prepare_create(Export& ex, const Node& dir, std::string_view name) {
    if (!dir) return fail(EBADF);
    if (auto s = check_entry_name(name); !s) return std::unexpected(s.error());
    if (auto s = check_writable(ex); !s) return std::unexpected(s.error());
    return std::string(name);
}

Result<UniqueFd> open_entry(int dir_fd, const std::string& name) {
    int fd = ::openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return fail_errno();
    return UniqueFd(fd);
}

// chmod through the /proc magic link (the umask must not narrow the guest's mode;
// fchmod refuses O_PATH fds).
Status chmod_path(const Export& ex, int fd, std::uint32_t mode) {
    char name[16];
    std::snprintf(name, sizeof(name), "%d", fd);
    if (::fchmodat(ex.proc_fd(), name, mode & 07777, 0) != 0) return fail_errno();
    return {};
}

// Finishes a creation: hands the node to the caller (`none`), fixes the mode
// (after the chown, which may clear setuid/setgid), reports the qid, removes the
// entry again when that fails.
Result<proto::Qid> finish(Export& ex, const Caller& who, gid_t gid, int dir_fd,
                          const std::string& name, bool is_dir, std::optional<std::uint32_t> mode) {
    auto undo = [&](Errno err) -> Result<proto::Qid> {
        ::unlinkat(dir_fd, name.c_str(), is_dir ? AT_REMOVEDIR : 0);
        return std::unexpected(err);
    };
    auto fd = open_entry(dir_fd, name);
    if (!fd) return undo(fd.error());
    if (auto s = adopt_owner(ex, fd->get(), who, gid); !s) return undo(s.error());
    if (mode) {
        if (auto s = chmod_path(ex, fd->get(), *mode); !s) return undo(s.error());
    }
    auto qid = qid_of(ex, Node(std::move(*fd)));
    if (!qid) return undo(qid.error());
    return qid;
}

// A mapped-xattr regular file standing for any file type, with its metadata.
Result<proto::Qid> create_mapped_file(Export& ex, const Caller& who, gid_t gid, int dir_fd,
                                      const std::string& name, const MappedMeta& meta,
                                      std::string_view content) {
    int raw = ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       kMappedFileMode);
    if (raw < 0) return fail_errno();
    UniqueFd fd(raw);
    auto undo = [&](Errno err) -> Result<proto::Qid> {
        ::unlinkat(dir_fd, name.c_str(), 0);
        return std::unexpected(err);
    };
    std::size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return undo(Errno{errno});
        }
        done += static_cast<std::size_t>(n);
    }
    if (auto s = write_meta(fd.get(), meta); !s) return undo(s.error());
    return finish(ex, who, gid, dir_fd, name, false, std::nullopt);
}

// Accounting for an entry about to disappear (a regular file's last name).
struct Doomed {
    bool counted = false;
    std::uint64_t size = 0;
};

Doomed doomed_entry(int dir_fd, const char* name) {
    struct statx st {};
    if (::statx(dir_fd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_NLINK | STATX_SIZE, &st) !=
        0) {
        return {};
    }
    if (!S_ISREG(st.stx_mode) || st.stx_nlink != 1) return {};
    return Doomed{true, st.stx_size};
}

void forget(Export& ex, const Doomed& d) {
    if (d.counted && ex.limits().tracks_usage()) ex.limits().file_removed(d.size);
}

}  // namespace

Result<proto::Qid> make_dir(Export& ex, const Caller& who, const Node& dir, std::string_view name,
                            std::uint32_t mode, std::uint32_t gid) {
    auto cname = prepare_create(ex, dir, name);
    if (!cname) return std::unexpected(cname.error());
    CredGuard guard(ex, who, gid);
    if (!guard.ok()) return fail(EPERM);
    bool mapped = ex.model() == SecurityModel::kMappedXattr;
    if (::mkdirat(dir.fd(), cname->c_str(), mapped ? kMappedDirMode : (mode & 07777)) != 0) {
        return fail_errno();
    }
    if (!mapped) return finish(ex, who, gid, dir.fd(), *cname, true, mode);
    int raw = ::openat(dir.fd(), cname->c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (raw < 0) {
        int err = errno;
        ::unlinkat(dir.fd(), cname->c_str(), AT_REMOVEDIR);
        return fail(err);
    }
    UniqueFd fd(raw);
    MappedMeta meta{who.uid, gid, S_IFDIR | (mode & 07777), std::nullopt};
    if (auto s = write_meta(fd.get(), meta); !s) {
        ::unlinkat(dir.fd(), cname->c_str(), AT_REMOVEDIR);
        return std::unexpected(s.error());
    }
    return finish(ex, who, gid, dir.fd(), *cname, true, std::nullopt);
}

Result<proto::Qid> make_symlink(Export& ex, const Caller& who, const Node& dir,
                                std::string_view name, std::string_view target, std::uint32_t gid) {
    auto cname = prepare_create(ex, dir, name);
    if (!cname) return std::unexpected(cname.error());
    if (target.empty() || target.find('\0') != std::string_view::npos) return fail(EINVAL);
    if (target.size() > proto::kMaxPathLength) return fail(ENAMETOOLONG);
    CredGuard guard(ex, who, gid);
    if (!guard.ok()) return fail(EPERM);
    if (ex.model() == SecurityModel::kMappedXattr) {
        if (auto s = ex.limits().reserve_file(ex.root_fd()); !s) return std::unexpected(s.error());
        MappedMeta meta{who.uid, gid, S_IFLNK | 0777, std::nullopt};
        auto qid = create_mapped_file(ex, who, gid, dir.fd(), *cname, meta, target);
        if (qid) {
            ex.limits().file_added();
            ex.limits().size_changed(0, target.size());
        }
        return qid;
    }
    std::string ctarget(target);
    if (::symlinkat(ctarget.c_str(), dir.fd(), cname->c_str()) != 0) return fail_errno();
    return finish(ex, who, gid, dir.fd(), *cname, false, std::nullopt);
}

Result<proto::Qid> make_node(Export& ex, const Caller& who, const Node& dir, std::string_view name,
                             std::uint32_t mode, std::uint32_t major_no, std::uint32_t minor_no,
                             std::uint32_t gid) {
    auto cname = prepare_create(ex, dir, name);
    if (!cname) return std::unexpected(cname.error());
    std::uint32_t type = mode & S_IFMT;
    if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO &&
        type != S_IFSOCK) {
        return fail(EINVAL);
    }
    // Under `none` the guest's claims give it no host privilege, and a device
    // node is one: whoever may open it reaches that host device. FIFOs and
    // sockets reach nothing (they are refused at open, as devices are).
    if (ex.model() == SecurityModel::kNone && (type == S_IFCHR || type == S_IFBLK)) {
        return fail(EPERM);
    }
    if (auto s = ex.limits().reserve_file(ex.root_fd()); !s) return std::unexpected(s.error());
    CredGuard guard(ex, who, gid);
    if (!guard.ok()) return fail(EPERM);
    dev_t rdev = makedev(major_no, minor_no);
    Result<proto::Qid> qid;
    if (ex.model() == SecurityModel::kMappedXattr) {
        MappedMeta meta{who.uid, gid, type | (mode & 07777), std::uint64_t{rdev}};
        qid = create_mapped_file(ex, who, gid, dir.fd(), *cname, meta, {});
        if (qid) ex.limits().file_added();
        return qid;
    }
    if (::mknodat(dir.fd(), cname->c_str(), type | (mode & 07777), rdev) != 0) return fail_errno();
    qid = finish(ex, who, gid, dir.fd(), *cname, false, mode);
    if (qid && type == S_IFREG) ex.limits().file_added();
    return qid;
}

Status make_link(Export& ex, const Caller& who, const Node& dir, const Node& target,
                 std::string_view name) {
    auto cname = prepare_create(ex, dir, name);
    if (!cname) return std::unexpected(cname.error());
    if (!target) return fail(EBADF);
    auto st = stat_fd(target.fd(), STATX_TYPE | STATX_SIZE);
    if (!st) return std::unexpected(st.error());
    if (S_ISDIR(st->stx_mode)) return fail(EPERM);
    bool regular = S_ISREG(st->stx_mode);
    if (regular) {
        if (auto s = ex.limits().reserve_file(ex.root_fd()); !s) return s;
        if (auto s = ex.limits().reserve_growth(ex.root_fd(), 0, st->stx_size); !s) return s;
    }
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the magic link does not.
    char src[16];
    std::snprintf(src, sizeof(src), "%d", target.fd());
    if (::linkat(ex.proc_fd(), src, dir.fd(), cname->c_str(), AT_SYMLINK_FOLLOW) != 0) {
        return fail_errno();
    }
    if (regular && ex.limits().tracks_usage()) {
        ex.limits().file_added();
        ex.limits().size_changed(0, st->stx_size);
    }
    return {};
}

Status rename_node(Export& ex, const Caller& who, Node& node, const Node& new_dir,
                   std::string_view name) {
    if (!node || !new_dir) return fail(EBADF);
    if (auto s = check_entry_name(name); !s) return s;
    if (auto s = check_writable(ex); !s) return s;
    if (ex.is_root(node.fd())) return fail(EBUSY);
    if (node.parent_fd() < 0) return fail(ESTALE);
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    std::string old_name(node.name());
    auto here = stat_fd(node.fd(), STATX_INO);
    if (!here) return std::unexpected(here.error());
    struct statx there {};
    if (::statx(node.parent_fd(), old_name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_INO, &there) != 0 ||
        there.stx_ino != here->stx_ino || there.stx_dev_major != here->stx_dev_major ||
        there.stx_dev_minor != here->stx_dev_minor) {
        return fail(ESTALE);
    }
    std::string new_name(name);
    Doomed doomed = doomed_entry(new_dir.fd(), new_name.c_str());
    if (::renameat(node.parent_fd(), old_name.c_str(), new_dir.fd(), new_name.c_str()) != 0) {
        return fail_errno();
    }
    forget(ex, doomed);
    node.moved(new_dir, new_name);
    return {};
}

Status rename_at(Export& ex, const Caller& who, const Node& old_dir, std::string_view old_name,
                 const Node& new_dir, std::string_view new_name) {
    if (!old_dir || !new_dir) return fail(EBADF);
    if (auto s = check_entry_name(old_name); !s) return s;
    if (auto s = check_entry_name(new_name); !s) return s;
    if (auto s = check_writable(ex); !s) return s;
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    std::string from(old_name);
    std::string to(new_name);
    Doomed doomed = doomed_entry(new_dir.fd(), to.c_str());
    if (::renameat(old_dir.fd(), from.c_str(), new_dir.fd(), to.c_str()) != 0) {
        return fail_errno();
    }
    forget(ex, doomed);
    return {};
}

Status unlink_at(Export& ex, const Caller& who, const Node& dir, std::string_view name,
                 std::uint32_t flags) {
    if (!dir) return fail(EBADF);
    if (flags != 0 && flags != proto::kAtRemoveDir) return fail(EINVAL);
    if (auto s = check_entry_name(name); !s) return s;
    if (auto s = check_writable(ex); !s) return s;
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    std::string cname(name);
    Doomed doomed = doomed_entry(dir.fd(), cname.c_str());
    if (::unlinkat(dir.fd(), cname.c_str(), flags ? AT_REMOVEDIR : 0) != 0) return fail_errno();
    forget(ex, doomed);
    return {};
}

Status remove_node(Export& ex, const Caller& who, const Node& node) {
    if (!node) return fail(EBADF);
    if (auto s = check_writable(ex); !s) return s;
    if (ex.is_root(node.fd())) return fail(EBUSY);
    if (node.parent_fd() < 0) return fail(ESTALE);
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    auto here = stat_fd(node.fd(), STATX_INO | STATX_TYPE);
    if (!here) return std::unexpected(here.error());
    std::string name(node.name());
    struct statx there {};
    if (::statx(node.parent_fd(), name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_INO, &there) != 0 ||
        there.stx_ino != here->stx_ino || there.stx_dev_major != here->stx_dev_major ||
        there.stx_dev_minor != here->stx_dev_minor) {
        return fail(ESTALE);
    }
    Doomed doomed = doomed_entry(node.parent_fd(), name.c_str());
    int flags = S_ISDIR(here->stx_mode) ? AT_REMOVEDIR : 0;
    if (::unlinkat(node.parent_fd(), name.c_str(), flags) != 0) return fail_errno();
    forget(ex, doomed);
    return {};
}

Result<std::string> read_link(Export& ex, const Caller& who, const Node& node) {
    if (!node) return fail(EBADF);
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    auto st = stat_fd(node.fd(), STATX_TYPE | STATX_MODE);
    if (!st) return std::unexpected(st.error());
    std::string target(proto::kMaxPathLength + 1, '\0');
    if (S_ISLNK(st->stx_mode)) {
        ssize_t n = ::readlinkat(node.fd(), "", target.data(), target.size());
        if (n < 0) return fail_errno();
        if (static_cast<std::size_t>(n) > proto::kMaxPathLength) return fail(ENAMETOOLONG);
        target.resize(static_cast<std::size_t>(n));
        return target;
    }
    if (ex.model() != SecurityModel::kMappedXattr || !S_ISREG(st->stx_mode)) return fail(EINVAL);
    auto meta = read_meta(ex, node.fd(), st->stx_mode);
    if (!meta) return std::unexpected(meta.error());
    if (!meta->mode || !S_ISLNK(*meta->mode)) return fail(EINVAL);
    auto file = reopen(ex, node.fd(), O_RDONLY | O_NOCTTY);
    if (!file) return std::unexpected(file.error());
    ssize_t n = ::pread(file->get(), target.data(), target.size(), 0);
    if (n < 0) return fail_errno();
    if (static_cast<std::size_t>(n) > proto::kMaxPathLength) return fail(ENAMETOOLONG);
    target.resize(static_cast<std::size_t>(n));
    return target;
}

}  // namespace xen9p::fs
