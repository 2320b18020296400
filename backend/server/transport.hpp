// How the server exchanges whole 9P messages with a peer, independent of the
// medium (stream socket, Xen ring). A request arrives as private bytes with an
// opaque route (the ring it came on); its reply goes back with the same route.
// Sending never blocks the loop: the transport queues a reply it cannot place
// yet (ring full, socket busy) and reports when its bytes may be reused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace xen9p::server {

using Route = std::uint32_t;

// Where one route (ring) of a transport stands: how far its requests were
// consumed and its replies published.
struct RoutePosition {
    std::uint32_t consumed = 0;
    std::uint32_t produced = 0;
    bool operator==(const RoutePosition&) const = default;
};

class TransportSink {
  public:
    // One whole message (size[4] included) in memory the peer cannot change.
    // The bytes are valid only during the call. Returning false means "no room
    // now": the transport keeps the message and offers it again after
    // Transport::resume_input().
    virtual bool on_message(Route route, std::span<const std::byte> message) = 0;

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
    virtual void send(Route route, std::span<const std::byte> bytes, std::uint64_t cookie) = 0;

    // The sink has room again after refusing a message.
    virtual void resume_input() = 0;

    // Stops receiving and sending; pending replies are dropped.
    virtual void close() = 0;

    // Closed and no operation of the transport is pending: it may be destroyed.
    virtual bool finished() const = 0;

    // For log lines: "unix:/path#3", "tcp:127.0.0.1:5640#7", "ring:1/0".
    virtual const std::string& name() const = 0;

    // Where each route's requests and replies stand (replies written but not
    // yet published included); empty for a transport that cannot be carried
    // over (a socket).
    virtual std::vector<RoutePosition> positions() const { return {}; }
    // Before start(), in a server that replaces a dead one: continues from
    // where the dead one's transport stood when it was last idle, publishing
    // what it had written. ENOTRECOVERABLE when the medium says otherwise
    // (requests were taken since) or cannot be carried over.
    virtual Status resume(std::span<const RoutePosition> idle_at) {
        (void)idle_at;
        return std::unexpected(Errno{ENOTRECOVERABLE});
    }
};

}  // namespace xen9p::server
