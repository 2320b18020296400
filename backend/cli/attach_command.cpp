// `xen9pd attach`: gives a running guest a 9pfs device served by xen9pd,
// writing the xenstore nodes libxl would write for `p9=[...]`.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "backend/cli/attach_request.hpp"
#include "backend/cli/command_error.hpp"
#include "backend/cli/commands.hpp"
#include "backend/cli/guest_domain.hpp"
#include "backend/supervisor/export_path.hpp"
#include "backend/supervisor/worker_uid.hpp"
#include "xenring/toolstack/device_nodes.hpp"
#include "xenring/toolstack/domain_lookup.hpp"

namespace xen9p::cli {
namespace {

using toolstack::AddFailure;

constexpr std::string_view kCommand = "attach";

constexpr std::string_view kUsage =
    "usage: xen9pd attach DOMAIN --tag TAG --path DIR [--security-model none|passthrough|"
    "mapped-xattr]\n"
    "                     [--devid N] [--kind 9pfs|xen_9pfs] [--max-files N] "
    "[--max-open-files N]\n"
    "                     [--max-space MIB] [--auto-delete] [--worker-uid UID] "
    "[--max-memory MIB]\n"
    "                     [--xen auto|sim:DIR] [--config FILE]\n"
    "--max-memory is the device's memory budget in MiB, for either kind (0: the\n"
    "daemon's --max-memory).\n";

// The daemon's configuration would serve the device: it names an allowed
// root and serves the device's kind.
std::expected<void, CommandError> check_daemon_serves(const AttachRequest& request) {
    const config::DaemonConfig& config = request.config;
    const std::string config_name =
        config.config_file ? config.config_file->string() : std::string(config::kDefaultConfigFile);
    if (config.allowed_roots.empty())
        return usage_error("no allowed-root in " + config_name +
                           ": xen9pd would refuse the device");
    const auto kind = toolstack::kind_name(request.device.kind);
    if (std::ranges::find(config.kinds, kind) == config.kinds.end())
        return usage_error("xen9pd does not serve kind " + std::string(kind) + " (kinds in " +
                           config_name + ")");
    return {};
}

// Resolves --path as the daemon will, to a directory under an allowed root,
// into device.path.
std::expected<void, CommandError> resolve_export_dir(AttachRequest& request) {
    const auto& roots = request.config.allowed_roots;
    auto export_dir = supervisor::resolve_export(request.path, roots);
    if (!export_dir) {
        std::string allowed;
        for (const auto& root : roots)
            allowed += (allowed.empty() ? "" : ", ") + root.string();
        return state_error("--path " + request.path + ": " + export_dir.error() +
                           " (allowed-root: " + allowed + ")");
    }
    request.device.path = export_dir->string();
    return {};
}

// The operator's line for a device that xenstore did not take.
std::unexpected<CommandError> add_failure_error(const toolstack::NinePfsDevice& device,
                                                const AddFailure& failure) {
    const std::string dom = "domain " + std::to_string(device.domid);
    switch (failure.reason) {
        case AddFailure::Reason::kTagInUse:
            return state_error("tag '" + device.tag + "' is already used by " + dom +
                               "'s 9pfs device " + std::to_string(failure.devid));
        case AddFailure::Reason::kDevidTaken:
            return state_error(dom + " already has a 9pfs device " + std::to_string(failure.devid));
        case AddFailure::Reason::kNoFreeDevid:
            return state_error(dom + " has no free devid left");
        case AddFailure::Reason::kXenstore:
            break;
    }
    return state_error("cannot write the device to xenstore: " + failure.error.message());
}

// Writes the device's xenstore nodes for the guest the request names, with
// this domain as the backend; returns the devid it got.
std::expected<unsigned, CommandError> add_device(AttachRequest& request) {
    auto guest = find_guest_domain(request.config.xen, request.domain);
    if (!guest) return std::unexpected(guest.error());
    auto& xs = guest->connections.xs;
    auto& device = request.device;
    device.domid = guest->domid;
    device.backend_domid = toolstack::own_domid(xs);
    if (device.domid == device.backend_domid)
        return state_error("domain " + request.domain + " is the backend's own domain");
    toolstack::DeviceNodes nodes(xs, std::move(guest->connections.waiter));
    auto added = nodes.add(device, request.choice);
    if (!added) return add_failure_error(device, added.error());
    return *added;
}

// Under none and mapped-xattr the worker creates files as itself: a share it
// cannot write gives the guest EACCES on every create, which is easy to miss.
void warn_if_not_writable(config::DaemonConfig config, const toolstack::NinePfsDevice& device) {
    if (device.security_model == "passthrough" || !config::resolve_worker_identity(config)) return;
    struct stat st {};
    if (::stat(device.path.c_str(), &st) != 0) return;
    const uid_t worker = device.worker_uid
                             ? *device.worker_uid
                             : supervisor::default_worker_uid(*config.uid_range_base, device.domid);
    const bool writable = (st.st_uid == worker && (st.st_mode & S_IWUSR)) ||
                          (st.st_gid == *config.worker_gid && (st.st_mode & S_IWGRP)) ||
                          (st.st_mode & S_IWOTH);
    if (writable) return;
    std::cerr << "xen9pd attach: warning: " << device.path << " is not writable by uid " << worker
              << " (the worker of domain " << device.domid
              << "): the guest cannot create files there; chown " << worker << " " << device.path
              << "\n";
}

}  // namespace

int attach_command(std::span<const std::string> args) {
    if (std::ranges::find(args, "--help") != args.end()) {
        std::cout << kUsage;
        return 0;
    }
    auto request = parse_attach_request(args);
    if (!request) return report(kCommand, request.error());
    if (auto served = check_daemon_serves(*request); !served)
        return report(kCommand, served.error());
    if (auto resolved = resolve_export_dir(*request); !resolved)
        return report(kCommand, resolved.error());
    const auto devid = add_device(*request);
    if (!devid) return report(kCommand, devid.error());
    const auto& device = request->device;
    std::cout << "attached: domain " << device.domid << " devid " << *devid << " kind "
              << toolstack::kind_name(device.kind) << " tag " << device.tag << " path "
              << device.path << "\n";
    warn_if_not_writable(request->config, device);
    return 0;
}

}  // namespace xen9p::cli
