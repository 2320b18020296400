// `xen9pd detach`: removes a guest's 9pfs device the way libxl does, asking
// the backend to close it first.
#include <algorithm>
#include <chrono>
#include <iostream>

#include "backend/cli/commands.hpp"
#include "backend/cli/device_command_line.hpp"
#include "xenring/toolstack/device_nodes.hpp"
#include "xenring/toolstack/domain_lookup.hpp"

namespace xen9p::cli {
namespace {

constexpr std::string_view kUsage =
    "usage: xen9pd detach DOMAIN [--devid N | --tag TAG] [--kind 9pfs|xen_9pfs]\n"
    "                     [--timeout SECONDS] [--force] [--xen auto|sim:DIR] [--config FILE]\n";

// An hour is already far beyond any backend that still answers.
constexpr unsigned kMaxTimeoutMs = 3'600'000;

int usage_error(const std::string& message) {
    std::cerr << "xen9pd detach: " << message << "\n";
    return kExitUsage;
}

int state_error(const std::string& message) {
    std::cerr << "xen9pd detach: " << message << "\n";
    return kExitState;
}

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

}  // namespace

int detach_command(std::span<const std::string> args) {
    if (std::ranges::find(args, "--help") != args.end()) {
        std::cout << kUsage;
        return 0;
    }
    auto line =
        parse_command_line(args, {"devid", "tag", "kind", "timeout", "xen", "config"}, {"force"});
    if (!line) return usage_error(line.error());
    if (line->words.size() != 1) return usage_error("expected one DOMAIN (a domid or a name)");
    const std::string& domain = line->words[0];
    std::optional<unsigned> devid;
    if (const auto text = line->value("devid")) {
        devid = parse_unsigned(*text, 0xffff);
        if (!devid) return usage_error("--devid: expected a number from 0 to 65535");
    }
    const auto tag = line->value("tag");
    if (devid && tag) return usage_error("give --devid or --tag, not both");
    std::optional<toolstack::BackendKind> kind;
    if (const auto text = line->value("kind")) {
        kind = toolstack::parse_kind(*text);
        if (!kind) return usage_error("--kind: expected 9pfs or xen_9pfs");
    }
    auto timeout = toolstack::kDeviceRemoveTimeout;
    if (const auto text = line->value("timeout")) {
        const auto parsed = parse_seconds(*text);
        if (!parsed) return usage_error("--timeout: expected seconds, e.g. 10 or 0.5");
        timeout = *parsed;
    }
    const bool force = line->flags.contains("force");
    auto config = device_command_config(*line);
    if (!config) return usage_error(config.error().message);

    auto connections = connect_xenstore(config->xen);
    if (!connections)
        return state_error("cannot connect to xenstore (" + config->xen +
                           "): " + connections.error().message());
    auto& xs = connections->xs;
    auto domid = toolstack::resolve_domain(xs, domain);
    if (!domid) {
        if (domid.error().value == ENOENT) return state_error("no domain '" + domain + "'");
        if (domid.error().value == EEXIST)
            return state_error("several domains are named '" + domain + "': give the domid");
        return state_error("cannot look up domain '" + domain + "': " + domid.error().message());
    }
    const std::string dom = "domain " + std::to_string(*domid);
    toolstack::DeviceNodes nodes(xs, std::move(connections->waiter));
    auto devices = nodes.list(*domid);
    if (!devices)
        return state_error("cannot list " + dom + "'s devices: " + devices.error().message());
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
    if (kind && device.kind != kind)
        return state_error(dom + "'s 9pfs device " + std::to_string(device.devid) +
                           " is not of kind " + std::string(toolstack::kind_name(*kind)));

    const auto on_timeout =
        force ? toolstack::OnTimeout::kRemoveNodes : toolstack::OnTimeout::kKeepNodes;
    const Status removed = nodes.remove(*domid, device.devid, timeout, on_timeout);
    const std::string which = dom + " devid " + std::to_string(device.devid);
    if (!removed && removed.error().value == ETIMEDOUT) {
        const std::string silent =
            "the backend did not close " + which + " within " + seconds_text(timeout);
        if (!force)
            return state_error(silent + "; the device is left Closing (--force removes it anyway)");
        std::cerr << "xen9pd detach: " << silent << "; removed its nodes anyway (--force)\n";
    } else if (!removed) {
        if (removed.error().value == ENOENT) return state_error(which + " is already gone");
        return state_error("cannot remove " + which + ": " + removed.error().message());
    }
    std::cout << "detached: " << which << "\n";
    return 0;
}

}  // namespace xen9p::cli
