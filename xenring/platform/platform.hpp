// Chooses the platform from a spec string: "xen" (libxengnttab/libxenevtchn)
// or "sim:<dir>" (the simulated hypervisor serving <dir>).
#pragma once

#include <cstddef>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "xenring/platform/event_channel.hpp"
#include "xenring/platform/grant_mapper.hpp"

namespace xen9p::platform {

// Start-up failures carry a sentence for the operator as well as the errno.
struct PlatformError {
    Errno error;
    std::string message;
};

template <class T>
using Opened = std::expected<std::unique_ptr<T>, PlatformError>;

// As domain `self` (0 = dom0, the backend).
Opened<GrantMapper> open_grant_mapper(std::string_view spec, DomId self = 0);
Opened<EventChannel> open_event_channel(std::string_view spec, DomId self = 0);

// The directory of a "sim:<dir>" spec; nullopt for any other spec.
std::optional<std::filesystem::path> sim_dir(std::string_view spec);
// What opening reports for a spec that names no platform, and for a simulated
// hypervisor that does not answer at `socket`.
PlatformError bad_spec(std::string_view spec);
PlatformError sim_failure(const std::filesystem::path& socket, Errno err);

}  // namespace xen9p::platform
