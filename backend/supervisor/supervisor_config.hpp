// The supervisor's configuration: what it claims, where exports may live,
// who workers become, and what it advertises to frontends.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "backend/worker_channel/worker_params.hpp"

namespace xen9p::supervisor {

struct SupervisorConfig {
    std::uint16_t self_domid = 0;
    // Backend kinds to serve: "9pfs" (libxl type=qemu) and/or "xen_9pfs" (type=xen_9pfsd).
    std::vector<std::string> kinds{"9pfs", "xen_9pfs"};
    // A device's `path` must resolve to a directory under one of these.
    std::vector<std::filesystem::path> allowed_roots;
    std::uint32_t max_rings = 4;       // advertised as max-rings; Linux needs >= 2
    std::uint32_t max_ring_order = 9;  // advertised as max-ring-page-order
    std::uint32_t poll_window_us = worker_channel::WorkerParams::kDefaultPollWindowUs;
    // Workers run as uid_range_base + domid with gid `gid`, as dm_restrict's QEMU does.
    uid_t uid_range_base = 0;
    gid_t gid = 0;
    worker_channel::ExportLimits default_limits;
    std::string platform = "xen";
};

}  // namespace xen9p::supervisor
