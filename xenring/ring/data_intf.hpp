// The shared interface page of one Xen 9pfs ring (struct xen_9pfs_data_intf of
// xen/io/9pfs.h) and the flex-ring index arithmetic of xen/io/ring.h.
// The page belongs to the guest: every field is read through `load_index` /
// `load_u32` (one untorn load each) and validated by the caller before use.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/errno.hpp"

namespace xen9p::ring {

inline constexpr std::size_t kXenPageSize = 4096;
inline constexpr std::size_t kHeaderSize = 7;  // size[4] id[1] tag[2]
// (4096 - 132) / 4 = 991 refs fit in the page; the largest power of two is 512.
inline constexpr unsigned kMaxRingOrder = 9;
inline constexpr std::size_t kMaxRefs = (kXenPageSize - 132) / 4;

struct DataIntf {
    std::uint32_t in_cons;
    std::uint32_t in_prod;
    std::uint8_t pad1[56];
    std::uint32_t out_cons;
    std::uint32_t out_prod;
    std::uint8_t pad2[56];
    std::uint32_t ring_order;
    std::uint32_t ref[kMaxRefs];
};

static_assert(offsetof(DataIntf, in_cons) == 0);
static_assert(offsetof(DataIntf, in_prod) == 4);
static_assert(offsetof(DataIntf, out_cons) == 64);
static_assert(offsetof(DataIntf, out_prod) == 68);
static_assert(offsetof(DataIntf, ring_order) == 128);
static_assert(offsetof(DataIntf, ref) == 132);
static_assert(sizeof(DataIntf) == kXenPageSize);
static_assert((std::size_t{1} << kMaxRingOrder) <= kMaxRefs);
static_assert(std::atomic_ref<std::uint32_t>::required_alignment <= alignof(std::uint32_t));

// XEN_FLEX_RING_SIZE: bytes of each direction (in or out) for a ring order.
constexpr std::size_t flex_ring_size(unsigned order) {
    return std::size_t{1} << (order + 12 - 1);
}

// Bytes of the whole data area (both halves) for a ring order.
constexpr std::size_t data_area_size(unsigned order) {
    return std::size_t{1} << (order + 12);
}

constexpr std::size_t mask_index(std::uint32_t idx, std::size_t size) {
    return idx & (size - 1);
}

// xen_9pfs_queued: bytes between cons and prod. Masked positions that are equal
// mean "full" unless the free-running indices themselves are equal ("empty").
constexpr std::size_t queued(std::uint32_t prod, std::uint32_t cons, std::size_t size) {
    if (prod == cons) return 0;
    const std::size_t p = mask_index(prod, size);
    const std::size_t c = mask_index(cons, size);
    if (p == c) return size;
    return p > c ? p - c : size - (c - p);
}

// A peer's index, read once with acquire semantics so the data it covers is
// visible afterwards.
inline std::uint32_t load_index(std::uint32_t& field) {
    return std::atomic_ref<std::uint32_t>(field).load(std::memory_order_acquire);
}

// Our own index, published with release semantics after the data it covers.
inline void store_index(std::uint32_t& field, std::uint32_t value) {
    std::atomic_ref<std::uint32_t>(field).store(value, std::memory_order_release);
}

// Reads `ring_order` once and checks it against what the backend advertised
// (max-ring-page-order): EPROTO when it is 0 or larger.
Result<unsigned> read_ring_order(DataIntf& intf, unsigned max_order);

// Copies the 1 << order data-page grant refs out of the page (one read each);
// `order` must come from read_ring_order.
std::vector<std::uint32_t> read_refs(DataIntf& intf, unsigned order);

}  // namespace xen9p::ring
