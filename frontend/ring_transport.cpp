#include "frontend/ring_transport.hpp"

#include <algorithm>

#include "p9proto/codec.hpp"

namespace xen9p::frontend {

namespace {

// XEN_9PFS_RING_ORDER of Linux.
constexpr unsigned kLinuxRingOrder = 9;

}  // namespace

std::uint32_t max_msize_for_order(unsigned order) {
    std::size_t max = std::size_t{1} << (kLinuxRingOrder + 12 - 2);
    if (max > ring::flex_ring_size(order)) max = ring::flex_ring_size(order) / 2;
    return static_cast<std::uint32_t>(max);
}

RingTransport::RingTransport(std::span<const RingMemory> rings, Doorbell& doorbell)
    : doorbell_(doorbell), in_flight_(std::size_t{p9proto::kNoTag} + 1, false) {
    max_msize_ = rings.empty() ? 0 : UINT32_MAX;
    for (const RingMemory& r : rings) {
        max_msize_ = std::min(max_msize_, max_msize_for_order(r.order));
        const std::size_t size = ring::flex_ring_size(r.order);
        // A reply can be as large as the ring; anything larger is an error
        // the reader reports.
        rings_.push_back(
            Ring{.writer = ring::RingWriter::frontend(*r.intf, r.data, r.order),
                 .reader = ring::RingReader::frontend(*r.intf, r.data, r.order, size)});
    }
}

Status RingTransport::drain() {
    for (std::size_t i = 0; i < rings_.size(); ++i) {
        bool consumed = false;
        for (;;) {
            // Copied once, into the reply's own buffer, as Linux copies into
            // the request's receive buffer.
            std::vector<std::byte> message;
            auto size = rings_[i].reader.read_into(message);
            if (!size) return std::unexpected(size.error());
            if (*size == 0) break;
            consumed = true;
            const auto header = p9proto::peek_header(message);
            if (!in_flight_[header->tag]) {
                ++skipped_;
                continue;
            }
            in_flight_[header->tag] = false;
            ready_.push_back(std::move(message));
        }
        // Linux always tells the backend when it has emptied a ring: the
        // backend may be waiting for room for its next reply.
        if (consumed) {
            if (auto st = doorbell_.notify(i); !st) return st;
        }
    }
    return {};
}

Status RingTransport::send(const client::OutgoingMessage& message) {
    if (rings_.empty()) return fail(ENOTCONN);
    const std::size_t index = message.tag % rings_.size();
    in_flight_[message.tag] = true;
    for (;;) {
        auto st = rings_[index].writer.write_and_publish(message.bytes);
        if (st) return doorbell_.notify(index);
        if (st.error().value != EAGAIN) {
            in_flight_[message.tag] = false;
            return st;
        }
        // Keep consuming replies while waiting: the backend may need room in
        // the in half before it consumes more requests.
        if (auto drained = drain(); !drained) return drained;
        if (auto waited = doorbell_.wait(); !waited) return waited;
    }
}

void RingTransport::abandon(std::uint16_t tag) {
    in_flight_[tag] = false;
    const auto erased = std::erase_if(ready_, [tag](const std::vector<std::byte>& message) {
        return p9proto::peek_header(message)->tag == tag;
    });
    skipped_ += erased;
}

Result<std::vector<std::byte>> RingTransport::receive(std::size_t /*max_size*/) {
    for (;;) {
        if (!ready_.empty()) {
            std::vector<std::byte> message = std::move(ready_.front());
            ready_.pop_front();
            return message;
        }
        if (auto st = drain(); !st) return std::unexpected(st.error());
        if (!ready_.empty()) continue;
        if (auto st = doorbell_.wait(); !st) return std::unexpected(st.error());
    }
}

}  // namespace xen9p::frontend
