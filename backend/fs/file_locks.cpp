#include "backend/fs/file_locks.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstdint>

#include "backend/fs/host_file.hpp"
#include "backend/fs/open_file.hpp"
#include "p9proto/constants.hpp"

namespace xen9p::fs {
namespace {

namespace lk = p9proto::lock;

Result<short> host_type(std::uint8_t type) {
    switch (type) {
        case lk::kReadLock:
            return static_cast<short>(F_RDLCK);
        case lk::kWriteLock:
            return static_cast<short>(F_WRLCK);
        case lk::kUnlock:
            return static_cast<short>(F_UNLCK);
        default:
            return fail(EINVAL);
    }
}

// length 0 means "to the end of the file", as in struct flock.
Result<struct flock> host_range(short type, std::uint64_t start, std::uint64_t length) {
    if (start > static_cast<std::uint64_t>(INT64_MAX)) return fail(EINVAL);
    if (length > static_cast<std::uint64_t>(INT64_MAX) - start) return fail(EINVAL);
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(start);
    fl.l_len = static_cast<off_t>(length);
    fl.l_pid = 0;  // required by F_OFD_*
    return fl;
}

}  // namespace

Result<int> FileLocks::owner_fd(const Export& ex, const Caller& who, const OpenFile& file,
                                std::string_view client_id, std::uint32_t proc_id, bool create) {
    // Kept as long as the fid: a 64 KiB id per owner would be 4 MiB per fid.
    if (client_id.size() > kMaxClientIdLength) return fail(EINVAL);
    auto key = std::make_pair(std::string(client_id), proc_id);
    if (auto it = owners_.find(key); it != owners_.end()) return it->second.get();
    if (!create) return -1;
    if (owners_.size() >= kMaxOwners) return fail(ENOLCK);
    // A description of its own per owner: OFD locks conflict between
    // descriptions, never within one. Re-opening checks permissions again:
    // as the caller who opened the file, not as the worker.
    CredGuard guard(ex, who);
    if (!guard.ok()) return fail(EPERM);
    auto fd = reopen(ex, file.fd(), (file.flags() & O_ACCMODE) | O_NONBLOCK | O_NOCTTY);
    if (!fd) return std::unexpected(fd.error());
    int raw = fd->get();
    if (recorder_ != nullptr) {
        auto record = recorder_->record_owner(file.fd(), client_id, proc_id, raw);
        if (!record) return std::unexpected(record.error());
        records_.push_back(*record);
    }
    owners_.emplace(std::move(key), std::move(*fd));
    return raw;
}

FileLocks::FileLocks(FileLocks&& other) noexcept
    : owners_(std::move(other.owners_)),
      recorder_(other.recorder_),
      records_(std::exchange(other.records_, {})) {}

FileLocks& FileLocks::operator=(FileLocks&& other) noexcept {
    if (this != &other) {
        forget_all();
        owners_ = std::move(other.owners_);
        recorder_ = other.recorder_;
        records_ = std::exchange(other.records_, {});
    }
    return *this;
}

FileLocks::~FileLocks() {
    forget_all();
}

void FileLocks::forget_all() {
    // Before the owners' descriptors close: a record never names a closed one.
    for (const auto record : std::exchange(records_, {}))
        recorder_->forget_owner(record);
}

Status FileLocks::adopt(std::string client_id, std::uint32_t proc_id, UniqueFd fd,
                        LockOwnerRecorder& recorder, std::uint32_t record) {
    if (client_id.size() > kMaxClientIdLength || owners_.size() >= kMaxOwners) return fail(EUCLEAN);
    if (!owners_.emplace(std::make_pair(std::move(client_id), proc_id), std::move(fd)).second)
        return fail(EUCLEAN);
    recorder_ = &recorder;
    records_.push_back(record);
    return {};
}

Result<std::uint8_t> FileLocks::lock(const Export& ex, const Caller& who, const OpenFile& file,
                                     const p9proto::Tlock& req) {
    if (!file) return fail(EBADF);
    auto type = host_type(req.type);
    if (!type) return std::unexpected(type.error());
    auto fl = host_range(*type, req.start, req.length);
    if (!fl) return std::unexpected(fl.error());
    bool unlock = *type == F_UNLCK;
    auto fd = owner_fd(ex, who, file, req.client_id.str, req.proc_id, !unlock);
    if (!fd) return std::unexpected(fd.error());
    if (*fd < 0) return lk::kStatusSuccess;  // unlocking what this owner never locked
    if (::fcntl(*fd, F_OFD_SETLK, &*fl) != 0) {
        if (errno == EAGAIN || errno == EACCES) return lk::kStatusBlocked;
        return fail_errno();
    }
    return lk::kStatusSuccess;
}

Result<p9proto::Rgetlock> FileLocks::getlock(const Export& ex, const Caller& who,
                                             const OpenFile& file, const p9proto::Tgetlock& req) {
    if (!file) return fail(EBADF);
    auto type = host_type(req.type);
    if (!type) return std::unexpected(type.error());
    // The Linux client always asks with UNLCK (its local posix_test_lock has
    // overwritten the type it was given): test as a write lock, which every lock
    // of another owner on the range conflicts with.
    if (*type == F_UNLCK) *type = F_WRLCK;
    auto fl = host_range(*type, req.start, req.length);
    if (!fl) return std::unexpected(fl.error());
    auto fd = owner_fd(ex, who, file, req.client_id.str, req.proc_id, true);
    if (!fd) return std::unexpected(fd.error());
    if (::fcntl(*fd, F_OFD_GETLK, &*fl) != 0) return fail_errno();
    p9proto::Rgetlock r;
    r.client_id = req.client_id;
    if (fl->l_type == F_UNLCK) {
        r.type = lk::kUnlock;
        r.start = req.start;
        r.length = req.length;
        r.proc_id = req.proc_id;
        return r;
    }
    r.type = fl->l_type == F_RDLCK ? lk::kReadLock : lk::kWriteLock;
    r.start = static_cast<std::uint64_t>(fl->l_start);
    r.length = static_cast<std::uint64_t>(fl->l_len);
    r.proc_id = 0;
    return r;
}

}  // namespace xen9p::fs
