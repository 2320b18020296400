#include "xenring/ring/data_intf.hpp"

#include <algorithm>
#include <cerrno>

namespace xen9p::ring {

std::size_t mask_index(RING_IDX idx, std::size_t size) {
    return xen_9pfs_mask(idx, static_cast<RING_IDX>(size));
}

std::size_t queued(RING_IDX prod, RING_IDX cons, std::size_t size) {
    return xen_9pfs_queued(prod, cons, static_cast<RING_IDX>(size));
}

Result<unsigned> read_ring_order(DataIntf& intf, unsigned max_order) {
    const RING_IDX order =
        std::atomic_ref<RING_IDX>(intf.ring_order).load(std::memory_order_relaxed);
    if (order == 0 || order > max_order || order > kMaxRingOrder) return fail(EPROTO);
    return static_cast<unsigned>(order);
}

std::vector<grant_ref_t> read_refs(DataIntf& intf, unsigned order) {
    const std::size_t count = std::min(std::size_t{1} << std::min(order, kMaxRingOrder), kMaxRefs);
    std::vector<grant_ref_t> refs(count);
    for (std::size_t i = 0; i < count; ++i)
        refs[i] = std::atomic_ref<grant_ref_t>(intf.ref[i]).load(std::memory_order_relaxed);
    return refs;
}

}  // namespace xen9p::ring
