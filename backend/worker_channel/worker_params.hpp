// What the supervisor hands a device's worker: the device, its export and
// security model, the frontend's rings, and who the worker becomes. Sent as
// text over the worker's control socket, one `key=value` per line.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "backend/worker_channel/device_id.hpp"
#include "base/errno.hpp"

namespace xen9p::worker_channel {

struct RingParams {
    std::uint32_t ring_ref = 0;       // grant ref of the ring's interface page
    std::uint32_t event_channel = 0;  // the frontend's port
    friend bool operator==(const RingParams&, const RingParams&) = default;
};

// Limits of one export: xen-9pfsd's xenstore keys plus our own caps.
struct ExportLimits {
    std::uint32_t max_files = 0;       // 0: unlimited
    std::uint32_t max_open_files = 0;  // 0: the daemon default
    std::uint32_t max_space_mib = 0;   // 0: unlimited
    bool auto_delete = false;
    // What the worker may hold for its guest (buffers, xattr values), and
    // with a constant for code and libraries its kernel-enforced data limit.
    std::uint32_t max_memory_mib = kDefaultMaxMemoryMib;
    friend bool operator==(const ExportLimits&, const ExportLimits&) = default;

    static constexpr std::uint32_t kDefaultMaxMemoryMib = 64;
    static constexpr std::uint32_t kMinMaxMemoryMib = 1;
    static constexpr std::uint32_t kMaxMaxMemoryMib = 1 << 16;  // 64 GiB
};

struct WorkerParams {
    DeviceId device;
    std::string tag;
    std::filesystem::path export_path;
    std::string security_model = "none";
    bool read_only = false;
    ExportLimits limits;
    std::uint32_t max_ring_order = 9;  // what the backend advertised
    std::vector<RingParams> rings;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string platform = "xen";  // "xen" or "sim:<dir>"
    // How long the worker's loop may poll its rings before it sleeps (the
    // window is self-tuning below this; 0: never poll).
    static constexpr std::uint32_t kDefaultPollWindowUs = 50;
    static constexpr std::uint32_t kMaxPollWindowUs = 1000;
    std::uint32_t poll_window_us = kDefaultPollWindowUs;

    friend bool operator==(const WorkerParams&, const WorkerParams&) = default;
};

std::string serialize(const WorkerParams& params);

// Strict: every key known, every number in range, nothing missing.
Result<WorkerParams> parse_worker_params(std::string_view text);

}  // namespace xen9p::worker_channel
