#include "backend/transport/ring_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <limits>

#include "backend/log/log.hpp"

namespace xen9p::transport {

RingConnection::RingConnection(io::EventLoop& loop, platform::EventChannel& events,
                               std::vector<MappedRing> rings, std::string name)
    : loop_(loop), events_(events), name_(std::move(name)) {
    // A reply is published whole, so the largest message is one ring half;
    // Linux itself asks for at most 512 KiB (half of an order-9 ring).
    std::size_t limit = std::numeric_limits<std::uint32_t>::max();
    for (const auto& r : rings)
        limit = std::min(limit, ring::flex_ring_size(r.order));
    max_msize_ = static_cast<std::uint32_t>(limit);
    rings_.reserve(rings.size());
    for (auto& mapped : rings) {
        const unsigned order = mapped.order;
        ring::DataIntf& intf = mapped.intf();
        const auto data = mapped.data.bytes();
        rings_.push_back(Ring{std::move(mapped),
                              ring::RingReader::backend(intf, data, order, max_msize_),
                              ring::RingWriter::backend(intf, data, order),
                              {},
                              false,
                              false,
                              false,
                              0});
    }
    poll_.owner = this;
    poll_.handler = &RingConnection::event;
    flush_.owner = this;
    flush_.handler = &RingConnection::flush;
}

void RingConnection::start(server::TransportSink& sink) {
    sink_ = &sink;
    // The guest may have written requests and notified before we bound the
    // ports: look at every ring once instead of waiting for an event.
    service_all();
    arm_poll();
}

std::vector<server::RoutePosition> RingConnection::positions() const {
    std::vector<server::RoutePosition> out;
    for (const auto& r : rings_)
        out.push_back({r.reader.consumed(), r.writer.produced()});
    return out;
}

Status RingConnection::resume(std::span<const server::RoutePosition> idle_at) {
    if (idle_at.size() != rings_.size()) return xen9p::fail(ENOTRECOVERABLE);
    for (std::size_t i = 0; i < rings_.size(); ++i) {
        if (rings_[i].reader.consumed() != idle_at[i].consumed) return xen9p::fail(ENOTRECOVERABLE);
    }
    for (std::size_t i = 0; i < rings_.size(); ++i) {
        if (!rings_[i].writer.resume_at(idle_at[i].produced)) return xen9p::fail(ENOTRECOVERABLE);
        rings_[i].notify = true;
    }
    schedule_flush();
    return {};
}

void RingConnection::set_msize(std::uint32_t msize) {
    for (auto& r : rings_)
        r.reader.set_msize(msize);
}

void RingConnection::arm_poll() {
    if (closed_ || poll_.pending) return;
    poll_.pending = true;
    loop_.poll(events_.fd(), POLLIN, &poll_);
}

void RingConnection::schedule_flush() {
    if (closed_ || flush_.pending) return;
    flush_.pending = true;
    loop_.nop(&flush_);
}

void RingConnection::event(int result) {
    if (closed_) return;
    if (result < 0) {
        fail("event channel poll failed", 0, Errno{-result});
        return;
    }
    // Ports are unmasked before the rings are read, so a notification that
    // arrives meanwhile fires again instead of being lost.
    for (;;) {
        auto port = events_.pending();
        if (!port) {
            fail("event channel failed", 0, port.error());
            return;
        }
        if (!*port) break;
        if (auto ok = events_.unmask(**port); !ok) {
            fail("event channel unmask failed", 0, ok.error());
            return;
        }
    }
    service_all();
    arm_poll();
}

void RingConnection::service_all() {
    for (server::Route route = 0; route < rings_.size() && !closed_; ++route) {
        Ring& r = rings_[route];
        if (!place_waiting(r)) return;
        if (!paused_ && !deliver(route)) return;
    }
}

bool RingConnection::place_waiting(Ring& r) {
    while (!r.waiting.empty()) {
        auto status = r.writer.write(r.waiting.front().bytes);
        if (!status) {
            if (status.error().value == EAGAIN) return true;
            fail("reply ring broken", static_cast<server::Route>(&r - rings_.data()),
                 status.error());
            return false;
        }
        sent_.push_back(r.waiting.front().cookie);
        r.waiting.pop_front();
        r.unpublished = true;
        schedule_flush();
    }
    return true;
}

bool RingConnection::deliver(server::Route route) {
    Ring& r = rings_[route];
    while (!closed_) {
        auto queued = r.reader.peek();
        if (!queued) {
            fail("request ring broken", route, queued.error());
            return false;
        }
        if (*queued == 0) return true;
        auto buffer = sink_->request_buffer(*queued);
        if (buffer.empty()) {
            paused_ = true;
            return true;
        }
        auto size = r.reader.read(buffer);
        if (!size) {
            fail("request ring broken", route, size.error());
            return false;
        }
        // The guest took back what peek() saw; the sink keeps its buffer.
        if (*size == 0) return true;
        // Space in `out` was freed: a frontend waiting to write hears it.
        r.notify = true;
        schedule_flush();
        // Bytes in its own buffer are always accepted.
        sink_->on_message(route, buffer.first(*size));
    }
    return false;
}

void RingConnection::resume_input() {
    if (!paused_ || closed_) return;
    paused_ = false;
    service_all();
}

void RingConnection::send(server::Route route, std::span<const std::byte> bytes,
                          std::uint64_t cookie) {
    if (closed_) return;
    if (route >= rings_.size()) {
        // Routes come from this transport; anything else is a bug upstream.
        fail("reply for an unknown ring", route, Errno{EINVAL});
        return;
    }
    Ring& r = rings_[route];
    r.waiting.push_back({bytes, cookie});
    place_waiting(r);
}

void RingConnection::flush(int) {
    if (closed_) return;
    // What was written so far is published below, after on_sent: the session
    // may then record that nothing is in flight (counting these replies as
    // written) before the guest can act on them. What on_sent writes (a
    // Tflush answered after its victim) waits for the next flush, so that no
    // Rflush is visible before the reply it follows, on any ring.
    for (auto& r : rings_) {
        r.publish_up_to = r.writer.produced();
        r.publish_now = r.unpublished;
    }
    auto sent = std::exchange(sent_, {});
    for (auto cookie : sent) {
        if (closed_) return;
        sink_->on_sent(cookie);
    }
    for (server::Route route = 0; route < rings_.size(); ++route) {
        Ring& r = rings_[route];
        if (r.publish_now) {
            r.writer.publish_up_to(r.publish_up_to);
            r.unpublished = r.writer.produced() != r.publish_up_to;
            r.notify = true;
        }
        if (r.notify) {
            r.notify = false;
            if (auto ok = events_.notify(r.mapped.port); !ok) {
                fail("event channel notify failed", route, ok.error());
                return;
            }
        }
    }
}

void RingConnection::fail(std::string_view why, server::Route route, Errno err) {
    log::limited(
        log_limiter_, log::Level::kWarning, "transport", name_, "closing device rings",
        {{"reason", std::string(why)}, {"ring", std::to_string(route)}, {"errno", err.message()}});
    close();
}

void RingConnection::close() {
    if (closed_) return;
    closed_ = true;
    for (auto& r : rings_)
        r.waiting.clear();
    sent_.clear();
    if (poll_.pending) loop_.cancel(&poll_);
    if (sink_) sink_->on_closed();
}

}  // namespace xen9p::transport
