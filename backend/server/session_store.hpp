// What one session leaves behind for the server that replaces it when the
// serving process dies: the agreed version, every fid (the numbers of its
// descriptors, which outlive the process in the descriptor table it shares
// with the device keeper), the lock owners of open files, the qid map's
// tables, and for each route of the transport how far requests were taken
// and which of them were answered (a RouteLog).
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
// What a request changes in the fids counts together with its answer: the
// session opens an answer record (begin_answer), writes the fids, and
// commits; a replacement that finds a commit unfinished drops the fid
// records written since it began (their old versions are freed only after
// the commit), so a request is either answered with its changes or not at
// all.
//
// The process that wrote the records may have been compromised: load()
// checks every field and gives the replacement only what it could have held
// itself (numbers of descriptors in a table it shares anyway).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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
    enum class Kind : std::uint8_t {
        kFile = 0,
        kXattrRead = 1,   // the value read, in xattr slot `xattr_slot`
        kXattrWrite = 2,  // `xattr_written` bytes of the value so far, in that slot
    };
    std::uint32_t fid = 0;
    Kind kind = Kind::kFile;
    int node_fd = -1;
    int parent_fd = -1;
    std::string name;  // the entry name in the parent, "" without one
    fs::Caller caller;
    int file_fd = -1;  // its flags are the descriptor's own (F_GETFL)
    bool remove_on_clunk = false;
    bool stat_dir = false;
    std::uint64_t dir_offset = 0;
    std::uint64_t dir_cookie = 0;
    // An xattr fid: its name, the size of its value (read) or the size
    // announced (write), the flags of the set, and its slot in the store.
    std::string xattr_name;
    std::uint64_t xattr_size = 0;
    std::uint64_t xattr_written = 0;
    std::uint32_t xattr_flags = 0;
    std::uint32_t xattr_slot = 0;
    // Set when the fid held something a record cannot carry (an xattr value
    // when every slot was taken): the session cannot be carried over.
    bool unrecoverable = false;
};

// What a request that changes files notes before it does: enough for a
// replacement to tell, by looking at the files, whether it was done.
struct StoredIntent {
    enum class Kind : std::uint32_t {
        kCreates = 1,    // an entry in a directory (absent before unless `existed`)
        kRemoves = 2,    // the entry that was the file (dev, ino)
        kRenames = 3,    // the old entry that was the file (dev, ino)
        kTruncates = 4,  // a file `size` bytes long
        kAppends = 5,    // the file (dev, ino), `size` bytes long
        kOpaque = 6,     // nothing tells: the request cannot be run again
        kXattrs = 7,     // an xattr's set or removal at clunk (`existed` before)
    };
    Route route = 0;
    std::uint32_t request = 0;
    std::uint32_t type = 0;  // the request's p9proto::MsgType
    Kind kind = Kind::kOpaque;
    bool existed = false;
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::uint64_t size = 0;
    std::uint32_t record = 0;  // its number in the store
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
    std::vector<StoredRoute> routes;  // empty: nothing was ever taken
    std::vector<StoredIntent> intents;
    std::vector<StoredFid> fids;
    std::vector<StoredLockOwner> lock_owners;
    fs::QidMap::Tables qids;
    // Every descriptor number a record names.
    std::vector<int> descriptors() const;
};

class SessionStore;

// An xattr value slot of the store, given back when the last copy of the
// fid holding it goes (fids are copied while a record may still name them).
class XattrSlot {
  public:
    XattrSlot(SessionStore& store, std::uint32_t index) : store_(store), index_(index) {}
    ~XattrSlot();
    XattrSlot(const XattrSlot&) = delete;
    XattrSlot& operator=(const XattrSlot&) = delete;
    std::uint32_t index() const { return index_; }
    std::span<std::byte> value() const;

  private:
    SessionStore& store_;
    std::uint32_t index_;
};

class SessionStore final : public fs::LockOwnerRecorder, public RouteLog {
  public:
    static constexpr std::size_t kMaxRoutes = 64;  // --max-rings' bound
    static constexpr std::size_t kMaxLockOwners = 4096;
    // Requests taken and not yet given back to the guest, across routes.
    static constexpr std::size_t kMaxAnswered = 4096;
    // Replies up to this size are kept with their answer, so that a
    // replacement sends them instead of running the request again; larger
    // ones (reads, directory listings) come from requests that can run again.
    static constexpr std::size_t kMaxKeptReply = 320;
    // Fids one answer may erase (a Tversion erases them all).
    static constexpr std::size_t kMaxErased = 8;
    // Intents kept at once: those of the requests in flight, and those a dead
    // server left until their requests are run again.
    static constexpr std::size_t kMaxIntents = 1024;
    // Xattr fids whose values the store carries at once (each value up to
    // fs::kMaxXattrSize); a guest's xattr fids live from Txattrwalk or
    // Txattrcreate to the clunk a few requests later. Past this, an xattr
    // fid is not carried over and a server's death then loses the session.
    static constexpr std::size_t kMaxXattrValues = 16;

    // Shared memory for a session of at most `max_fids` fids, zeroed.
    static Result<SessionStore> create(std::size_t max_fids);
    SessionStore(SessionStore&& other) noexcept;
    SessionStore& operator=(SessionStore&&) = delete;
    SessionStore(const SessionStore&) = delete;
    ~SessionStore();

    // Writers, from the serving process.
    void set_version(std::uint32_t msize, p9proto::Dialect dialect);
    // The records no longer match the session: load() refuses from now on.
    void mark_broken();
    // Opens the answer of the request at `request` on `route`; the fid
    // changes written until commit_answer count only with it.
    std::uint32_t begin_answer(Route route, std::uint32_t request);
    Status put_fid(const StoredFid& fid);
    void erase_fid(std::uint32_t fid);
    // The commit point. `reply` is kept when it fits kMaxKeptReply (else a
    // replacement runs the request again); `no_reply`: answered by dropping.
    void commit_answer(std::uint32_t record, std::span<const std::byte> reply, bool no_reply);
    // The intent of a request, before it changes anything; its record's
    // number, kMaxIntents when none is free (the store is then broken).
    std::uint32_t note_intent(const StoredIntent& intent);
    // Once the request's answer is committed.
    void clear_intent(std::uint32_t record);
    void put_qids(const fs::QidMap::Tables& tables);
    // A free xattr value slot, or nullopt; given back by give_xattr_slot
    // once no fid record names it (after the commit that erases its fid).
    std::optional<std::uint32_t> take_xattr_slot();
    void give_xattr_slot(std::uint32_t slot);
    // The value bytes of a slot (fs::kMaxXattrSize of them).
    std::span<std::byte> xattr_value(std::uint32_t slot) const;
    Result<std::uint32_t> record_owner(int file_fd, std::string_view client_id,
                                       std::uint32_t proc_id, int owner_fd) override;
    void forget_owner(std::uint32_t record) override;
    std::size_t capacity() const override { return kMaxAnswered; }
    void set_routes(std::size_t count) override;
    void taken(Route route, std::uint32_t end) override;
    void written(std::uint32_t record, std::uint32_t reply_end) override;
    void released(std::uint32_t record) override;

    // The replacement: what the records say, checked; EUCLEAN when they are
    // inconsistent, ENOTRECOVERABLE when marked broken. Also takes over the
    // slots, so writing goes on from here.
    Result<StoredSession> load();

    // The shared memory as a server writes it (what a compromised one could
    // scribble over).
    std::span<std::byte> bytes() const { return {static_cast<std::byte*>(memory_), size_}; }

  private:
    struct Layout;
    SessionStore(void* memory, std::size_t size, std::size_t fid_slots);
    Layout& layout() const;
    Result<std::uint32_t> free_fid_slot();
    // Frees a replaced or erased fid's record, after the open commit if any.
    void free_fid_record(std::uint32_t slot);

    void* memory_ = nullptr;
    std::size_t size_ = 0;
    std::size_t fid_slots_ = 0;
    std::uint64_t next_seq_ = 1;
    std::unordered_map<std::uint32_t, std::uint32_t> slot_of_fid_;
    std::vector<std::uint32_t> free_fid_slots_;
    std::vector<std::uint32_t> free_owner_slots_;
    std::vector<std::uint32_t> free_answer_slots_;
    std::vector<std::uint32_t> free_intent_slots_;
    std::vector<std::uint32_t> free_xattr_slots_;
    // The answer being committed, and the fid slots freed when it is.
    std::uint32_t committing_ = kMaxAnswered;
    std::vector<std::uint32_t> free_at_commit_;
    std::vector<std::uint32_t> erased_;
    std::size_t qid_devices_ = 0;
    std::size_t qid_prefixes_ = 0;
};

}  // namespace xen9p::server
