// How the server exchanges whole 9P messages with a peer, independent of the
// medium (stream socket, Xen ring). A request arrives as private bytes with an
// opaque route (the ring it came on); its reply goes back with the same route.
// Sending never blocks the loop: the transport queues a reply it cannot place
// yet (ring full, socket busy) and reports when its bytes may be reused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/errno.hpp"
#include "base/split_bytes.hpp"

namespace xen9p::server {

using Route = std::uint32_t;

// Where a request came from: its route and, on a transport that can be
// carried over, where it began in its medium. `retaken`: a server that died
// had taken it and not answered it; its effect may have been applied.
// `record`: the log record of its answer, once the session committed one.
struct Origin {
    Route route = 0;
    std::uint32_t position = 0;
    bool retaken = false;
    std::uint32_t record = 0;
};

// What a replacement needs of one route: how far the dead server had taken
// requests, and the answers it had committed to: those it had written into
// the medium (with where the reply ended), and those it had not yet written
// (with the reply to send, when it was kept, or none to send).
struct StoredRoute {
    struct Answered {
        std::uint32_t request = 0;
        std::uint32_t record = 0;  // its number in the log
        bool written = false;
        std::uint32_t reply_end = 0;  // when written
        bool no_reply = false;
        std::vector<std::byte> reply;  // when kept; empty: run it again
    };
    std::uint32_t taken = 0;
    std::vector<Answered> answered;
};

// Kept where the serving process's death cannot lose it (the session store):
// what a transport must know to go on without answering a request twice or
// not at all. Each call's record is complete when it returns.
class RouteLog {
  public:
    // Requests taken and not yet released, at most, across all routes.
    virtual std::size_t capacity() const = 0;
    virtual void set_routes(std::size_t count) = 0;
    // Requests of `route` up to `end` (exclusive) were taken.
    virtual void taken(Route route, std::uint32_t end) = 0;
    // The committed answer `record` is written, its reply (if any) ending at
    // `reply_end`.
    virtual void written(std::uint32_t record, std::uint32_t reply_end) = 0;
    // The request's space went back to the peer: its record is not needed.
    virtual void released(std::uint32_t record) = 0;

  protected:
    ~RouteLog() = default;
};

class TransportSink {
  public:
    // One whole message (size[4] included) in memory the peer cannot change.
    // The bytes are valid only during the call. Returning false means "no room
    // now": the transport keeps the message and offers it again after
    // Transport::resume_input().
    //
    // Or, with `elsewhere` not empty, a Twrite whose data the transport left
    // in the peer's memory (a ring that holds requests until they are
    // answered): `message` is its private part, up to its count[4], and
    // `elsewhere` the rest. The peer may change those bytes at any time (it
    // writes its own data), but they stay mapped and are not reused before
    // the request is answered (its reply sent, or dropped).
    virtual bool on_message(const Origin& origin, std::span<const std::byte> message,
                            SplitBytes elsewhere) = 0;

    // For a transport that copies each message out of shared memory or a
    // socket itself: private memory of at least `size` bytes (the message's
    // size[4], at most the msize set) to place the next message in, so it is
    // copied once. A following on_message whose bytes start at this buffer
    // takes them as they are and always accepts them. Empty when there is no
    // room now: the transport waits for Transport::resume_input().
    virtual std::span<std::byte> request_buffer(std::size_t size) = 0;

    // The reply sent with `cookie` has left the transport's hands; its buffer
    // may be reused. Not called for replies dropped because the peer is gone.
    virtual void on_sent(std::uint64_t cookie) = 0;

    // The peer is gone or broke the framing; no more messages will come.
    virtual void on_closed() = 0;

  protected:
    ~TransportSink() = default;
};

class Transport {
  public:
    virtual ~Transport() = default;

    // Starts receiving; messages go to `sink` until the transport closes.
    virtual void start(TransportSink& sink) = 0;

    // The largest message the medium carries (Tversion's msize is capped to it).
    virtual std::uint32_t max_msize() const = 0;
    // Messages larger than `msize` are a framing violation from now on.
    virtual void set_msize(std::uint32_t msize) = 0;

    // Queues one whole reply; `bytes` must stay valid until on_sent(cookie).
    virtual void send(const Origin& origin, std::span<const std::byte> bytes,
                      std::uint64_t cookie) = 0;
    // The request is answered without a reply (flushed, or dropped by a
    // Tversion).
    virtual void drop(const Origin& origin) { (void)origin; }

    // Room in the medium for a request's reply, taken now so that the reply's
    // data can be placed there directly (a read into the ring): `head` bytes
    // for its fields, then `data` bytes, whose place this returns. nullopt
    // when there is no such room now (or no such medium): the reply goes by
    // send(). The peer can see those bytes, and change them, as its own.
    //
    // Until the request is answered, the room may hold up replies sent after
    // it (the medium is published in order), so it is answered soon: by
    // send_in_place(); or as any request is (send, which places a reply that
    // fits into the room; drop); or, with the room given back by unreserve(),
    // later. The room stays valid until then, or until the transport is
    // destroyed.
    virtual std::optional<MutableSplitBytes> reserve_reply(const Origin& origin, std::size_t head,
                                                           std::size_t data) {
        (void)origin, (void)head, (void)data;
        return std::nullopt;
    }
    // Sends the reply whose `head` (of the size reserved for it) is followed
    // by the first `data_length` bytes placed in the reserved room.
    virtual void send_in_place(const Origin& origin, std::span<const std::byte> head,
                               std::size_t data_length, std::uint64_t cookie) {
        // Only a transport that reserved room is asked to send from it.
        (void)origin, (void)head, (void)data_length, (void)cookie;
        std::abort();
    }
    // The room is not used: the request will be answered as if it had none.
    virtual void unreserve(const Origin& origin) { (void)origin; }

    // The sink has room again after refusing a message.
    virtual void resume_input() = 0;

    // Stops receiving and sending; pending replies are dropped.
    virtual void close() = 0;

    // Closed and no operation of the transport is pending: it may be destroyed.
    virtual bool finished() const = 0;

    // For log lines: "unix:/path#3", "tcp:127.0.0.1:5640#7", "ring:1/0".
    virtual const std::string& name() const = 0;

    // A transport that can be carried over records in `log` what a
    // replacement needs; before start(). False when it cannot be.
    virtual bool log_to(RouteLog& log) {
        (void)log;
        return false;
    }
    // Before start(), in a server that replaces a dead one: goes on from where
    // the dead one's transport stood (publishing the replies it had written,
    // delivering again what it had taken and not answered, as retaken).
    // EUCLEAN when the records and the medium disagree; ENOTRECOVERABLE for
    // a transport that cannot be carried over.
    virtual Status resume(std::span<const StoredRoute> routes) {
        (void)routes;
        return std::unexpected(Errno{ENOTRECOVERABLE});
    }
};

}  // namespace xen9p::server
