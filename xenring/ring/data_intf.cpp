#include "xenring/ring/data_intf.hpp"

#include <algorithm>
#include <cerrno>

namespace xen9p::ring {

Result<unsigned> read_ring_order(DataIntf& intf, unsigned max_order) {
    const std::uint32_t order =
        std::atomic_ref<std::uint32_t>(intf.ring_order).load(std::memory_order_relaxed);
    if (order == 0 || order > max_order || order > kMaxRingOrder) return fail(EPROTO);
    return static_cast<unsigned>(order);
}

std::vector<std::uint32_t> read_refs(DataIntf& intf, unsigned order) {
    const std::size_t count = std::min(std::size_t{1} << std::min(order, kMaxRingOrder), kMaxRefs);
    std::vector<std::uint32_t> refs(count);
    for (std::size_t i = 0; i < count; ++i)
        refs[i] = std::atomic_ref<std::uint32_t>(intf.ref[i]).load(std::memory_order_relaxed);
    return refs;
}

}  // namespace xen9p::ring
