// The request/reply path of the user-space frontend, as Linux trans_xen does
// it: the ring is tag % number of rings; a request is written only when it fits
// whole and is published with one out_prod update; replies are read from every
// ring in any order and matched by tag; a reply to a tag not in flight is
// skipped ("Wrong req tag"). Events go through a Doorbell (event channels).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "client/transport.hpp"
#include "xenring/ring/data_intf.hpp"
#include "xenring/ring/ring_reader.hpp"
#include "xenring/ring/ring_writer.hpp"

namespace xen9p::frontend {

// One ring as the frontend sees its own memory: the interface page and the
// data area of 1 << order pages (in half first, out half second).
struct RingMemory {
    ring::DataIntf* intf = nullptr;
    std::span<std::byte> data;
    unsigned order = 0;
};

// Notifications between frontend and backend, one event channel per ring.
class Doorbell {
  public:
    virtual ~Doorbell() = default;
    virtual Status notify(std::size_t ring) = 0;
    // Blocks until an event arrived on any ring since the last wait() (an
    // event that arrived before this call returns at once).
    virtual Status wait() = 0;
};

// Linux's p9_xen_trans.maxsize: 512 KiB, or half the ring when 512 KiB does
// not fit in one direction of the ring.
std::uint32_t max_msize_for_order(unsigned order);

class RingTransport final : public client::ClientTransport {
  public:
    RingTransport(std::span<const RingMemory> rings, Doorbell& doorbell);

    // Waits (draining replies meanwhile) until the whole request fits in the
    // out half of ring tag % n, then publishes it and notifies that ring.
    Status send(const client::OutgoingMessage& message) override;
    // The next reply of a tag in flight, from whichever ring has one.
    Result<std::vector<std::byte>> receive(std::size_t max_size) override;
    // Stops expecting `tag`; a reply to it already drained is dropped too.
    void abandon(std::uint16_t tag) override;

    // max_msize_for_order of the smallest ring.
    std::uint32_t max_msize() const override { return max_msize_; }

    // Replies skipped because their tag was not in flight.
    std::size_t skipped_replies() const { return skipped_; }

  private:
    struct Ring {
        ring::RingWriter writer;
        ring::RingReader reader;
    };

    // Moves every whole reply queued on any ring into ready_.
    Status drain();

    std::vector<Ring> rings_;
    Doorbell& doorbell_;
    std::deque<std::vector<std::byte>> ready_;
    std::vector<bool> in_flight_;
    std::size_t skipped_ = 0;
    std::uint32_t max_msize_ = 0;
};

}  // namespace xen9p::frontend
