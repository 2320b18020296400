// What the toolstack asks of one device, read from the keys libxl writes in
// its backend directory (and the frontend's tag) and checked against the
// supervisor's configuration before the device is claimed.
#pragma once

#include <expected>
#include <string>

#include "backend/supervisor/supervisor_config.hpp"
#include "backend/worker_channel/device_id.hpp"
#include "backend/worker_channel/worker_params.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::supervisor {

// The parameters of the device's worker, without its rings (the frontend
// publishes those later). The error is the reason to refuse the device, in
// words for the operator: unreadable or mismatched keys, a path outside the
// allowed roots, an unknown security model, a malformed limit or worker uid.
std::expected<worker_channel::WorkerParams, std::string> read_backend_keys(
    xenstore::Xenstore& xs, const worker_channel::DeviceId& id, const std::string& backend_path,
    const std::string& frontend_path, const SupervisorConfig& config);

}  // namespace xen9p::supervisor
