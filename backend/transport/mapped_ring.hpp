// One ring of a Xen 9pfs device as the backend holds it: the guest's interface
// page and data area mapped into our memory (unmapped on destruction), and the
// number of our end of its event channel. The port is bound by the device
// keeper, which outlives the serving process, so it is not unbound here.
#pragma once

#include <cstdint>

#include "base/errno.hpp"
#include "xenring/platform/event_channel.hpp"
#include "xenring/platform/grant_mapper.hpp"
#include "xenring/ring/data_intf.hpp"

namespace xen9p::transport {

struct MappedRing {
    platform::GrantMapping interface;  // one page: ring::DataIntf
    platform::GrantMapping data;       // ring::data_area_size(order) bytes
    unsigned order = 0;
    platform::Port port = 0;

    ring::DataIntf& intf() const {
        return *reinterpret_cast<ring::DataIntf*>(interface.bytes().data());
    }
};

// Where mapping a ring failed, for the log line that explains it.
enum class RingSetupStep { kInterfacePage, kRingOrder, kDataPages };
std::string_view ring_setup_step_name(RingSetupStep step);

struct RingSetupError {
    RingSetupStep step;
    Errno error;
};

// Maps the interface page `ring_ref` of `domid`, reads its ring_order once
// (1..max_order) and maps the data pages it lists; `port` is our end of the
// ring's event channel, bound already.
std::expected<MappedRing, RingSetupError> map_ring(platform::GrantMapper& grants, DomId domid,
                                                   platform::GrantRef ring_ref, platform::Port port,
                                                   unsigned max_order);

}  // namespace xen9p::transport
