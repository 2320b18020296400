// One 9P session: the peer behind one transport (a socket connection, or all
// rings of one Xen device). Decodes requests, dispatches them by fid, runs file
// work inline or on io_uring, answers in any order by tag, and implements
// Tversion (reset, and the choice of 9P2000.L or 9P2000.u) and Tflush. Request and reply bytes live
// in per-request slots from a pool bounded by max_in_flight, their buffers allocated as messages
// need them and paid for from the session's memory budget; when the pool or the budget is spent the
// transport is paused, so what a peer can make the session hold stays within
// SessionConfig::max_memory.
#pragma once

#include <sys/uio.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/log/log.hpp"
#include "backend/server/fid_table.hpp"
#include "backend/server/memory_budget.hpp"
#include "backend/server/session_store.hpp"
#include "backend/server/transport.hpp"
#include "backend/stats/op_stats.hpp"
#include "p9proto/codec.hpp"
#include "p9proto/messages.hpp"

namespace xen9p::server {

struct SessionConfig {
    // The aname a Tattach must give (besides ""): the export's configured path.
    std::string aname;
    std::size_t max_fids = 4096;
    std::size_t max_in_flight = 256;
    // Bytes a peer can make the session hold: half for request and reply
    // buffers (msize is capped to a quarter, so one request and its reply
    // always fit), half for xattr values kept by fids.
    std::size_t max_memory = kDefaultMaxMemory;
    // Lines the peer can cause; shared by the sessions of one device (a
    // Server fills it in when empty).
    std::shared_ptr<log::RateLimiter> log_limiter = nullptr;

    static constexpr std::size_t kDefaultMaxMemory = 64 << 20;
    // The least max_memory that still allows a useful msize (256 KiB).
    static constexpr std::size_t kMinMaxMemory = 1 << 20;
};

struct SessionStats {
    std::size_t max_in_flight = 0;  // most requests held at once
    std::size_t requests = 0;
};

class Session final : TransportSink {
  public:
    // Every request done is recorded in `ops` (shared by a server's sessions).
    // With `store`, what a replacement needs is kept there: the fids as each
    // request is answered, and through the transport what was taken and
    // answered (session_continuity.cpp).
    Session(io::EventLoop& loop, fs::Export& ex, std::unique_ptr<Transport> transport,
            SessionConfig limits, stats::OpStats& ops, SessionStore* store = nullptr);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Before start(): continues the session a dead server left in its store.
    // EUCLEAN when its records do not hold (a compromised server may have
    // written them), ENOTRECOVERABLE when they name what cannot be carried
    // over (an xattr fid, a store marked broken).
    Status restore(const StoredSession& stored);
    void start();
    // Closes the transport; in-flight operations are cancelled.
    void close() { transport_->close(); }
    // Closed and nothing in flight: may be destroyed.
    bool finished() const;
    const SessionStats& stats() const { return stats_; }
    const std::string& name() const { return transport_->name(); }
    std::size_t open_fids() const { return fids_.size(); }
    // Bytes of its budget held now: buffers and values kept by fids.
    std::size_t memory() const { return buffer_budget_.used() + value_budget_.used(); }

  private:
    enum class State { kFree, kMemoryWait, kIo, kFlushWait, kSending };

    struct Slot final : io::Completion {
        Session* session = nullptr;
        std::uint64_t index = 0;
        State state = State::kFree;
        Origin origin;
        std::uint16_t tag = 0;
        std::chrono::steady_clock::time_point received;
        std::uint32_t generation = 0;  // session generation it belongs to
        bool flushed = false;
        bool replayed = false;             // its answer is one a dead server committed
        std::uint32_t intent = kNoIntent;  // its record in the store
        ChargedBuffer request;
        // A Twrite's data the transport left in the peer's memory (see
        // TransportSink::on_message); `request` then holds the rest.
        SplitBytes elsewhere;
        std::array<iovec, 2> pieces{};  // for a write of `elsewhere`, a read in place
        // A Tread's data goes straight into room the transport reserved for
        // its reply; `reply` then holds only the reply's header.
        bool in_place = false;
        ChargedBuffer reply;
        std::size_t request_size = 0;
        std::size_t reply_size = 0;
        std::size_t capacity = 0;            // largest reply the client accepts for this request
        std::shared_ptr<fs::OpenFile> file;  // kept open while I/O runs
        std::size_t io_count = 0;            // bytes asked of a read
        std::uint64_t io_offset = 0;         // and from where
        p9proto::MsgType type{};
        std::vector<Slot*> flushers;  // Tflush slots answered after this one
        void on_complete(int result) override { session->io_done(*this, result); }
    };

    // kLost: a request a dead server took cannot be answered as it would have
    // been; the session must close.
    enum class Outcome { kReply, kAsync, kLost };
    static constexpr std::uint32_t kNoIntent = SessionStore::kMaxIntents;

    bool on_message(const Origin& origin, std::span<const std::byte> message,
                    SplitBytes elsewhere) override;
    std::span<std::byte> request_buffer(std::size_t size) override;
    void on_sent(std::uint64_t cookie) override;
    void on_closed() override;

    Slot* take_slot();
    // Grows `buffer` to `size` from the buffer budget, first freeing what idle
    // slots keep; false when requests in flight hold the rest.
    bool reserve(ChargedBuffer& buffer, std::size_t size);
    void release(Slot& slot);
    // Decodes the request in `slot`, pays for its reply buffer and dispatches
    // it; false (nothing done) when the buffer budget cannot pay now.
    bool process(Slot& slot);
    // Runs the request waiting for memory if it fits now, then resumes input.
    void retry_waiting();
    // The reply is ready: hand it over (or drop it if flushed/reset); Tflushes
    // waiting for it are answered once it has left the transport.
    void finish(Slot& slot, bool send_reply = true);
    // Frees the slot, then answers the Tflushes that waited for it.
    void release_and_answer_flushers(Slot& slot);
    void io_done(Slot& slot, int result);
    void protocol_violation(std::string_view why);

    Outcome reply(Slot& slot, const p9proto::ReplyBody& body);
    Outcome error(Slot& slot, Errno err);
    Outcome error(Slot& slot, int err) { return error(slot, Errno{err}); }
    // The session's error reply: Rlerror, or Rerror under 9P2000.u.
    p9proto::ReplyBody error_body(Errno err) const;

    Outcome dispatch(Slot& slot, const p9proto::Request& request);
    Outcome handle(Slot& slot, const p9proto::Tversion& req);
    Outcome handle(Slot& slot, const p9proto::Tauth& req);
    Outcome handle(Slot& slot, const p9proto::Tattach& req);
    Outcome handle(Slot& slot, const p9proto::Tflush& req);
    Outcome handle(Slot& slot, const p9proto::Twalk& req);
    Outcome handle(Slot& slot, const p9proto::Tread& req);
    Outcome handle(Slot& slot, const p9proto::Twrite& req);
    Outcome handle(Slot& slot, const p9proto::Tclunk& req);
    Outcome handle(Slot& slot, const p9proto::Tremove& req);
    Outcome handle(Slot& slot, const p9proto::Tstatfs& req);
    Outcome handle(Slot& slot, const p9proto::Tlopen& req);
    Outcome handle(Slot& slot, const p9proto::Tlcreate& req);
    Outcome handle(Slot& slot, const p9proto::Tsymlink& req);
    Outcome handle(Slot& slot, const p9proto::Tmknod& req);
    Outcome handle(Slot& slot, const p9proto::Trename& req);
    Outcome handle(Slot& slot, const p9proto::Treadlink& req);
    Outcome handle(Slot& slot, const p9proto::Tgetattr& req);
    Outcome handle(Slot& slot, const p9proto::Tsetattr& req);
    Outcome handle(Slot& slot, const p9proto::Txattrwalk& req);
    Outcome handle(Slot& slot, const p9proto::Txattrcreate& req);
    Outcome handle(Slot& slot, const p9proto::Treaddir& req);
    Outcome handle(Slot& slot, const p9proto::Tfsync& req);
    Outcome handle(Slot& slot, const p9proto::Tlock& req);
    Outcome handle(Slot& slot, const p9proto::Tgetlock& req);
    Outcome handle(Slot& slot, const p9proto::Tlink& req);
    Outcome handle(Slot& slot, const p9proto::Tmkdir& req);
    Outcome handle(Slot& slot, const p9proto::Trenameat& req);
    Outcome handle(Slot& slot, const p9proto::Tunlinkat& req);
    // 9P2000.u (session_u_ops.cpp).
    Outcome handle(Slot& slot, const p9proto::Topen& req);
    Outcome handle(Slot& slot, const p9proto::Tcreate& req);
    // After a Tcreate made its entry (other than a file): the fid takes it,
    // opened if it is a directory or, made before a death, a file.
    Result<p9proto::Qid> take_created(Fid& fid, const p9proto::Tcreate& req);
    Outcome handle(Slot& slot, const p9proto::Tstat& req);
    Outcome handle(Slot& slot, const p9proto::Twstat& req);
    // Tread of a directory opened under 9P2000.u: stat records.
    Outcome read_stats(Slot& slot, Fid& fid, const p9proto::Tread& req);
    // Tcreate of anything but a regular file: the new entry, not opened.
    Result<p9proto::Qid> create_entry(const Fid& dir, const p9proto::Tcreate& req);

    // Pays for an xattr value a fid keeps: ENOMEM past the value budget.
    Result<MemoryCharge> charge_value(std::size_t bytes);
    // A store slot that keeps an xattr fid's value of `size` bytes for a
    // replacement; null without a store or a free slot.
    std::shared_ptr<XattrSlot> take_xattr_slot(std::size_t size);
    // Rebuilds an xattr fid's value and name from what a dead server left.
    Status restore_xattr(Fid& fid, const StoredFid& stored);
    // Whether the xattr an xattr write fid sets is there now.
    bool xattr_exists(const Fid& fid);

    // The fid as a file node (EBADF if absent, EINVAL for an xattr fid).
    Result<Fid*> node_fid(std::uint32_t fid);
    // Clunk semantics: an xattr-write fid commits its value.
    Status clunk(std::uint32_t fid);
    // Every fid goes (session end, Tversion): ORCLOSE files are removed, as
    // their clunk would.
    void clunk_all();
    // A Twrite's data: in the request, or where the transport left it.
    static SplitBytes write_data(const Slot& slot, const p9proto::Twrite& req);
    // Tread/Treaddir payload room: what fits in the reply after its header.
    std::size_t data_room(const Slot& slot, std::uint32_t count) const;
    // Commits the request's answer to the store with what it changed (fids,
    // qids, version); `no_reply` when it is answered by dropping it.
    void commit_answer(Slot& slot, bool no_reply);
    // Before a request changes files (session_redo.cpp): what tells a
    // replacement whether it did (an entry's file, or a file's identity and
    // size, as they are now).
    void note_entry_intent(Slot& slot, StoredIntent::Kind kind, int dir_fd, std::string_view name);
    void note_file_intent(Slot& slot, StoredIntent::Kind kind, int fd);
    void note_intent(Slot& slot, StoredIntent intent);
    // A request the dead server took after noting `intent`: run again if it
    // was not done, else answered as it was.
    Outcome redo(Slot& slot, const p9proto::Request& request, const StoredIntent& intent);
    // A request the dead server took that cannot be answered as it would
    // have been: says so; the session closes.
    Outcome lost(const Slot& slot);
    // A retaken request's answer the dead server committed: sent (or
    // dropped) as it was, run again when it only read, else lost; nullopt
    // when there is none.
    std::optional<Outcome> replay(Slot& slot, const p9proto::Request& request);
    // The route delivers new requests: what the dead server left for its
    // retaken ones and was not used is let go.
    void end_retaking(Route route);
    StoredFid stored_fid(std::uint32_t number, const Fid& fid) const;

    io::EventLoop& loop_;
    fs::Export& ex_;
    std::unique_ptr<Transport> transport_;
    SessionConfig config_;
    // Before the fids and slots whose charges they count.
    MemoryBudget buffer_budget_;
    MemoryBudget value_budget_;
    FidTable fids_;
    std::uint32_t max_msize_;  // what the transport and the buffer budget allow
    std::uint32_t msize_ = 0;  // 0 until Tversion
    p9proto::Dialect dialect_ = p9proto::Dialect::k9P2000L;  // agreed in Tversion
    std::uint32_t generation_ = 0;
    bool closed_ = false;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<Slot*> free_;
    std::size_t in_use_ = 0;
    // Taken for request_buffer(): the next on_message in its buffer uses it.
    Slot* reserved_ = nullptr;
    std::size_t io_pending_ = 0;
    bool input_blocked_ = false;
    // Received, waiting for its reply buffer. Input stops while one waits, so
    // there is never a second.
    Slot* memory_wait_ = nullptr;
    std::unordered_map<std::uint16_t, Slot*> tags_;  // requests not yet answered
    SessionStats stats_;
    stats::OpStats& ops_;
    SessionStore* store_;
    // What the store holds of the version and the qid map.
    std::uint32_t stored_msize_ = 0;
    p9proto::Dialect stored_dialect_ = p9proto::Dialect::k9P2000L;
    std::size_t stored_qids_ = 0;
    // A record could not be written: the store is marked broken.
    bool store_failed_ = false;
    // Fids erased or replaced, kept open until the answer that changed them
    // is committed (a replacement may roll back to their records).
    std::vector<Fid> retired_;
    // Answers a dead server committed and did not send, and the intents of
    // requests it took, by (route, position).
    std::map<std::pair<Route, std::uint32_t>, StoredRoute::Answered> committed_;
    std::map<std::pair<Route, std::uint32_t>, StoredIntent> intents_;
};

}  // namespace xen9p::server
