#include "xenring/platform/platform.hpp"

#include <cerrno>
#include <filesystem>
#include <optional>

#include "xenring/platform/sim_platform.hpp"
#include "xenring/platform/xen_platform.hpp"

namespace xen9p::platform {

namespace {

constexpr std::string_view kSimPrefix = "sim:";

PlatformError xen_failure(const char* what, Errno err) {
    std::string message = std::string("cannot open ") + what + ": " + err.message();
    if (!std::filesystem::exists("/dev/xen"))
        message += " (no /dev/xen: this is not a Xen dom0; use the sim platform, \"sim:<dir>\")";
    return {err, std::move(message)};
}

}  // namespace

std::optional<std::filesystem::path> sim_dir(std::string_view spec) {
    if (!spec.starts_with(kSimPrefix) || spec.size() == kSimPrefix.size()) return std::nullopt;
    return std::filesystem::path(spec.substr(kSimPrefix.size()));
}

PlatformError bad_spec(std::string_view spec) {
    return {Errno{EINVAL},
            "unknown platform \"" + std::string(spec) + "\" (expected \"xen\" or \"sim:<dir>\")"};
}

PlatformError sim_failure(const std::filesystem::path& socket, Errno err) {
    return {err,
            "cannot reach the simulated hypervisor at " + socket.string() + ": " + err.message()};
}

Opened<GrantMapper> open_grant_mapper(std::string_view spec, DomId self) {
    if (spec == "xen") {
        auto mapper = XenGrantMapper::open();
        if (!mapper)
            return std::unexpected(
                xen_failure("the grant table device (xengnttab)", mapper.error()));
        return std::move(*mapper);
    }
    const auto dir = sim_dir(spec);
    if (!dir) return std::unexpected(bad_spec(spec));
    const auto socket = sim_socket(*dir, self);
    auto mapper = SimGrantMapper::open(socket);
    if (!mapper) return std::unexpected(sim_failure(socket, mapper.error()));
    return std::move(*mapper);
}

Opened<EventChannel> open_event_channel(std::string_view spec, DomId self) {
    if (spec == "xen") {
        auto channel = XenEventChannel::open();
        if (!channel)
            return std::unexpected(
                xen_failure("the event channel device (xenevtchn)", channel.error()));
        return std::move(*channel);
    }
    const auto dir = sim_dir(spec);
    if (!dir) return std::unexpected(bad_spec(spec));
    const auto socket = sim_socket(*dir, self);
    auto channel = SimEventChannel::open(socket);
    if (!channel) return std::unexpected(sim_failure(socket, channel.error()));
    return std::move(*channel);
}

}  // namespace xen9p::platform
