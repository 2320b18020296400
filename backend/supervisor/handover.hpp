// What one supervisor hands the next when xen9pd re-executes itself
// (`xen9pd upgrade`): every device it drives, in the state it drives it, and
// the descriptors of each running worker. The pid stays, so the workers stay
// the supervisor's children and go on serving their guests meanwhile; the
// new supervisor takes them over as they are. Passed as text in a memory
// file, with the descriptors themselves inherited across exec.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/supervisor/worker_launcher.hpp"
#include "backend/worker_channel/device_id.hpp"
#include "backend/worker_channel/worker_params.hpp"
#include "base/errno.hpp"
#include "xenring/xenstore/xenbus_state.hpp"

namespace xen9p::supervisor {

struct DeviceHandover {
    worker_channel::DeviceId id;
    xenstore::XenbusState state = xenstore::XenbusState::kUnknown;
    // What to publish once the stopping worker is gone.
    std::optional<xenstore::XenbusState> state_after_worker;
    bool watching_frontend = false;
    bool worker_lost = false;  // it closed its control socket and was killed
    std::string last_error;
    std::optional<worker_channel::WorkerParams> params;
    std::optional<WorkerDescriptors> worker;

    friend bool operator==(const DeviceHandover&, const DeviceHandover&) = default;
};

struct Handover {
    std::vector<DeviceHandover> devices;
    // Workers of forgotten devices, stopping, not yet collected.
    std::vector<WorkerDescriptors> retiring;
    // The control connection that asked for the upgrade: the new supervisor
    // answers it once it serves (-1: nobody waits).
    int reply_fd = -1;

    friend bool operator==(const Handover&, const Handover&) = default;
};

std::string serialize(const Handover& handover);
// Strict: a version this binary does not know, an unknown line or a number
// out of range is EINVAL.
Result<Handover> parse_handover(std::string_view text);
// Every descriptor `handover` names, once each.
std::vector<int> descriptors_of(const Handover& handover);

}  // namespace xen9p::supervisor
