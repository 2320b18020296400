#include "backend/transport/mapped_ring.hpp"

#include <array>

namespace xen9p::transport {

std::string_view ring_setup_step_name(RingSetupStep step) {
    switch (step) {
        case RingSetupStep::kInterfacePage:
            return "interface page";
        case RingSetupStep::kRingOrder:
            return "ring order";
        case RingSetupStep::kDataPages:
            return "data pages";
    }
    return "unknown";
}

std::expected<MappedRing, RingSetupError> map_ring(platform::GrantMapper& grants, DomId domid,
                                                   platform::GrantRef ring_ref, platform::Port port,
                                                   unsigned max_order) {
    MappedRing ring;
    ring.port = port;
    const std::array refs{ring_ref};
    auto interface = grants.map(domid, refs, /*writable=*/true);
    if (!interface)
        return std::unexpected(RingSetupError{RingSetupStep::kInterfacePage, interface.error()});
    ring.interface = std::move(*interface);

    // The guest may rewrite ring_order and ref[] at any time: both are read
    // exactly once, and only the copies are used from here on.
    auto order = ring::read_ring_order(ring.intf(), max_order);
    if (!order) return std::unexpected(RingSetupError{RingSetupStep::kRingOrder, order.error()});
    ring.order = *order;
    const auto data_refs = ring::read_refs(ring.intf(), ring.order);
    auto data = grants.map(domid, data_refs, /*writable=*/true);
    if (!data) return std::unexpected(RingSetupError{RingSetupStep::kDataPages, data.error()});
    if (data->bytes().size() != ring::data_area_size(ring.order))
        return std::unexpected(RingSetupError{RingSetupStep::kDataPages, Errno{EPROTO}});
    ring.data = std::move(*data);
    return ring;
}

}  // namespace xen9p::transport
