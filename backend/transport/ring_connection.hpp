// server::Transport over the rings of one Xen 9pfs device: requests come out of each
// ring's `out` half, replies go into the `in` half of the ring the request came
// on (the server::Route is the ring's index). One event channel handle serves every
// ring; the loop polls its fd. A request is copied once, straight into the
// sink's request_buffer(); a ring whose sink has no room keeps its requests in
// shared memory until resume_input().
//
// Replies produced while the loop handles one batch of completions are
// published together: one in_prod update and one notification per ring, done
// from a deferred completion (EventLoop::defer), which is also when on_sent()
// runs, so the session never sees its reply "sent" from inside its own send()
// call. A reply that does not fit waits, in order, until the guest has
// consumed (Linux notifies after draining its replies); the guest is never
// disconnected for being slow. Malformed ring contents close the transport.
//
// Logged to a RouteLog (log_to), a request stays in the ring until its reply
// is published: the guest's consumer index is the oldest request not yet
// answered, so a replacement finds every request the dead server had not
// finished still in the ring, and the log says which ones it had answered.
// That also lets a Twrite's data stay there: only the fields before it are
// copied, and the sink writes the data from the ring (TransportSink::on_message).
//
// A reply's data can also be placed straight into the ring (reserve_reply):
// the room is taken at the producer end, and replies placed after it wait
// for it, as the ring is published in order. A reply shorter than its room
// leaves a gap, closed when everything before the replies behind it is
// final, by moving them back (they are complete then, so no I/O still
// writes to them); only final replies are logged as written.
//
// It is also the loop's Poller: a port that fired stays masked, and the event
// channel is not polled, until the loop is about to sleep; while the loop is
// awake (polling, or handling completions), a request ring whose producer
// index moved is served at once. A guest that keeps sending while we are
// awake thus wakes nobody, and a wake-up costs no more system calls than it
// must (one port read, one unmask, the poll submitted with the sleep).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend/io/event_loop.hpp"
#include "backend/log/log.hpp"
#include "backend/server/transport.hpp"
#include "backend/transport/mapped_ring.hpp"
#include "xenring/ring/ring_reader.hpp"
#include "xenring/ring/ring_writer.hpp"

namespace xen9p::transport {

class RingConnection final : public server::Transport, private io::Poller {
  public:
    // `rings` must be bound on `events`, which must outlive the connection.
    RingConnection(io::EventLoop& loop, platform::EventChannel& events,
                   std::vector<MappedRing> rings, std::string name);
    ~RingConnection() override;

    void start(server::TransportSink& sink) override;
    std::uint32_t max_msize() const override { return max_msize_; }
    void set_msize(std::uint32_t msize) override;
    bool log_to(server::RouteLog& log) override;
    Status resume(std::span<const server::StoredRoute> routes) override;
    void send(const server::Origin& origin, std::span<const std::byte> bytes,
              std::uint64_t cookie) override;
    void drop(const server::Origin& origin) override;
    std::optional<MutableSplitBytes> reserve_reply(const server::Origin& origin, std::size_t head,
                                                   std::size_t data) override;
    void send_in_place(const server::Origin& origin, std::span<const std::byte> head,
                       std::size_t data_length, std::uint64_t cookie) override;
    void unreserve(const server::Origin& origin) override;
    void resume_input() override;
    void close() override;
    bool finished() const override { return closed_ && !poll_.pending && !flush_.pending; }
    const std::string& name() const override { return name_; }

  private:
    struct Op final : io::Completion {
        RingConnection* owner = nullptr;
        void (RingConnection::*handler)(int) = nullptr;
        bool pending = false;
        void on_complete(int result) override {
            pending = false;
            (owner->*handler)(result);
        }
    };
    struct Outgoing {
        std::span<const std::byte> bytes;
        std::uint64_t cookie = 0;
        RING_IDX request = 0;
        std::uint32_t record = 0;
    };
    // Placed in the ring after room reserved for a reply, or that room: final
    // once it and everything before it are `done`.
    struct Placed {
        RING_IDX start = 0;
        std::size_t room = 0;    // bytes it takes in the ring
        std::size_t length = 0;  // of its reply, once done
        bool done = false;
        bool answers = false;  // answers `request` (else the room went unused)
        RING_IDX request = 0;
        std::uint32_t record = 0;
        std::optional<std::uint64_t> cookie{};  // of its reply, if it has one
    };
    // A request taken and still in the ring (logged transports only).
    struct Taken {
        RING_IDX start = 0;
        RING_IDX end = 0;
        bool answered = false;
        RING_IDX reply_end = 0;
        std::uint32_t record = 0;
    };
    struct Ring {
        MappedRing mapped;
        ring::RingReader reader;
        ring::RingWriter writer;
        std::deque<Outgoing> waiting{};  // replies not in the ring yet, in order
        std::deque<Placed> placed{};     // in ring order, from `settled` on
        RING_IDX settled = 0;            // the end of the final replies
        bool unpublished = false;        // replies written, in_prod not yet advanced
        bool notify = false;             // the guest must hear from us at the next flush
        // What the running flush publishes: the replies written before it began.
        bool publish_now = false;
        RING_IDX publish_up_to = 0;
        RING_IDX published = 0;
        std::deque<Taken> taken{};  // in ring order, until released to the guest
        // After resume(): requests before `retaken_until` were the dead
        // server's; those it answered are skipped, the others redelivered.
        bool retaking = false;
        RING_IDX retaken_until = 0;
        std::map<RING_IDX, server::StoredRoute::Answered> answered_before{};
    };

    bool has_news() override;
    void take_news() override;
    void before_sleep() override;
    void event(int result);
    void flush(int result);
    void arm_poll();
    void schedule_flush();
    // Moves waiting replies into the ring; false on a broken ring.
    bool place_waiting(Ring& ring);
    // The request at `request` is answered (its answer committed as
    // `record`), its reply (if any) final and ending at `settled`.
    void answered(Ring& ring, RING_IDX request, std::uint32_t record,
                  std::optional<std::uint64_t> cookie);
    // The reserved room of the request at `request`; null if it has none.
    Placed* reserved(Ring& ring, RING_IDX request);
    // Fills a reserved room with a reply of `length` bytes (or none).
    void fill(Ring& ring, Placed& room, std::size_t length, const server::Origin& origin,
              std::optional<std::uint64_t> cookie);
    // Makes final what is done at the front of `placed`, closing gaps.
    void settle(Ring& ring);
    // Gives the guest back the space of requests whose replies are published.
    void release_answered(Ring& ring);
    // The dead server's records for requests a resumed ring no longer holds.
    void forget_answered_before(Ring& ring);
    // Delivers requests until the ring is empty or the sink refuses one.
    bool deliver(server::Route route);
    void service_all();
    void fail(std::string_view why, server::Route route, Errno err);

    io::EventLoop& loop_;
    platform::EventChannel& events_;
    std::vector<Ring> rings_;
    std::string name_;
    std::uint32_t max_msize_ = 0;
    server::TransportSink* sink_ = nullptr;
    bool paused_ = false;
    server::RouteLog* log_ = nullptr;
    std::size_t outstanding_ = 0;  // Taken entries across rings
    bool log_full_ = false;        // delivery waits for releases
    bool resumed_ = false;         // the log holds a dead server's routes
    // Records a flush frees, kept so the flush allocates nothing.
    std::vector<std::uint32_t> released_;
    bool closed_ = false;
    std::vector<std::uint64_t> sent_;     // cookies whose replies are in the ring
    std::vector<platform::Port> masked_;  // fired, unmasked before the loop sleeps
    log::RateLimiter log_limiter_;
    Op poll_;
    Op flush_;
};

}  // namespace xen9p::transport
