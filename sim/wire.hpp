// The simulated hypervisor's wire messages (xenring/platform/sim_protocol.hpp)
// and their transport, named in the namespace of the side that serves them.
#pragma once

#include "xenring/platform/fd_passing.hpp"
#include "xenring/platform/sim_protocol.hpp"

namespace xen9p::sim {

using platform::receive_message;
using platform::send_message;
using platform::sim_protocol::Device;
using platform::sim_protocol::kMaxRefsPerMap;
using platform::sim_protocol::kPageSize;
using platform::sim_protocol::kReplyHeader;
using platform::sim_protocol::kRequestHeader;
using platform::sim_protocol::Op;
using platform::sim_protocol::Reply;
using platform::sim_protocol::Request;

}  // namespace xen9p::sim
