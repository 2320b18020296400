// What one session leaves behind for the server that replaces it when the
// serving process dies: the agreed version, every fid (the numbers of its
// descriptors, which outlive the process in the descriptor table it shares
// with the device keeper), the lock owners of open files, the qid map's
// tables, and where each route stood the last time nothing was in flight.
//
// The records live in shared memory (a memfd the keeper maps before the
// first server starts) and are written so that a process killed at any
// instruction leaves them readable: a record's fields are written before its
// state word says it is valid (release), and an fid is rewritten into a
// fresh slot with a higher sequence number before its old slot is freed, so
// a reader takes the newest valid record of each fid. A record is freed
// before the descriptors it names are closed, so a valid record never names
// a number the process has reused.
//
// The process that wrote the records may have been compromised: load()
// checks every field and gives the replacement only what it could have held
// itself (numbers of descriptors in a table it shares anyway).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backend/fs/caller.hpp"
#include "backend/fs/file_locks.hpp"
#include "backend/fs/qid_map.hpp"
#include "backend/server/transport.hpp"
#include "base/errno.hpp"
#include "p9proto/version.hpp"

namespace xen9p::server {

// One fid as a replacement rebuilds it. Descriptor numbers are -1 when absent.
struct StoredFid {
    std::uint32_t fid = 0;
    int node_fd = -1;
    int parent_fd = -1;
    std::string name;  // the entry name in the parent, "" without one
    fs::Caller caller;
    int file_fd = -1;  // its flags are the descriptor's own (F_GETFL)
    bool remove_on_clunk = false;
    bool stat_dir = false;
    std::uint64_t dir_offset = 0;
    std::uint64_t dir_cookie = 0;
    // Set when the fid held something a record cannot carry (an xattr value
    // being read or written): the session cannot be carried over.
    bool unrecoverable = false;
};

struct StoredLockOwner {
    int file_fd = -1;
    std::string client_id;
    std::uint32_t proc_id = 0;
    int owner_fd = -1;
    std::uint32_t record = 0;  // its number in the store
};

// A validated copy of everything the store held.
struct StoredSession {
    std::uint32_t msize = 0;  // 0: no version agreed
    p9proto::Dialect dialect = p9proto::Dialect::k9P2000L;
    std::vector<RoutePosition> idle_at;  // empty: never idle
    std::vector<StoredFid> fids;
    std::vector<StoredLockOwner> lock_owners;
    fs::QidMap::Tables qids;
    // Every descriptor number a record names.
    std::vector<int> descriptors() const;
};

class SessionStore final : public fs::LockOwnerRecorder {
  public:
    static constexpr std::size_t kMaxRoutes = 64;  // --max-rings' bound
    static constexpr std::size_t kMaxLockOwners = 4096;

    // Shared memory for a session of at most `max_fids` fids, zeroed.
    static Result<SessionStore> create(std::size_t max_fids);
    SessionStore(SessionStore&& other) noexcept;
    SessionStore& operator=(SessionStore&&) = delete;
    SessionStore(const SessionStore&) = delete;
    ~SessionStore();

    // Writers, from the serving process.
    void set_version(std::uint32_t msize, p9proto::Dialect dialect);
    // A request is being taken: until mark_idle, something may be in flight.
    void mark_busy();
    // Nothing is in flight and every reply is published: the routes stand at `positions`.
    void mark_idle(std::span<const RoutePosition> positions);
    Status put_fid(const StoredFid& fid);
    void erase_fid(std::uint32_t fid);
    void clear_fids();
    void put_qids(const fs::QidMap::Tables& tables);
    Result<std::uint32_t> record_owner(int file_fd, std::string_view client_id,
                                       std::uint32_t proc_id, int owner_fd) override;
    void forget_owner(std::uint32_t record) override;

    // The replacement: what the records say, checked; EUCLEAN when they are
    // inconsistent. Also takes over the slots, so writing goes on from here.
    Result<StoredSession> load();

    // The shared memory as a server writes it (what a compromised one could
    // scribble over).
    std::span<std::byte> bytes() const { return {static_cast<std::byte*>(memory_), size_}; }

  private:
    struct Layout;
    SessionStore(void* memory, std::size_t size, std::size_t fid_slots);
    Layout& layout() const;
    Result<std::uint32_t> free_fid_slot();

    void* memory_ = nullptr;
    std::size_t size_ = 0;
    std::size_t fid_slots_ = 0;
    std::uint64_t next_seq_ = 1;
    std::unordered_map<std::uint32_t, std::uint32_t> slot_of_fid_;
    std::vector<std::uint32_t> free_fid_slots_;
    std::vector<std::uint32_t> free_owner_slots_;
    std::size_t qid_devices_ = 0;
    std::size_t qid_prefixes_ = 0;
};

}  // namespace xen9p::server
