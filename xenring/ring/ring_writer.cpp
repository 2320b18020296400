#include "xenring/ring/ring_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xen9p::ring {

RingWriter RingWriter::backend(DataIntf& intf, std::span<std::byte> data, unsigned order) {
    return RingWriter(intf.in_cons, intf.in_prod, data.first(flex_ring_size(order)));
}

RingWriter RingWriter::frontend(DataIntf& intf, std::span<std::byte> data, unsigned order) {
    const std::size_t size = flex_ring_size(order);
    return RingWriter(intf.out_cons, intf.out_prod, data.subspan(size, size));
}

RingWriter::RingWriter(RING_IDX& cons, RING_IDX& prod, std::span<std::byte> ring)
    : cons_field_(&cons),
      prod_field_(&prod),
      ring_(ring),
      prod_(std::atomic_ref<RING_IDX>(prod).load(std::memory_order_relaxed)) {}

Result<RING_IDX> RingWriter::reserve(std::size_t size) {
    if (broken_.value != 0) return fail(broken_.value);
    if (size > ring_.size()) return fail(EMSGSIZE);
    const RING_IDX cons = load_index(*cons_field_);
    // The guest's consumer may not be ahead of what we produced, nor so far
    // behind that more than a ring's worth is outstanding.
    const std::size_t used = static_cast<RING_IDX>(prod_ - cons);
    if (used > ring_.size()) {
        broken_ = Errno{EPROTO};
        return fail(EPROTO);
    }
    last_free_ = ring_.size() - used;
    if (size > last_free_) return fail(EAGAIN);
    // The consumer's reads of the space we are about to overwrite are done.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const RING_IDX start = prod_;
    prod_ += static_cast<RING_IDX>(size);
    return start;
}

MutableSplitBytes RingWriter::bytes_at(RING_IDX at, std::size_t size) {
    return ring::bytes_at(ring_, at, size);
}

void RingWriter::write_at(RING_IDX at, std::span<const std::byte> bytes) {
    const MutableSplitBytes to = bytes_at(at, bytes.size());
    // An empty span may have a null data(), which memcpy must not see.
    if (!to.first.empty()) std::memcpy(to.first.data(), bytes.data(), to.first.size());
    if (!to.second.empty())
        std::memcpy(to.second.data(), bytes.data() + to.first.size(), to.second.size());
}

void RingWriter::move_back(RING_IDX from, RING_IDX to, std::size_t size) {
    // Front to back, a piece at a time that wraps at neither end: with `to`
    // before `from`, no byte is overwritten before it was moved.
    while (size != 0) {
        const std::size_t src = mask_index(from, ring_.size());
        const std::size_t dst = mask_index(to, ring_.size());
        const std::size_t piece = std::min({size, ring_.size() - src, ring_.size() - dst});
        std::memmove(ring_.data() + dst, ring_.data() + src, piece);
        from += static_cast<RING_IDX>(piece);
        to += static_cast<RING_IDX>(piece);
        size -= piece;
    }
}

Status RingWriter::write(std::span<const std::byte> message) {
    auto start = reserve(message.size());
    if (!start) return std::unexpected(start.error());
    write_at(*start, message);
    return {};
}

void RingWriter::publish_up_to(RING_IDX produced) {
    store_index(*prod_field_, produced);
}

Status RingWriter::resume_at(RING_IDX produced) {
    // Only forward, and never past what the consumer left free.
    const RING_IDX cons = load_index(*cons_field_);
    if (static_cast<RING_IDX>(produced - prod_) > ring_.size() ||
        static_cast<RING_IDX>(produced - cons) > ring_.size())
        return fail(EPROTO);
    prod_ = produced;
    publish();
    return {};
}

Status RingWriter::write_and_publish(std::span<const std::byte> message) {
    auto status = write(message);
    if (status) publish();
    return status;
}

}  // namespace xen9p::ring
