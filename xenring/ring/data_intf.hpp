// The shared interface page of one Xen 9pfs ring and the flex-ring index
// arithmetic, both taken from Xen's public headers as Linux trans_xen.c and
// xen-9pfsd take them: xen/io/9pfs.h expands DEFINE_XEN_FLEX_RING_AND_INTF
// (xen/io/ring.h) into struct xen_9pfs_data_intf and the xen_9pfs_* helpers.
// The page belongs to the guest: every field is read through `load_index` (or
// read_ring_order / read_refs, one untorn load each) and validated by the
// caller before use.
#pragma once

// ring.h expects uint8_t, size_t and memcpy to be declared before it.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

extern "C" {
#include <xen/io/9pfs.h>
}

#include "base/errno.hpp"
#include "base/split_bytes.hpp"

namespace xen9p::ring {

// The interface page as Xen declares it. Its ref[] is a flexible array that
// runs to the end of the granted page: only ever view a whole page as one.
using DataIntf = ::xen_9pfs_data_intf;

inline constexpr std::size_t kXenPageSize = std::size_t{1} << XEN_PAGE_SHIFT;
inline constexpr std::size_t kHeaderSize = 7;  // size[4] id[1] tag[2]
// Grant refs that fit in the page after the header: (4096 - 132) / 4 = 991.
inline constexpr std::size_t kMaxRefs =
    (kXenPageSize - offsetof(DataIntf, ref)) / sizeof(grant_ref_t);
// The largest power of two of them (MAX_RING_ORDER of xen-9pfsd,
// XEN_9PFS_RING_ORDER of Linux): ours, as the header leaves it to each side.
inline constexpr unsigned kMaxRingOrder = 9;

// The facts the ring code relies on. The offsets are the ABI every frontend
// was built against (Linux trans_xen.c uses the same header); the fuzz target
// aims at them by offsetof.
static_assert(std::is_same_v<RING_IDX, std::uint32_t>);
static_assert(std::is_same_v<grant_ref_t, std::uint32_t>);
static_assert(offsetof(DataIntf, in_cons) == 0);
static_assert(offsetof(DataIntf, in_prod) == 4);
static_assert(offsetof(DataIntf, out_cons) == 64);
static_assert(offsetof(DataIntf, out_prod) == 68);
static_assert(offsetof(DataIntf, ring_order) == 128);
static_assert(offsetof(DataIntf, ref) == 132);
static_assert(sizeof(DataIntf) == offsetof(DataIntf, ref));
static_assert(kMaxRefs == 991);
static_assert((std::size_t{1} << kMaxRingOrder) <= kMaxRefs);
static_assert(std::atomic_ref<RING_IDX>::required_alignment <= alignof(RING_IDX));

// XEN_FLEX_RING_SIZE: bytes of each direction (in or out) for a ring order.
constexpr std::size_t flex_ring_size(unsigned order) {
    return XEN_FLEX_RING_SIZE(order);
}

// Bytes of the whole data area (both halves) for a ring order.
constexpr std::size_t data_area_size(unsigned order) {
    return 2 * flex_ring_size(order);
}

// xen_9pfs_mask: the position of a free-running index in a ring of `size`
// bytes, a power of two (a flex_ring_size: at most 1 MiB, so it fits a
// RING_IDX). Out of line, as Xen's helpers are static in each translation unit.
std::size_t mask_index(RING_IDX idx, std::size_t size);

// xen_9pfs_queued: bytes between cons and prod. Masked positions that are equal
// mean "full" unless the free-running indices themselves are equal ("empty").
std::size_t queued(RING_IDX prod, RING_IDX cons, std::size_t size);

// Where `size` bytes (at most the ring's) from free-running index `from` lie
// in `ring`: from its position to the end, then on from the ring's start.
template <typename Byte>
BasicSplitBytes<Byte> bytes_at(std::span<Byte> ring, RING_IDX from, std::size_t size) {
    const std::size_t start = mask_index(from, ring.size());
    const std::size_t first = std::min(size, ring.size() - start);
    return {ring.subspan(start, first), ring.first(size - first)};
}

// A peer's index, read once with acquire semantics so the data it covers is
// visible afterwards.
inline RING_IDX load_index(RING_IDX& field) {
    return std::atomic_ref<RING_IDX>(field).load(std::memory_order_acquire);
}

// Our own index, published with release semantics after the data it covers.
inline void store_index(RING_IDX& field, RING_IDX value) {
    std::atomic_ref<RING_IDX>(field).store(value, std::memory_order_release);
}

// Reads `ring_order` once and checks it against what the backend advertised
// (max-ring-page-order): EPROTO when it is 0 or larger.
Result<unsigned> read_ring_order(DataIntf& intf, unsigned max_order);

// Copies the 1 << order data-page grant refs out of the page (one read each);
// `order` must come from read_ring_order.
std::vector<grant_ref_t> read_refs(DataIntf& intf, unsigned order);

}  // namespace xen9p::ring
