// Producer of one half of a Xen 9pfs data area: whole 9P messages from private
// memory into the guest-shared bytes. The backend produces on `in` (replies),
// the frontend on `out` (requests). A message is only ever published whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/errno.hpp"
#include "xenring/ring/data_intf.hpp"

namespace xen9p::ring {

class RingWriter {
  public:
    // Backend side: writes replies into the in half of the data area.
    static RingWriter backend(DataIntf& intf, std::span<std::byte> data, unsigned order);
    // Frontend side: writes requests into the out half.
    static RingWriter frontend(DataIntf& intf, std::span<std::byte> data, unsigned order);

    // Copies one whole message in (wrapping at the end of the ring) without
    // publishing it. EAGAIN: it does not fit yet; retry after the peer has
    // consumed (nothing was written). EMSGSIZE: it can never fit. EPROTO: the
    // consumer index jumped past the ring (sticky).
    Status write(std::span<const std::byte> message);

    // Takes `size` bytes at the producer end for a message placed later, in
    // place (bytes_at, write_at); where they start. Errors as write().
    Result<RING_IDX> reserve(std::size_t size);
    // Where `size` reserved bytes from `at` lie, to be filled in place.
    MutableSplitBytes bytes_at(RING_IDX at, std::size_t size);
    // Copies `bytes` to `at`, within space reserved and not yet published.
    void write_at(RING_IDX at, std::span<const std::byte> bytes);
    // Moves `size` unpublished bytes from `from` back to `to`, before it:
    // closes the gap a message shorter than its reservation left.
    void move_back(RING_IDX from, RING_IDX to, std::size_t size);
    // Gives back what was produced after `end` (unpublished, and unwanted).
    void take_back(RING_IDX end) { prod_ = end; }

    // Makes everything written so far visible with one producer-index update.
    void publish() { publish_up_to(prod_); }
    // Makes what was written up to `produced` (a value produced() had) visible.
    void publish_up_to(RING_IDX produced);

    // write() then publish(): one reply, one publication.
    Status write_and_publish(std::span<const std::byte> message);

    // Free bytes at the last write() (for tests and statistics).
    std::size_t last_free() const { return last_free_; }

    std::size_t capacity() const { return ring_.size(); }

    // Our producer index, written-but-unpublished bytes included.
    RING_IDX produced() const { return prod_; }
    // A writer that replaces a dead one, which had written up to `produced`
    // and maybe not published all of it: publishes up to there. EPROTO if
    // that is behind the shared index or past the ring.
    Status resume_at(RING_IDX produced);

  private:
    RingWriter(RING_IDX& cons, RING_IDX& prod, std::span<std::byte> ring);

    RING_IDX* cons_field_;
    RING_IDX* prod_field_;
    std::span<std::byte> ring_;
    RING_IDX prod_;  // private copy, includes written-but-unpublished bytes
    std::size_t last_free_ = 0;
    Errno broken_{};
};

}  // namespace xen9p::ring
