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
Result<p9proto::Qid> finish(Export& ex, const Caller& who, gid_t gid, int dir_fd,
                            const std::string& name, bool is_dir,
                            std::optional<std::uint32_t> mode) {
    auto undo = [&](Errno err) -> Result<p9proto::Qid> {
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
Result<p9proto::Qid> create_mapped_file(Export& ex, const Caller& who, gid_t gid, int dir_fd,
                                        const std::string& name, const MappedMeta& meta,
                                        std::string_view content) {
    int raw = ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       kMappedFileMode);
    if (raw < 0) return fail_errno();
    UniqueFd fd(raw);
    auto undo = [&](Errno err) -> Result<p9proto::Qid> {
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

// Room for a new entry in `dir` whose inode holds `content` bytes, a block more
// for a directory (its first) and for mapped-xattr metadata (an xattr block).
Status make_room_for_entry(Export& ex, const Node& dir, std::uint64_t content,
                           bool directory = false) {
    if (!ex.limits().tracks_usage()) return {};
    auto st = stat_fd(dir.fd(), STATX_TYPE);
    if (!st) return std::unexpected(st.error());
    if (directory) content += st->stx_blksize;
    if (ex.model() == SecurityModel::kMappedXattr) content += st->stx_blksize;
    return ex.limits().make_room(ex.root_fd(), 1, entry_bound(st->stx_blksize, content));
}

// The entry `name` in `dir_fd` as it is before an unlink.
std::optional<InodeUsage> doomed_entry(Export& ex, int dir_fd, const std::string& name) {
    if (!ex.limits().tracks_usage()) return std::nullopt;
    return measure_at(dir_fd, name.c_str());
}

// Counts the inode just created as `name` in `dir_fd`.
void count_new_entry(Export& ex, int dir_fd, const std::string& name) {
    if (!ex.limits().tracks_usage()) return;
    if (auto now = measure_at(dir_fd, name.c_str())) ex.limits().inode_added(*now);
}

// The entry a rename replaces: none, or the renamed inode itself under another
// name (then rename does nothing). Without one, room for the new name.
Result<std::optional<InodeUsage>> prepare_rename(Export& ex, int from_dir, const std::string& from,
                                                 int to_dir, const std::string& to) {
    if (!ex.limits().tracks_usage()) return std::nullopt;
    auto target = measure_at(to_dir, to.c_str());
    if (target) {
        auto source = measure_at(from_dir, from.c_str());
        if (source && source->id == target->id) return std::nullopt;
        return target;
    }
    auto st = stat_fd(to_dir, STATX_TYPE);
    if (!st) return std::unexpected(st.error());
    if (auto s = ex.limits().make_room(ex.root_fd(), 0, entry_bound(st->stx_blksize, 0)); !s) {
        return std::unexpected(s.error());
    }
    return std::nullopt;
}

// Probes the directories a rename changes (one when they are the same).
struct RenameProbes {
    RenameProbes(Export& ex, int from_dir, int to_dir)
        : from(ex.limits(), from_dir),
          to(ex.limits(),
             ex.limits().tracks_usage() && same_inode(from_dir, to_dir) ? -1 : to_dir) {}
    static bool same_inode(int a, int b) {
        auto x = measure(a);
        auto y = measure(b);
        return x && y && x->id == y->id;
    }
    UsageProbe from;
    UsageProbe to;
};

}  // namespace

Result<p9proto::Qid> make_dir(Export& ex, const Caller& who, const Node& dir, std::string_view name,
                              std::uint32_t mode, std::uint32_t gid) {
    auto cname = prepare_create(ex, dir, name);
    if (!cname) return std::unexpected(cname.error());
    if (auto s = make_room_for_entry(ex, dir, 0, true); !s) return std::unexpected(s.error());
    UsageProbe parent(ex.limits(), dir.fd());
    CredGuard guard(ex, who, gid);
    if (!guard.ok()) return fail(EPERM);
    bool mapped = ex.model() == SecurityModel::kMappedXattr;
    if (::mkdirat(dir.fd(), cname->c_str(), mapped ? kMappedDirMode : (mode & 07777)) != 0) {
        return fail_errno();
    }
    if (!mapped) {
        auto qid = finish(ex, who, gid, dir.fd(), *cname, true, mode);
        if (qid) count_new_entry(ex, dir.fd(), *cname);
        return qid;
    }
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
    auto qid = finish(ex, who, gid, dir.fd(), *cname, true, std::nullopt);
    if (qid) count_new_entry(ex, dir.fd(), *cname);
    return qid;
}

Result<p9proto::Qid> make_symlink(Export& ex, const Caller& who, const Node& dir,
                                  std::string_view name, std::string_view target,
                                  std::uint32_t gid) {
    auto cname = prepare_create(ex, dir, name);
    if (!cname) return std::unexpected(cname.error());
    if (target.empty() || target.find('\0') != std::string_view::npos) return fail(EINVAL);
    if (target.size() > p9proto::kMaxPathLength) return fail(ENAMETOOLONG);
    if (auto s = make_room_for_entry(ex, dir, target.size() + 1); !s) {
        return std::unexpected(s.error());
    }
    UsageProbe parent(ex.limits(), dir.fd());
    CredGuard guard(ex, who, gid);
    if (!guard.ok()) return fail(EPERM);
    Result<p9proto::Qid> qid;
    if (ex.model() == SecurityModel::kMappedXattr) {
        MappedMeta meta{who.uid, gid, S_IFLNK | 0777, std::nullopt};
        qid = create_mapped_file(ex, who, gid, dir.fd(), *cname, meta, target);
    } else {
        std::string ctarget(target);
        if (::symlinkat(ctarget.c_str(), dir.fd(), cname->c_str()) != 0) return fail_errno();
        qid = finish(ex, who, gid, dir.fd(), *cname, false, std::nullopt);
    }
    if (qid) count_new_entry(ex, dir.fd(), *cname);
    return qid;
}

Result<p9proto::Qid> make_node(Export& ex, const Caller& who, const Node& dir,
                               std::string_view name, std::uint32_t mode, std::uint32_t major_no,
                               std::uint32_t minor_no, std::uint32_t gid) {
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
    if (auto s = make_room_for_entry(ex, dir, 0); !s) return std::unexpected(s.error());
    UsageProbe parent(ex.limits(), dir.fd());
    CredGuard guard(ex, who, gid);
    if (!guard.ok()) return fail(EPERM);
    dev_t rdev = makedev(major_no, minor_no);
    Result<p9proto::Qid> qid;
    if (ex.model() == SecurityModel::kMappedXattr) {
        MappedMeta meta{who.uid, gid, type | (mode & 07777), std::uint64_t{rdev}};
        qid = create_mapped_file(ex, who, gid, dir.fd(), *cname, meta, {});
    } else {
        if (::mknodat(dir.fd(), cname->c_str(), type | (mode & 07777), rdev) != 0) {
            return fail_errno();
        }
        qid = finish(ex, who, gid, dir.fd(), *cname, false, mode);
    }
    if (qid) count_new_entry(ex, dir.fd(), *cname);
    return qid;
}

Status make_link(Export& ex, const Caller& who, const Node& dir, const Node& target,
                 std::string_view name) {
    auto cname = prepare_create(ex, dir, name);
    if (!cname) return std::unexpected(cname.error());
    if (!target) return fail(EBADF);
    auto st = stat_fd(target.fd());
    if (!st) return std::unexpected(st.error());
    if (S_ISDIR(st->stx_mode)) return fail(EPERM);
    // A name, not an inode: only the directory may grow.
    if (auto s = ex.limits().make_room(ex.root_fd(), 0, entry_bound(st->stx_blksize, 0)); !s) {
        return s;
    }
    UsageProbe parent(ex.limits(), dir.fd());
    InodeUsage before = inode_usage(*st);
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the magic link does not.
    char src[16];
    std::snprintf(src, sizeof(src), "%d", target.fd());
    if (::linkat(ex.proc_fd(), src, dir.fd(), cname->c_str(), AT_SYMLINK_FOLLOW) != 0) {
        return fail_errno();
    }
    ex.limits().name_added(before);
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
    auto replaced = prepare_rename(ex, node.parent_fd(), old_name, new_dir.fd(), new_name);
    if (!replaced) return std::unexpected(replaced.error());
    RenameProbes probes(ex, node.parent_fd(), new_dir.fd());
    if (::renameat(node.parent_fd(), old_name.c_str(), new_dir.fd(), new_name.c_str()) != 0) {
        return fail_errno();
    }
    if (*replaced) ex.limits().name_removed(**replaced);
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
    auto replaced = prepare_rename(ex, old_dir.fd(), from, new_dir.fd(), to);
    if (!replaced) return std::unexpected(replaced.error());
    RenameProbes probes(ex, old_dir.fd(), new_dir.fd());
    if (::renameat(old_dir.fd(), from.c_str(), new_dir.fd(), to.c_str()) != 0) {
        return fail_errno();
    }
    if (*replaced) ex.limits().name_removed(**replaced);
    return {};
}

Status unlink_at(Export& ex, const Caller& who, const Node& dir, std::string_view name,
                 std::uint32_t flags) {
    if (!dir) return fail(EBADF);
    if (flags != 0 && flags != p9proto::kAtRemoveDir) return fail(EINVAL);
    if (auto s = check_entry_name(name); !s) return s;
    if (auto s = check_writable(ex); !s) return s;
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    std::string cname(name);
    auto doomed = doomed_entry(ex, dir.fd(), cname);
    UsageProbe parent(ex.limits(), dir.fd());
    if (::unlinkat(dir.fd(), cname.c_str(), flags ? AT_REMOVEDIR : 0) != 0) return fail_errno();
    if (doomed) ex.limits().name_removed(*doomed);
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
    auto doomed = doomed_entry(ex, node.parent_fd(), name);
    UsageProbe parent(ex.limits(), node.parent_fd());
    int flags = S_ISDIR(here->stx_mode) ? AT_REMOVEDIR : 0;
    if (::unlinkat(node.parent_fd(), name.c_str(), flags) != 0) return fail_errno();
    if (doomed) ex.limits().name_removed(*doomed);
    return {};
}

Result<std::string> read_link(Export& ex, const Caller& who, const Node& node) {
    if (!node) return fail(EBADF);
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    auto st = stat_fd(node.fd(), STATX_TYPE | STATX_MODE);
    if (!st) return std::unexpected(st.error());
    std::string target(p9proto::kMaxPathLength + 1, '\0');
    if (S_ISLNK(st->stx_mode)) {
        ssize_t n = ::readlinkat(node.fd(), "", target.data(), target.size());
        if (n < 0) return fail_errno();
        if (static_cast<std::size_t>(n) > p9proto::kMaxPathLength) return fail(ENAMETOOLONG);
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
    if (static_cast<std::size_t>(n) > p9proto::kMaxPathLength) return fail(ENAMETOOLONG);
    target.resize(static_cast<std::size_t>(n));
    return target;
}

}  // namespace xen9p::fs
