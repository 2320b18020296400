// POSIX record locks of one open fid on host OFD locks. Each lock owner (the
// Tlock's client_id and proc_id) gets its own open file description, so two guest
// processes sharing one fid still conflict. Never blocks: a conflict answers
// "blocked" and the client retries. `who` is the fid's caller: an owner's
// description is opened as it (under passthrough the worker itself may not
// open the guest's files).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/fs/caller.hpp"
#include "base/errno.hpp"
#include "base/unique_fd.hpp"
#include "p9proto/messages.hpp"

namespace xen9p::fs {

class Export;
class OpenFile;

// Where a lock owner's description is written down while it exists, so that
// a server replacing a dead one keeps the owner (and the locks on it).
class LockOwnerRecorder {
  public:
    // The record's number; an error refuses the owner.
    virtual Result<std::uint32_t> record_owner(int file_fd, std::string_view client_id,
                                               std::uint32_t proc_id, int owner_fd) = 0;
    // Before the owner's descriptor closes.
    virtual void forget_owner(std::uint32_t record) = 0;

  protected:
    ~LockOwnerRecorder() = default;
};

class FileLocks {
  public:
    // Lock owners per open fid; beyond this ENOLCK.
    static constexpr std::size_t kMaxOwners = 64;
    // Longest client_id kept with an owner; longer is EINVAL. It names the
    // client's host: Linux sends its nodename (at most 64 bytes), and 255 is
    // POSIX's largest host name.
    static constexpr std::size_t kMaxClientIdLength = 255;

    FileLocks() = default;
    FileLocks(FileLocks&& other) noexcept;
    FileLocks& operator=(FileLocks&& other) noexcept;
    FileLocks(const FileLocks&) = delete;
    FileLocks& operator=(const FileLocks&) = delete;
    ~FileLocks();

    // Owners made from here on are written down with `recorder` (which must
    // outlive this), and forgotten there before their descriptors close.
    void record_with(LockOwnerRecorder* recorder) { recorder_ = recorder; }
    // An owner a dead server made, from its record `record` of `recorder`.
    Status adopt(std::string client_id, std::uint32_t proc_id, UniqueFd fd,
                 LockOwnerRecorder& recorder, std::uint32_t record);
    std::size_t owners() const { return owners_.size(); }

    // Tlock: p9proto::lock::kStatusSuccess or kStatusBlocked (any conflict, with or
    // without the BLOCK flag); errors as values (EINVAL for a bad type or range
    // or a client_id past kMaxClientIdLength, EBADF for a lock the open mode
    // forbids, ENOLCK past kMaxOwners).
    Result<std::uint8_t> lock(const Export& ex, const Caller& who, const OpenFile& file,
                              const p9proto::Tlock& req);

    // Tgetlock: the first conflicting lock, or type kUnlock when there is none.
    // A request of type kUnlock (what the Linux client sends whatever F_GETLK
    // asked for) is tested as a write lock: any lock of another owner on the
    // range is reported. OFD locks do not name their owner: a conflict reports
    // proc_id 0. The reply's client_id views the request's.
    Result<p9proto::Rgetlock> getlock(const Export& ex, const Caller& who, const OpenFile& file,
                                      const p9proto::Tgetlock& req);

  private:
    Result<int> owner_fd(const Export& ex, const Caller& who, const OpenFile& file,
                         std::string_view client_id, std::uint32_t proc_id, bool create);

    void forget_all();

    std::map<std::pair<std::string, std::uint32_t>, UniqueFd> owners_;
    LockOwnerRecorder* recorder_ = nullptr;
    std::vector<std::uint32_t> records_;
};

}  // namespace xen9p::fs
