// `xen9pd detach`: removes a guest's 9pfs device the way libxl does, asking
// the backend to close it first.
#include <algorithm>
#include <chrono>
#include <iostream>

#include "backend/cli/command_error.hpp"
#include "backend/cli/commands.hpp"
#include "backend/cli/device_command_line.hpp"
#include "backend/cli/guest_domain.hpp"
#include "xenring/toolstack/device_nodes.hpp"

namespace xen9p::cli {
namespace {

constexpr std::string_view kCommand = "detach";

constexpr std::string_view kUsage =
    "usage: xen9pd detach DOMAIN [--devid N | --tag TAG] [--kind 9pfs|xen_9pfs]\n"
    "                     [--timeout SECONDS] [--force] [--xen auto|sim:DIR] [--config FILE]\n";

// An hour is already far beyond any backend that still answers.
constexpr unsigned kMaxTimeoutMs = 3'600'000;

// "S", "S.f", "S.ff" or "S.fff" seconds.
std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text) {
    const auto dot = text.find('.');
    const auto whole = parse_unsigned(text.substr(0, dot), kMaxTimeoutMs / 1000);
    if (!whole) return std::nullopt;
    unsigned ms = *whole * 1000;
    if (dot != std::string_view::npos) {
        const auto fraction = text.substr(dot + 1);
        if (fraction.empty() || fraction.size() > 3 ||
            !std::ranges::all_of(fraction, [](char c) { return c >= '0' && c <= '9'; }))
            return std::nullopt;
        unsigned scale = 100;
        for (const char c : fraction) {
            ms += static_cast<unsigned>(c - '0') * scale;
            scale /= 10;
        }
    }
    return std::chrono::milliseconds(ms);
}

std::string seconds_text(std::chrono::milliseconds timeout) {
    std::string text = std::to_string(timeout.count() / 1000);
    if (const auto ms = timeout.count() % 1000; ms != 0) {
        std::string fraction = std::to_string(1000 + ms).substr(1);
        while (fraction.back() == '0')
            fraction.pop_back();
        text += "." + fraction;
    }
    return text + " s";
}

// What the command line asks for: which device of which guest, and how
// long to wait for its backend.
struct DetachRequest {
    std::string domain;  // a domid or a name
    std::optional<unsigned> devid;
    std::optional<std::string> tag;
    std::optional<toolstack::BackendKind> kind;
    std::chrono::milliseconds timeout = toolstack::kDeviceRemoveTimeout;
    bool force = false;
    config::DaemonConfig config;
};

// The request `args` make, or the first wrong option.
std::expected<DetachRequest, CommandError> parse_detach_request(std::span<const std::string> args) {
    auto line =
        parse_command_line(args, {"devid", "tag", "kind", "timeout", "xen", "config"}, {"force"});
    if (!line) return usage_error(line.error());
    if (line->words.size() != 1) return usage_error("expected one DOMAIN (a domid or a name)");
    DetachRequest request;
    request.domain = line->words[0];
    if (const auto text = line->value("devid")) {
        request.devid = parse_unsigned(*text, 0xffff);
        if (!request.devid) return usage_error("--devid: expected a number from 0 to 65535");
    }
    request.tag = line->value("tag");
    if (request.devid && request.tag) return usage_error("give --devid or --tag, not both");
    if (const auto text = line->value("kind")) {
        request.kind = toolstack::parse_kind(*text);
        if (!request.kind) return usage_error("--kind: expected 9pfs or xen_9pfs");
    }
    if (const auto text = line->value("timeout")) {
        const auto parsed = parse_seconds(*text);
        if (!parsed) return usage_error("--timeout: expected seconds, e.g. 10 or 0.5");
        request.timeout = *parsed;
    }
    request.force = line->flags.contains("force");
    auto config = device_command_config(*line);
    if (!config) return usage_error(config.error().message);
    request.config = std::move(*config);
    return request;
}

// The guest's one 9pfs device that --devid or --tag names (its only one
// without either), checked against --kind.
std::expected<toolstack::ExistingDevice, CommandError> choose_device(toolstack::DeviceNodes& nodes,
                                                                     DomId domid,
                                                                     const DetachRequest& request) {
    const std::string dom = "domain " + std::to_string(domid);
    auto devices = nodes.list(domid);
    if (!devices)
        return state_error("cannot list " + dom + "'s devices: " + devices.error().message());
    const auto& devid = request.devid;
    const auto& tag = request.tag;
    std::vector<toolstack::ExistingDevice> chosen;
    for (const auto& device : *devices) {
        if ((devid && device.devid != *devid) || (tag && device.tag != *tag)) continue;
        chosen.push_back(device);
    }
    if (chosen.empty()) {
        if (devid) return state_error(dom + " has no 9pfs device " + std::to_string(*devid));
        if (tag) return state_error(dom + " has no 9pfs device tagged '" + *tag + "'");
        return state_error(dom + " has no 9pfs device");
    }
    if (chosen.size() > 1)
        return state_error(dom + " has " + std::to_string(chosen.size()) +
                           " 9pfs devices: choose one with --devid or --tag");
    const auto& device = chosen.front();
    if (request.kind && device.kind != request.kind)
        return state_error(dom + "'s 9pfs device " + std::to_string(device.devid) +
                           " is not of kind " + std::string(toolstack::kind_name(*request.kind)));
    return device;
}

// "domain D devid N", how the messages name the device.
std::string device_name(DomId domid, unsigned devid) {
    return "domain " + std::to_string(domid) + " devid " + std::to_string(devid);
}

// Asks the backend to close the device and removes its nodes. A backend
// silent for the timeout leaves the device Closing, or with --force has its
// nodes removed anyway (with a note on stderr).
std::expected<void, CommandError> remove_device(toolstack::DeviceNodes& nodes, DomId domid,
                                                unsigned devid, const DetachRequest& request) {
    const auto on_timeout =
        request.force ? toolstack::OnTimeout::kRemoveNodes : toolstack::OnTimeout::kKeepNodes;
    const Status removed = nodes.remove(domid, devid, request.timeout, on_timeout);
    const std::string which = device_name(domid, devid);
    if (!removed && removed.error().value == ETIMEDOUT) {
        const std::string silent =
            "the backend did not close " + which + " within " + seconds_text(request.timeout);
        if (!request.force)
            return state_error(silent + "; the device is left Closing (--force removes it anyway)");
        std::cerr << "xen9pd detach: " << silent << "; removed its nodes anyway (--force)\n";
    } else if (!removed) {
        if (removed.error().value == ENOENT) return state_error(which + " is already gone");
        return state_error("cannot remove " + which + ": " + removed.error().message());
    }
    return {};
}

}  // namespace

int detach_command(std::span<const std::string> args) {
    if (std::ranges::find(args, "--help") != args.end()) {
        std::cout << kUsage;
        return 0;
    }
    const auto request = parse_detach_request(args);
    if (!request) return report(kCommand, request.error());
    auto guest = find_guest_domain(request->config.xen, request->domain);
    if (!guest) return report(kCommand, guest.error());
    toolstack::DeviceNodes nodes(guest->connections.xs, std::move(guest->connections.waiter));
    const auto device = choose_device(nodes, guest->domid, *request);
    if (!device) return report(kCommand, device.error());
    if (auto removed = remove_device(nodes, guest->domid, device->devid, *request); !removed)
        return report(kCommand, removed.error());
    std::cout << "detached: " << device_name(guest->domid, device->devid) << "\n";
    return 0;
}

}  // namespace xen9p::cli
