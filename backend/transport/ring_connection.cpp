#include "backend/transport/ring_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <limits>

#include "backend/log/log.hpp"
#include "backend/server/kill_point.hpp"
#include "p9proto/constants.hpp"

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
        rings_.push_back(Ring{.mapped = std::move(mapped),
                              .reader = ring::RingReader::backend(intf, data, order, max_msize_),
                              .writer = ring::RingWriter::backend(intf, data, order)});
    }
    for (auto& r : rings_)
        r.published = r.settled = r.writer.produced();
    poll_.owner = this;
    poll_.handler = &RingConnection::event;
    flush_.owner = this;
    flush_.handler = &RingConnection::flush;
}

RingConnection::~RingConnection() {
    loop_.remove_poller(*this);
}

void RingConnection::start(server::TransportSink& sink) {
    sink_ = &sink;
    loop_.add_poller(*this);
    if (log_ != nullptr && !resumed_) {
        log_->set_routes(rings_.size());
        for (server::Route route = 0; route < rings_.size(); ++route)
            log_->taken(route, rings_[route].reader.consumed());
    }
    // The guest may have written requests and notified before we bound the
    // ports: look at every ring once instead of waiting for an event. A
    // server that died while the loop was awake left its ports masked.
    for (const Ring& r : rings_)
        masked_.push_back(r.mapped.port);
    service_all();
    arm_poll();
}

namespace {

// Free-running ring indices: is `a` before `b`?
bool before(RING_IDX a, RING_IDX b) {
    return static_cast<std::int32_t>(a - b) < 0;
}

}  // namespace

bool RingConnection::log_to(server::RouteLog& log) {
    log_ = &log;
    for (auto& r : rings_)
        r.reader.hold();
    return true;
}

Status RingConnection::resume(std::span<const server::StoredRoute> routes) {
    if (log_ == nullptr) return xen9p::fail(ENOTRECOVERABLE);
    // A server that died before it logged anything had taken nothing.
    if (routes.empty()) return {};
    resumed_ = true;
    if (routes.size() != rings_.size()) return xen9p::fail(EUCLEAN);
    for (std::size_t i = 0; i < rings_.size(); ++i) {
        Ring& r = rings_[i];
        const server::StoredRoute& stored = routes[i];
        const RING_IDX cons = r.reader.consumed();
        const std::size_t ring_size = ring::flex_ring_size(r.mapped.order);
        // The guest could have moved its view of our consumer index: it may
        // only stand within the ring before what the dead server took.
        if (static_cast<RING_IDX>(stored.taken - cons) > ring_size) return xen9p::fail(EUCLEAN);
        // Its replies were written in order after what is published: the
        // newest answered request's reply_end is where writing stopped.
        RING_IDX written = r.writer.produced();
        for (const auto& a : stored.answered) {
            // Committed, not written: the session's (answered when redelivered).
            if (!a.written) continue;
            if (!before(a.request, stored.taken) || before(a.request, cons)) {
                // Released before the death, its record not yet freed.
                log_->released(a.record);
                continue;
            }
            if (static_cast<RING_IDX>(a.reply_end - r.writer.produced()) <= ring_size &&
                before(written, a.reply_end))
                written = a.reply_end;
            if (!r.answered_before.emplace(a.request, a).second) log_->released(a.record);
        }
        // Every reply skipped must become published, or the ring would stop.
        for (const auto& [request, a] : r.answered_before)
            if (before(written, a.reply_end)) return xen9p::fail(EUCLEAN);
        if (!r.writer.resume_at(written)) return xen9p::fail(EUCLEAN);
        r.published = r.settled = written;
        r.retaking = before(cons, stored.taken);
        r.retaken_until = stored.taken;
        if (!r.retaking) forget_answered_before(r);
        r.notify = true;
    }
    schedule_flush();
    return {};
}

void RingConnection::forget_answered_before(Ring& r) {
    for (const auto& [request, a] : r.answered_before)
        log_->released(a.record);
    r.answered_before.clear();
    r.retaking = false;
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
    loop_.defer(&flush_);
}

bool RingConnection::has_news() {
    // Paused or waiting for log records, delivery would not look at the ring:
    // its moved producer index would be news forever.
    if (closed_ || paused_ || log_full_) return false;
    return std::ranges::any_of(rings_,
                               [](const Ring& r) { return r.reader.produced_since_last_pass(); });
}

void RingConnection::take_news() {
    service_all();
}

void RingConnection::event(int result) {
    if (closed_) return;
    if (result < 0) {
        fail("event channel poll failed", 0, Errno{-result});
        return;
    }
    // The ports that fired stay masked while the loop is awake: the guest's
    // further notifications wake nobody, and the loop looks at the rings
    // itself. before_sleep() unmasks them after the rings were read, so a
    // notification that came meanwhile fires again instead of being lost.
    // One port per wake-up: every ring is served anyway, and another port
    // that fired keeps the fd readable, so the next poll completes at once;
    // asking until none is left would cost a system call per request. The
    // poll is armed again only before the loop sleeps: while it is awake the
    // loop looks at the rings itself.
    auto port = events_.pending();
    if (!port) {
        fail("event channel failed", 0, port.error());
        return;
    }
    if (*port && std::ranges::find(masked_, **port) == masked_.end()) masked_.push_back(**port);
    service_all();
}

void RingConnection::before_sleep() {
    if (closed_) return;
    for (platform::Port port : masked_) {
        if (auto ok = events_.unmask(port); !ok) {
            fail("event channel unmask failed", 0, ok.error());
            return;
        }
    }
    masked_.clear();  // keeps its capacity: no allocation per sleep
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
        const Outgoing& out = r.waiting.front();
        const RING_IDX start = r.writer.produced();
        auto status = r.writer.write(out.bytes);
        if (!status) {
            if (status.error().value == EAGAIN) return true;
            fail("reply ring broken", static_cast<server::Route>(&r - rings_.data()),
                 status.error());
            return false;
        }
        if (r.placed.empty()) {
            r.settled = r.writer.produced();
            answered(r, out.request, out.record, out.cookie);
        } else {
            // Behind reserved room: final once that is.
            r.placed.push_back({.start = start,
                                .room = out.bytes.size(),
                                .length = out.bytes.size(),
                                .done = true,
                                .answers = true,
                                .request = out.request,
                                .record = out.record,
                                .cookie = out.cookie});
        }
        r.waiting.pop_front();
    }
    return true;
}

bool RingConnection::deliver(server::Route route) {
    Ring& r = rings_[route];
    while (!closed_) {
        if (log_ != nullptr && outstanding_ >= log_->capacity()) {
            // Every record is in use: wait until published replies free some.
            log_full_ = true;
            return true;
        }
        auto queued = r.reader.peek();
        if (!queued) {
            fail("request ring broken", route, queued.error());
            return false;
        }
        if (*queued == 0) return true;
        const RING_IDX start = r.reader.consumed();
        const bool retaken = r.retaking && before(start, r.retaken_until);
        if (r.retaking && !retaken) forget_answered_before(r);
        if (retaken) {
            if (auto it = r.answered_before.find(start); it != r.answered_before.end()) {
                // Answered by the dead server: never again.
                r.reader.skip(*queued);
                r.taken.push_back(
                    {start, r.reader.consumed(), true, it->second.reply_end, it->second.record});
                ++outstanding_;
                r.answered_before.erase(it);
                schedule_flush();
                continue;
            }
        }
        // A Twrite's data stays where the guest put it: a ring that holds its
        // requests until they are answered keeps it for the write, which the
        // kernel takes straight from there. Only the fields before it are
        // copied, as they must not change while they are acted on.
        const bool split =
            log_ != nullptr && *queued > p9proto::kWriteHeaderSize &&
            r.reader.peeked_type() == static_cast<std::uint8_t>(p9proto::MsgType::Twrite);
        auto buffer = sink_->request_buffer(split ? p9proto::kWriteHeaderSize : *queued);
        if (buffer.empty()) {
            paused_ = true;
            return true;
        }
        SplitBytes data;
        auto size = split ? r.reader.read_split(buffer.first(p9proto::kWriteHeaderSize), data)
                          : r.reader.read(buffer);
        if (!size) {
            fail("request ring broken", route, size.error());
            return false;
        }
        // The guest took back what peek() saw; the sink keeps its buffer.
        if (*size == 0) return true;
        if (log_ != nullptr) {
            // Before the session acts on it; a retaken request is logged so already.
            if (!retaken) log_->taken(route, r.reader.consumed());
            r.taken.push_back({start, r.reader.consumed()});
            ++outstanding_;
        } else {
            // Space in `out` was freed: a frontend waiting to write hears it.
            r.notify = true;
            schedule_flush();
        }
        // Bytes in its own buffer are always accepted.
        sink_->on_message({route, start, retaken},
                          buffer.first(split ? p9proto::kWriteHeaderSize : *size), data);
    }
    return false;
}

void RingConnection::resume_input() {
    if (!paused_ || closed_) return;
    paused_ = false;
    service_all();
}

void RingConnection::send(const server::Origin& origin, std::span<const std::byte> bytes,
                          std::uint64_t cookie) {
    if (closed_) return;
    if (origin.route >= rings_.size()) {
        // Routes come from this transport; anything else is a bug upstream.
        fail("reply for an unknown ring", origin.route, Errno{EINVAL});
        return;
    }
    Ring& r = rings_[origin.route];
    if (Placed* room = reserved(r, origin.position)) {
        if (bytes.size() <= room->room) {
            r.writer.write_at(room->start, bytes);
            fill(r, *room, bytes.size(), origin, cookie);
            return;
        }
        room->done = true;
        settle(r);
        if (closed_) return;
    }
    r.waiting.push_back({bytes, cookie, origin.position, origin.record});
    place_waiting(r);
}

void RingConnection::drop(const server::Origin& origin) {
    if (closed_ || origin.route >= rings_.size()) return;
    Ring& r = rings_[origin.route];
    if (Placed* room = reserved(r, origin.position)) {
        fill(r, *room, 0, origin, std::nullopt);
    } else if (!r.placed.empty()) {
        r.placed.push_back({.start = r.writer.produced(),
                            .done = true,
                            .answers = true,
                            .request = origin.position,
                            .record = origin.record});
    } else {
        answered(r, origin.position, origin.record, std::nullopt);
    }
}

std::optional<MutableSplitBytes> RingConnection::reserve_reply(const server::Origin& origin,
                                                               std::size_t head, std::size_t data) {
    if (closed_ || origin.route >= rings_.size()) return std::nullopt;
    Ring& r = rings_[origin.route];
    // Replies already waiting for room go first.
    if (!r.waiting.empty()) return std::nullopt;
    // No room now (or a broken ring, which the next write reports).
    auto start = r.writer.reserve(head + data);
    if (!start) return std::nullopt;
    r.placed.push_back({.start = *start, .room = head + data, .request = origin.position});
    return r.writer.bytes_at(*start + static_cast<RING_IDX>(head), data);
}

void RingConnection::send_in_place(const server::Origin& origin, std::span<const std::byte> head,
                                   std::size_t data_length, std::uint64_t cookie) {
    if (closed_) return;
    Placed* room =
        origin.route < rings_.size() ? reserved(rings_[origin.route], origin.position) : nullptr;
    if (room == nullptr || head.size() + data_length > room->room) {
        // The session placed it: anything else is a bug upstream.
        fail("reply for room never reserved", origin.route, Errno{EINVAL});
        return;
    }
    Ring& r = rings_[origin.route];
    r.writer.write_at(room->start, head);
    fill(r, *room, head.size() + data_length, origin, cookie);
}

void RingConnection::unreserve(const server::Origin& origin) {
    if (closed_ || origin.route >= rings_.size()) return;
    Ring& r = rings_[origin.route];
    if (Placed* room = reserved(r, origin.position)) {
        room->done = true;
        settle(r);
    }
}

RingConnection::Placed* RingConnection::reserved(Ring& r, RING_IDX request) {
    for (Placed& p : r.placed)
        if (!p.done && p.request == request) return &p;
    return nullptr;
}

void RingConnection::fill(Ring& r, Placed& room, std::size_t length, const server::Origin& origin,
                          std::optional<std::uint64_t> cookie) {
    room.length = length;
    room.done = true;
    room.answers = true;
    room.record = origin.record;
    room.cookie = cookie;
    settle(r);
}

void RingConnection::settle(Ring& r) {
    while (!r.placed.empty() && r.placed.front().done) {
        const Placed& p = r.placed.front();
        if (p.start != r.settled) r.writer.move_back(p.start, r.settled, p.length);
        r.settled += static_cast<RING_IDX>(p.length);
        if (p.answers) answered(r, p.request, p.record, p.cookie);
        r.placed.pop_front();
    }
    // Nothing is placed past the final replies: what gaps were left is free,
    // maybe for a reply that waits for room (no consumer may tell us so).
    if (r.placed.empty()) {
        r.writer.take_back(r.settled);
        place_waiting(r);
    }
}

void RingConnection::answered(Ring& r, RING_IDX request, std::uint32_t record,
                              std::optional<std::uint64_t> cookie) {
    if (log_ != nullptr) {
        auto t = std::ranges::find_if(
            r.taken, [&](const Taken& each) { return each.start == request && !each.answered; });
        if (t != r.taken.end()) {
            t->answered = true;
            t->reply_end = r.settled;
            t->record = record;
            log_->written(record, t->reply_end);
        }
    }
    if (cookie) {
        server::reached(server::KillPoint::kWritten);
        sent_.push_back(*cookie);
        r.unpublished = true;
    }
    schedule_flush();
}

void RingConnection::release_answered(Ring& r) {
    if (log_ == nullptr) return;
    auto& records = released_;
    records.clear();
    RING_IDX cons = r.reader.consumed();
    while (!r.taken.empty() && r.taken.front().answered &&
           !before(r.published, r.taken.front().reply_end)) {
        cons = r.taken.front().end;
        records.push_back(r.taken.front().record);
        r.taken.pop_front();
        --outstanding_;
    }
    if (records.empty()) return;
    server::reached(server::KillPoint::kPublished);
    // The guest's index moves first: a record freed before would let a
    // replacement take its request for one never answered.
    r.reader.release(cons);
    server::reached(server::KillPoint::kReleased);
    for (const auto record : records)
        log_->released(record);
    // Space in `out` was freed: a frontend waiting to write hears it.
    r.notify = true;
}

void RingConnection::flush(int) {
    if (closed_) return;
    // What was written so far is published below, after on_sent: the session
    // may then record that nothing is in flight (counting these replies as
    // written) before the guest can act on them. What on_sent writes (a
    // Tflush answered after its victim) waits for the next flush, so that no
    // Rflush is visible before the reply it follows, on any ring.
    for (auto& r : rings_) {
        r.publish_up_to = r.settled;
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
            r.published = r.publish_up_to;
            r.unpublished = r.settled != r.publish_up_to;
            r.notify = true;
        }
        release_answered(r);
        if (r.notify) {
            r.notify = false;
            if (auto ok = events_.notify(r.mapped.port); !ok) {
                fail("event channel notify failed", route, ok.error());
                return;
            }
        }
    }
    if (log_full_ && outstanding_ < log_->capacity()) {
        log_full_ = false;
        service_all();
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
    for (auto& r : rings_) {
        r.waiting.clear();
        r.placed.clear();
    }
    sent_.clear();
    if (poll_.pending) loop_.cancel(&poll_);
    loop_.remove_poller(*this);
    if (sink_) sink_->on_closed();
}

}  // namespace xen9p::transport
