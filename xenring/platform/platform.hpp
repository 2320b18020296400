// Chooses the platform from a spec string: "xen" (libxengnttab/libxenevtchn)
// or "sim:<dir>" (the simulated hypervisor serving <dir>).
#pragma once

#include <cstddef>
#include <expected>
#include <memory>
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
// Guest side, `pages` pages of shareable memory; sim only.
Opened<GrantSharer> open_grant_sharer(std::string_view spec, DomId self, std::size_t pages);

}  // namespace xen9p::platform
