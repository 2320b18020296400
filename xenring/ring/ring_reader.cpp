#include "xenring/ring/ring_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xen9p::ring {

namespace {

std::uint32_t le32(const std::byte* p) {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace

RingReader RingReader::backend(DataIntf& intf, std::span<std::byte> data, unsigned order,
                               std::size_t msize) {
    const std::size_t size = flex_ring_size(order);
    return RingReader(intf.out_cons, intf.out_prod, data.subspan(size, size), msize);
}

RingReader RingReader::frontend(DataIntf& intf, std::span<std::byte> data, unsigned order,
                                std::size_t msize) {
    return RingReader(intf.in_cons, intf.in_prod, data.first(flex_ring_size(order)), msize);
}

RingReader::RingReader(RING_IDX& cons, RING_IDX& prod, std::span<std::byte> ring, std::size_t msize)
    : cons_field_(&cons),
      prod_field_(&prod),
      ring_(ring),
      msize_(msize),
      cons_(std::atomic_ref<RING_IDX>(cons).load(std::memory_order_relaxed)),
      last_prod_(cons_) {}

bool RingReader::produced_since_last_pass() const {
    return broken_.value == 0 &&
           std::atomic_ref<RING_IDX>(*prod_field_).load(std::memory_order_relaxed) != last_prod_;
}

SplitBytes RingReader::bytes_at(RING_IDX from, std::size_t size) const {
    return ring::bytes_at(std::span<const std::byte>(ring_), from, size);
}

void RingReader::copy_out(RING_IDX from, std::span<std::byte> dst) const {
    const SplitBytes bytes = bytes_at(from, dst.size());
    std::memcpy(dst.data(), bytes.first.data(), bytes.first.size());
    std::memcpy(dst.data() + bytes.first.size(), bytes.second.data(), bytes.second.size());
}

Result<std::size_t> RingReader::peek() {
    if (broken_.value != 0) return fail(broken_.value);
    const RING_IDX prod = load_index(*prod_field_);
    last_prod_ = prod;
    // Free-running indices: the distance, not the masked positions, tells
    // whether the peer claims more than the ring holds.
    const std::size_t avail = static_cast<RING_IDX>(prod - cons_);
    if (avail > ring_.size()) {
        broken_ = Errno{EPROTO};
        return fail(EPROTO);
    }
    last_queued_ = avail;
    if (avail < kHeaderSize) return 0;

    copy_out(cons_, header_);
    const std::size_t size = le32(header_);
    if (size < kHeaderSize || size > msize_ || size > ring_.size()) {
        broken_ = Errno{EMSGSIZE};
        return fail(EMSGSIZE);
    }
    if (size > avail) return 0;
    return size;
}

Result<std::size_t> RingReader::read(std::span<std::byte> dst) {
    auto size = peek();
    if (!size || *size == 0) return size;
    if (*size > dst.size()) {
        broken_ = Errno{EMSGSIZE};
        return fail(EMSGSIZE);
    }

    // The header is re-copied with the body; the size we act on is the one
    // already validated above, so a guest rewriting it meanwhile changes nothing.
    copy_out(cons_, dst.first(*size));
    std::memcpy(dst.data(), header_, kHeaderSize);
    consume(*size);
    return *size;
}

Result<std::size_t> RingReader::read_split(std::span<std::byte> head, SplitBytes& rest) {
    rest = {};
    if (!hold_ || head.size() < kHeaderSize) return fail(EINVAL);
    auto size = peek();
    if (!size || *size == 0) return size;
    if (*size <= head.size()) {
        broken_ = Errno{EMSGSIZE};
        return fail(EMSGSIZE);
    }
    copy_out(cons_, head);
    std::memcpy(head.data(), header_, kHeaderSize);
    rest = bytes_at(cons_ + static_cast<RING_IDX>(head.size()), *size - head.size());
    consume(*size);
    return *size;
}

Result<std::size_t> RingReader::read_into(std::vector<std::byte>& out) {
    out.clear();
    auto size = peek();
    if (!size || *size == 0) return size;
    const SplitBytes bytes = bytes_at(cons_, *size);
    out.assign(bytes.first.begin(), bytes.first.end());
    out.insert(out.end(), bytes.second.begin(), bytes.second.end());
    // As in read(span): the size acted on is the validated one.
    std::memcpy(out.data(), header_, kHeaderSize);
    consume(*size);
    return *size;
}

void RingReader::consume(std::size_t size) {
    cons_ += static_cast<RING_IDX>(size);
    if (!hold_) release(cons_);
}

void RingReader::release(RING_IDX up_to) {
    // Our reads of the messages must complete before the guest may reuse them.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    store_index(*cons_field_, up_to);
}

}  // namespace xen9p::ring
