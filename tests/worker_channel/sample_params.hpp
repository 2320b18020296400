// Parameters with every field set and no value at its default, for the
// tests of what travels on the control socket.
#pragma once

#include "backend/worker_channel/worker_params.hpp"

namespace xen9p::worker_channel::test {

inline WorkerParams sample_params() {
    WorkerParams p;
    p.device = DeviceId{"xen_9pfs", 7, 3};
    p.tag = "share0";
    p.export_path = "/srv/export";
    p.security_model = "mapped-xattr";
    p.read_only = true;
    p.limits = ExportLimits{100, 5, 64, true, 48};
    p.max_ring_order = 9;
    p.rings = {{8, 12}, {521, 13}};
    p.uid = 131079;
    p.gid = 131072;
    p.platform = "sim:/tmp/sim";
    p.poll_window_us = 120;
    return p;
}

}  // namespace xen9p::worker_channel::test
