#include "backend/fs/attr.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "backend/fs/host_file.hpp"
#include "backend/fs/mapped_meta.hpp"

namespace xen9p::fs {
namespace {

namespace ga = p9proto::getattr;
namespace sa = p9proto::setattr;

// Applies mapped-xattr metadata over the host's view.
Status overlay_meta(Export& ex, int fd, struct statx& st) {
    if (ex.model() != SecurityModel::kMappedXattr) return {};
    auto meta = read_meta(ex, fd, st.stx_mode);
    if (!meta) return std::unexpected(meta.error());
    if (meta->uid) st.stx_uid = *meta->uid;
    if (meta->gid) st.stx_gid = *meta->gid;
    if (meta->mode) st.stx_mode = static_cast<std::uint16_t>(*meta->mode);
    if (meta->rdev) {
        st.stx_rdev_major = major(*meta->rdev);
        st.stx_rdev_minor = minor(*meta->rdev);
    }
    return {};
}

struct timespec to_timespec(std::uint64_t sec, std::uint64_t nsec, bool set, bool given) {
    if (!given) return {0, UTIME_OMIT};
    if (!set) return {0, UTIME_NOW};
    return {static_cast<time_t>(sec), static_cast<long>(nsec)};
}

// Room for a file to grow to `size` bytes: file systems without holes allocate
// what ftruncate adds.
Status make_room_to_grow(Export& ex, const Node& node, std::uint64_t size) {
    if (!ex.limits().tracks_usage()) return {};
    auto st = stat_fd(node.fd(), STATX_TYPE | STATX_SIZE);
    if (!st || !S_ISREG(st->stx_mode) || size <= st->stx_size) return {};
    return ex.limits().make_room(ex.root_fd(), 0,
                                 allocation_bound(st->stx_blksize, st->stx_size, size));
}

Status set_size(Export& ex, const Node& node, const OpenFile* open, std::uint64_t size) {
    if (size > static_cast<std::uint64_t>(INT64_MAX)) return fail(EFBIG);
    auto st = stat_fd(node.fd(), STATX_TYPE | STATX_SIZE);
    if (!st) return std::unexpected(st.error());
    if (S_ISDIR(st->stx_mode)) return fail(EISDIR);
    if (!S_ISREG(st->stx_mode)) return fail(EINVAL);
    int rc;
    if (open && (open->flags() & O_ACCMODE) != O_RDONLY) {
        rc = ::ftruncate(open->fd(), static_cast<off_t>(size));
    } else {
        auto file = reopen(ex, node.fd(), O_WRONLY | O_NONBLOCK | O_NOCTTY);
        if (!file) return std::unexpected(file.error());
        rc = ::ftruncate(file->get(), static_cast<off_t>(size));
    }
    if (rc != 0) return fail_errno();
    return {};
}

Status set_owner(Export& ex, const Node& node, const p9proto::Tsetattr& req) {
    uid_t uid = (req.valid & sa::kUid) ? req.uid : static_cast<uid_t>(-1);
    gid_t gid = (req.valid & sa::kGid) ? req.gid : static_cast<gid_t>(-1);
    if (ex.model() == SecurityModel::kMappedXattr) {
        MappedMeta meta;
        if (req.valid & sa::kUid) meta.uid = req.uid;
        if (req.valid & sa::kGid) meta.gid = req.gid;
        return write_meta_path(ex, node.fd(), meta);
    }
    if (::fchownat(node.fd(), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
        // Under `none` the server owns everything; QEMU ignores failed chowns.
        if (ex.model() == SecurityModel::kNone && (errno == EPERM || errno == EINVAL)) return {};
        return fail_errno();
    }
    return {};
}

Status set_mode(Export& ex, const Node& node, std::uint32_t mode) {
    auto st = stat_fd(node.fd(), STATX_TYPE | STATX_MODE);
    if (!st) return std::unexpected(st.error());
    if (ex.model() == SecurityModel::kMappedXattr) {
        auto meta = read_meta(ex, node.fd(), st->stx_mode);
        if (!meta) return std::unexpected(meta.error());
        std::uint32_t type = meta->mode ? (*meta->mode & S_IFMT) : (st->stx_mode & S_IFMT);
        MappedMeta update;
        update.mode = type | (mode & 07777);
        return write_meta_path(ex, node.fd(), update);
    }
    if (S_ISLNK(st->stx_mode)) return fail(EOPNOTSUPP);
    // chmod through the /proc magic link: fchmod refuses O_PATH fds.
    char name[16];
    std::snprintf(name, sizeof(name), "%d", node.fd());
    if (::fchmodat(ex.proc_fd(), name, mode & 07777, 0) != 0) return fail_errno();
    return {};
}

Status set_times(Export& ex, const Node& node, const p9proto::Tsetattr& req) {
    struct timespec times[2] = {
        to_timespec(req.atime_sec, req.atime_nsec, req.valid & sa::kAtimeSet,
                    req.valid & sa::kAtime),
        to_timespec(req.mtime_sec, req.mtime_nsec, req.valid & sa::kMtimeSet,
                    req.valid & sa::kMtime),
    };
    if (times[0].tv_nsec != UTIME_OMIT && times[0].tv_nsec != UTIME_NOW &&
        static_cast<std::uint64_t>(times[0].tv_nsec) >= 1000000000u) {
        return fail(EINVAL);
    }
    if (times[1].tv_nsec != UTIME_OMIT && times[1].tv_nsec != UTIME_NOW &&
        static_cast<std::uint64_t>(times[1].tv_nsec) >= 1000000000u) {
        return fail(EINVAL);
    }
    if (::utimensat(node.fd(), "", times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0) return {};
    if (errno != EINVAL && errno != EBADF) return fail_errno();
    // Kernels without AT_EMPTY_PATH for utimensat: the /proc magic link.
    char name[16];
    std::snprintf(name, sizeof(name), "%d", node.fd());
    if (::utimensat(ex.proc_fd(), name, times, 0) != 0) return fail_errno();
    return {};
}

}  // namespace

Result<p9proto::Qid> qid_of(Export& ex, const Node& node) {
    auto st = stat_fd(node.fd());
    if (!st) return std::unexpected(st.error());
    if (auto s = overlay_meta(ex, node.fd(), *st); !s) return std::unexpected(s.error());
    return ex.qids().qid(*st);
}

Result<p9proto::Rgetattr> getattr(Export& ex, const Node& node, std::uint64_t request_mask) {
    (void)request_mask;  // statx fills everything in one call; report it all
    auto st = stat_fd(node.fd());
    if (!st) return std::unexpected(st.error());
    if (auto s = overlay_meta(ex, node.fd(), *st); !s) return std::unexpected(s.error());
    auto qid = ex.qids().qid(*st);
    if (!qid) return std::unexpected(qid.error());

    p9proto::Rgetattr r;
    r.qid = *qid;
    r.mode = st->stx_mode;
    r.uid = st->stx_uid;
    r.gid = st->stx_gid;
    r.nlink = st->stx_nlink;
    r.rdev = makedev(st->stx_rdev_major, st->stx_rdev_minor);
    r.size = st->stx_size;
    r.blksize = st->stx_blksize;
    r.blocks = st->stx_blocks;
    r.atime_sec = static_cast<std::uint64_t>(st->stx_atime.tv_sec);
    r.atime_nsec = st->stx_atime.tv_nsec;
    r.mtime_sec = static_cast<std::uint64_t>(st->stx_mtime.tv_sec);
    r.mtime_nsec = st->stx_mtime.tv_nsec;
    r.ctime_sec = static_cast<std::uint64_t>(st->stx_ctime.tv_sec);
    r.ctime_nsec = st->stx_ctime.tv_nsec;
    r.valid = ga::kBasic;
    if (st->stx_mask & STATX_BTIME) {
        r.btime_sec = static_cast<std::uint64_t>(st->stx_btime.tv_sec);
        r.btime_nsec = st->stx_btime.tv_nsec;
        r.valid |= ga::kBtime;
    }
    return r;
}

Status setattr(Export& ex, const Caller& who, const Node& node, const OpenFile* open,
               const p9proto::Tsetattr& req) {
    if (!node) return fail(EBADF);
    constexpr std::uint32_t kKnown = sa::kMode | sa::kUid | sa::kGid | sa::kSize | sa::kAtime |
                                     sa::kMtime | sa::kCtime | sa::kAtimeSet | sa::kMtimeSet;
    if (req.valid & ~kKnown) return fail(EINVAL);
    if (req.valid == 0) return {};
    if (auto s = check_writable(ex); !s) return s;
    if (req.valid & sa::kSize) {
        if (auto s = make_room_to_grow(ex, node, req.size); !s) return s;
    }
    // A size change, and mapped-xattr metadata (it may take an xattr block).
    UsageProbe probe(ex.limits(), node.fd());
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    // Order as the kernel's notify_change: mode, owner, size, times.
    if (req.valid & sa::kMode) {
        if (auto s = set_mode(ex, node, req.mode); !s) return s;
    }
    if (req.valid & (sa::kUid | sa::kGid)) {
        if (auto s = set_owner(ex, node, req); !s) return s;
    }
    if (req.valid & sa::kSize) {
        if (auto s = set_size(ex, node, open, req.size); !s) return s;
    }
    if (req.valid & (sa::kAtime | sa::kMtime)) {
        if (auto s = set_times(ex, node, req); !s) return s;
    } else if ((req.valid & sa::kCtime) && !(req.valid & (sa::kMode | sa::kUid | sa::kGid))) {
        // A bare ctime update: a no-op chown moves ctime to now as the client wants.
        if (ex.model() != SecurityModel::kMappedXattr &&
            ::fchownat(node.fd(), "", static_cast<uid_t>(-1), static_cast<gid_t>(-1),
                       AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
            return fail_errno();
        }
    }
    return {};
}

Result<p9proto::Rstatfs> statfs(const Node& node) {
    struct statfs sfs {};
    if (::fstatfs(node.fd(), &sfs) != 0) return fail_errno();
    p9proto::Rstatfs r;
    r.type = static_cast<std::uint32_t>(sfs.f_type);
    r.bsize = static_cast<std::uint32_t>(sfs.f_bsize);
    r.blocks = sfs.f_blocks;
    r.bfree = sfs.f_bfree;
    r.bavail = sfs.f_bavail;
    r.files = sfs.f_files;
    r.ffree = sfs.f_ffree;
    std::uint64_t fsid = 0;
    static_assert(sizeof(sfs.f_fsid) == sizeof(fsid));
    std::memcpy(&fsid, &sfs.f_fsid, sizeof(fsid));
    r.fsid = fsid;
    r.namelen = static_cast<std::uint32_t>(sfs.f_namelen);
    return r;
}

}  // namespace xen9p::fs
