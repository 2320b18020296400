#include "backend/fs/open_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "backend/fs/attr.hpp"
#include "backend/fs/host_file.hpp"
#include "backend/fs/mapped_meta.hpp"
#include "backend/fs/walk.hpp"
#include "p9proto/open_flags.hpp"

namespace xen9p::fs {
namespace {

// Host flags for a guest's open: never create, never follow, O_DIRECT only
// where allowed.
int guest_flags(const Export& ex, std::uint32_t dotl_flags) {
    int flags = p9proto::host_open_flags(dotl_flags);
    flags &= ~(O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_PATH);
    if (!ex.config().allow_direct_io) flags &= ~O_DIRECT;
    return flags | O_NOCTTY;
}

// What a write of bytes [start, end) may allocate: nothing when it overwrites
// allocated data; otherwise its range, from EOF when it starts past EOF (a file
// system without holes fills the gap).
std::uint64_t write_bound(int fd, const struct statx& st, std::uint64_t start, std::uint64_t end) {
    if (end <= st.stx_size) {
        // The descriptor's offset is not used: I/O goes to explicit offsets.
        off_t hole = ::lseek(fd, static_cast<off_t>(start), SEEK_HOLE);
        if (hole >= 0 && static_cast<std::uint64_t>(hole) >= end) return 0;
    }
    return allocation_bound(st.stx_blksize, std::min<std::uint64_t>(start, st.stx_size), end);
}

// Room for a new file in `dir` (a mapped file's metadata may take an xattr block).
Status make_room_for_file(Export& ex, const Node& dir) {
    if (!ex.limits().tracks_usage()) return {};
    auto st = stat_fd(dir.fd(), STATX_TYPE);
    if (!st) return std::unexpected(st.error());
    std::uint64_t content = ex.model() == SecurityModel::kMappedXattr ? st->stx_blksize : 0;
    return ex.limits().make_room(ex.root_fd(), 1, entry_bound(st->stx_blksize, content));
}

bool writes(int flags) {
    return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

}  // namespace

OpenFile::OpenFile(OpenFile&& other) noexcept
    : fd_(std::move(other.fd_)),
      flags_(other.flags_),
      id_(other.id_),
      limits_(std::exchange(other.limits_, nullptr)),
      locks_(std::move(other.locks_)),
      dir_position_(std::exchange(other.dir_position_, std::nullopt)) {}

OpenFile& OpenFile::operator=(OpenFile&& other) noexcept {
    if (this != &other) {
        release();
        fd_ = std::move(other.fd_);
        flags_ = other.flags_;
        id_ = other.id_;
        limits_ = std::exchange(other.limits_, nullptr);
        locks_ = std::move(other.locks_);
        dir_position_ = std::exchange(other.dir_position_, std::nullopt);
    }
    return *this;
}

OpenFile::~OpenFile() {
    release();
}

void OpenFile::release() {
    if (limits_ && fd_) limits_->closed(id_, fd_.get());
    limits_ = nullptr;
    locks_ = FileLocks();
    fd_.reset();
}

Result<Opened> open_node(Export& ex, const Caller& who, const Node& node,
                         std::uint32_t dotl_flags) {
    if (!node) return fail(EBADF);
    auto st = stat_fd(node.fd());
    if (!st) return std::unexpected(st.error());
    if (S_ISLNK(st->stx_mode)) return fail(ELOOP);
    // Opening a device, FIFO or socket found in the share would reach host
    // objects outside it (CVE-2023-2861).
    if (is_special(st->stx_mode)) return fail(ENXIO);
    int flags = guest_flags(ex, dotl_flags);
    if (writes(flags) && ex.read_only()) return fail(EROFS);
    if (S_ISDIR(st->stx_mode) && writes(flags)) return fail(EISDIR);

    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    if (ex.limits().at_open_limit()) return fail(EMFILE);
    auto fd = reopen(ex, node.fd(), flags);
    if (!fd) return std::unexpected(fd.error());
    InodeUsage before = inode_usage(*st);
    if (auto s = ex.limits().opened(before); !s) return std::unexpected(s.error());
    OpenFile file(std::move(*fd), flags, before.id, &ex.limits());
    if (flags & O_TRUNC) {
        if (auto now = measure(file.fd())) ex.limits().remeasured(before, *now);
    }
    auto qid = qid_of(ex, node);
    if (!qid) return std::unexpected(qid.error());
    return Opened{std::move(file), *qid};
}

Result<OpenFile> adopt_open_file(Export& ex, UniqueFd fd) {
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || (flags & O_PATH) != 0) return fail(EUCLEAN);
    auto st = stat_fd(fd.get());
    if (!st || !(S_ISREG(st->stx_mode) || S_ISDIR(st->stx_mode))) return fail(EUCLEAN);
    InodeUsage now = inode_usage(*st);
    if (auto s = ex.limits().opened(now); !s) return std::unexpected(s.error());
    return OpenFile(std::move(fd), flags & ~O_LARGEFILE, now.id, &ex.limits());
}

Result<Created> create_file(Export& ex, const Caller& who, const Node& dir, std::string_view name,
                            std::uint32_t dotl_flags, std::uint32_t mode, std::uint32_t gid) {
    if (!dir) return fail(EBADF);
    if (auto s = check_entry_name(name); !s) return std::unexpected(s.error());
    if (auto s = check_writable(ex); !s) return std::unexpected(s.error());
    // Refuse before creating: a created file whose open fails would linger.
    if (ex.limits().at_open_limit()) return fail(EMFILE);
    if (auto s = make_room_for_file(ex, dir); !s) return std::unexpected(s.error());
    UsageProbe parent(ex.limits(), dir.fd());
    int flags = (guest_flags(ex, dotl_flags) & ~O_TRUNC) | O_CREAT | O_EXCL | O_NOFOLLOW;
    bool mapped = ex.model() == SecurityModel::kMappedXattr;
    mode_t host_mode = mapped ? kMappedFileMode : (mode & 07777);

    CredGuard guard(ex, who, gid);
    if (!guard.ok()) return fail(EPERM);
    std::string cname(name);
    int raw = ::openat(dir.fd(), cname.c_str(), flags | O_CLOEXEC, host_mode);
    if (raw < 0) return fail_errno();
    UniqueFd fd(raw);
    auto undo = [&](Errno err) -> Result<Created> {
        ::unlinkat(dir.fd(), cname.c_str(), 0);
        return std::unexpected(err);
    };
    if (mapped) {
        MappedMeta meta{who.uid, gid, S_IFREG | (mode & 07777), std::nullopt};
        if (auto s = write_meta(fd.get(), meta); !s) return undo(s.error());
    } else {
        // The owner first: a chown may clear setuid/setgid.
        if (auto s = adopt_owner(ex, fd.get(), who, gid); !s) return undo(s.error());
        // The process umask must not narrow what the guest asked for.
        if (::fchmod(fd.get(), host_mode) != 0) return undo(Errno{errno});
    }
    auto path = reopen(ex, fd.get(), O_PATH);
    if (!path) return undo(path.error());
    auto now = measure(fd.get());
    if (!now) return undo(Errno{ESTALE});
    ex.limits().inode_added(*now);
    Node node(std::move(*path), &ex.limits(), dir.shared_fd(), std::move(cname));
    if (auto s = ex.limits().opened(*now); !s) return std::unexpected(s.error());
    OpenFile file(std::move(fd), flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW), now->id, &ex.limits());
    auto qid = qid_of(ex, node);
    if (!qid) return std::unexpected(qid.error());
    return Created{std::move(node), std::move(file), *qid};
}

Status fsync_file(const OpenFile& file, bool datasync) {
    if (!file) return fail(EBADF);
    int rc = datasync ? ::fdatasync(file.fd()) : ::fsync(file.fd());
    if (rc != 0) return fail_errno();
    return {};
}

Status prepare_write(Export& ex, const OpenFile& file, std::uint64_t offset, std::uint64_t length) {
    if (!file) return fail(EBADF);
    if ((file.flags() & O_ACCMODE) == O_RDONLY) return fail(EBADF);
    if (!ex.limits().tracks_usage() || length == 0) return {};
    auto st = stat_fd(file.fd(), STATX_SIZE);
    if (!st) return std::unexpected(st.error());
    std::uint64_t start = (file.flags() & O_APPEND) ? st->stx_size : offset;
    if (start > UINT64_MAX - length) return fail(EFBIG);
    std::uint64_t bound = write_bound(file.fd(), *st, start, start + length);
    return ex.limits().reserve_write(ex.root_fd(), file.id(), bound);
}

void finish_write(Export& ex, const OpenFile& file) {
    if (file) ex.limits().write_done(file.id(), file.fd());
}

}  // namespace xen9p::fs
