// One ring of a Xen 9pfs device as the backend holds it: the guest's interface
// page and data area mapped into our memory, and our end of its event channel.
// Everything is released (unmapped, unbound) on destruction.
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
    platform::BoundPort port;

    ring::DataIntf& intf() const {
        return *reinterpret_cast<ring::DataIntf*>(interface.bytes().data());
    }
};

// Where mapping a ring failed, for the log line that explains it.
enum class RingSetupStep { kInterfacePage, kRingOrder, kDataPages, kEventChannel };
std::string_view ring_setup_step_name(RingSetupStep step);

struct RingSetupError {
    RingSetupStep step;
    Errno error;
};

// Maps the interface page `ring_ref` of `domid`, reads its ring_order once
// (1..max_order), maps the data pages it lists, and binds the frontend's
// unbound port `remote_port`.
std::expected<MappedRing, RingSetupError> map_ring(platform::GrantMapper& grants,
                                                   platform::EventChannel& events, DomId domid,
                                                   platform::GrantRef ring_ref,
                                                   platform::Port remote_port, unsigned max_order);

}  // namespace xen9p::transport
