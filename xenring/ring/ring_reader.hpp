// Consumer of one half of a Xen 9pfs data area: whole 9P messages out of the
// guest-shared bytes into private memory. The backend consumes `out`
// (requests), the frontend consumes `in` (replies).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/errno.hpp"
#include "base/split_bytes.hpp"
#include "xenring/ring/data_intf.hpp"

namespace xen9p::ring {

class RingReader {
  public:
    // Backend side: reads requests from the out half. `data` is the whole
    // mapped data area (data_area_size(order) bytes); messages above `msize`
    // are a protocol error.
    static RingReader backend(DataIntf& intf, std::span<std::byte> data, unsigned order,
                              std::size_t msize);
    // Frontend side: reads replies from the in half.
    static RingReader frontend(DataIntf& intf, std::span<std::byte> data, unsigned order,
                               std::size_t msize);

    // One pass: reads the producer index once. When a whole message is queued,
    // copies it into `dst` (at least msize bytes), advances the consumer index
    // and returns its size; returns 0 when no whole message is queued yet.
    // EPROTO: the producer index jumped past the ring. EMSGSIZE: a header size
    // below 7 or above msize. Both are sticky: the ring stays broken.
    Result<std::size_t> read(std::span<std::byte> dst);
    // As read(), into `out`, which becomes the message (emptied when none is
    // queued): one copy, without zero-filling a buffer first.
    Result<std::size_t> read_into(std::vector<std::byte>& out);

    // As read(), but copies only the message's first head.size() bytes into
    // `head`; the rest stays in the ring, where `rest` points (it may wrap).
    // Only for a reader that holds what it takes (hold()): the rest is the
    // producer's to change at any time, but not to reuse before release().
    // EMSGSIZE (sticky) for a message no larger than `head`.
    Result<std::size_t> read_split(std::span<std::byte> head, SplitBytes& rest);

    // The same checks as read() without consuming: the size of the whole
    // message queued next, 0 when none is complete yet. Lets the caller pick
    // the private buffer before the one copy out of shared memory; read()
    // checks everything again, so the guest gains nothing by changing the
    // header in between.
    Result<std::size_t> peek();

    // The negotiated msize: larger messages are a protocol error from now on.
    void set_msize(std::size_t msize) { msize_ = msize; }

    // The message type in the header peek() validated last.
    std::uint8_t peeked_type() const { return static_cast<std::uint8_t>(header_[4]); }

    // Our consumer index: what was taken so far.
    RING_IDX consumed() const { return cons_; }

    // From now on what is taken stays the producer's until release(): the
    // messages remain in the ring until their replies are out.
    void hold() { hold_ = true; }
    // Gives the bytes up to `up_to` (at most consumed()) back to the producer.
    void release(RING_IDX up_to);
    // Takes the whole message peek() just measured without copying it.
    void skip(std::size_t size) { consume(size); }

    // The producer index moved since the last pass (one relaxed load: for a
    // poller deciding whether a pass is worth making; a broken ring never is).
    bool produced_since_last_pass() const;

    // Bytes queued at the last pass (for tests and statistics).
    std::size_t last_queued() const { return last_queued_; }

  private:
    RingReader(RING_IDX& cons, RING_IDX& prod, std::span<std::byte> ring, std::size_t msize);

    // The `size` bytes from index `from`, in one piece or two at the wrap.
    SplitBytes bytes_at(RING_IDX from, std::size_t size) const;
    void copy_out(RING_IDX from, std::span<std::byte> dst) const;
    // Gives the `size` bytes at the consumer index back to the producer.
    void consume(std::size_t size);

    RING_IDX* cons_field_;
    RING_IDX* prod_field_;
    std::span<std::byte> ring_;
    std::size_t msize_;
    RING_IDX cons_;  // private copy: the guest cannot move our consumer
    std::size_t last_queued_ = 0;
    RING_IDX last_prod_;
    bool hold_ = false;
    std::byte header_[kHeaderSize]{};  // private copy of the last header peek() validated
    Errno broken_{};
};

}  // namespace xen9p::ring
