// `xen9pd attach`: gives a running guest a 9pfs device served by xen9pd,
// writing the xenstore nodes libxl would write for `p9=[...]`.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "backend/cli/commands.hpp"
#include "backend/cli/device_command_line.hpp"
#include "backend/supervisor/export_path.hpp"
#include "backend/supervisor/worker_params.hpp"
#include "backend/supervisor/worker_uid.hpp"
#include "xenring/toolstack/device_nodes.hpp"
#include "xenring/toolstack/domain_lookup.hpp"

namespace xen9p::cli {
namespace {

using toolstack::AddFailure;
using toolstack::BackendKind;

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

int usage_error(const std::string& message) {
    std::cerr << "xen9pd attach: " << message << "\n";
    return kExitUsage;
}

int state_error(const std::string& message) {
    std::cerr << "xen9pd attach: " << message << "\n";
    return kExitState;
}

// The 32-bit limit option `key`, 0 when absent.
std::expected<unsigned, std::string> limit(const CommandLine& line, std::string_view key) {
    const auto text = line.value(key);
    if (!text) return 0u;
    const auto value = parse_unsigned(*text, 0xffffffff);
    if (!value)
        return std::unexpected("--" + std::string(key) + ": expected a number, got '" + *text +
                               "'");
    return *value;
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
    auto line = parse_command_line(
        args,
        {"tag", "path", "security-model", "devid", "kind", "max-files", "max-open-files",
         "max-space", "worker-uid", "max-memory", "xen", "config"},
        {"auto-delete"});
    if (!line) return usage_error(line.error());
    if (line->words.size() != 1) return usage_error("expected one DOMAIN (a domid or a name)");
    const std::string& domain = line->words[0];

    toolstack::NinePfsDevice device;
    device.tag = line->value("tag").value_or("");
    if (device.tag.empty()) return usage_error("--tag is required");
    if (!toolstack::is_valid_tag(device.tag))
        return usage_error("--tag: at most " + std::to_string(toolstack::kMaxTagLength) +
                           " printable characters without spaces");
    const std::string path = line->value("path").value_or("");
    if (path.empty()) return usage_error("--path is required");
    if (path.front() != '/') return usage_error("--path " + path + ": not an absolute path");
    device.security_model = line->value("security-model").value_or("none");
    if (!toolstack::is_security_model(device.security_model))
        return usage_error("--security-model: unknown model '" + device.security_model +
                           "' (none, passthrough or mapped-xattr)");
    const auto kind = toolstack::parse_kind(line->value("kind").value_or("9pfs"));
    if (!kind) return usage_error("--kind: expected 9pfs or xen_9pfs");
    device.kind = *kind;
    auto choice = toolstack::DevidChoice::kLowestFree;
    if (const auto devid = line->value("devid")) {
        const auto parsed = parse_unsigned(*devid, 0xffff);
        if (!parsed) return usage_error("--devid: expected a number from 0 to 65535");
        device.devid = *parsed;
        choice = toolstack::DevidChoice::kAsGiven;
    }
    // libxl writes the limits for type=xen_9pfsd only.
    const bool has_limits =
        line->values.contains("max-files") || line->values.contains("max-open-files") ||
        line->values.contains("max-space") || line->flags.contains("auto-delete");
    if (has_limits && device.kind != BackendKind::kXen9pfs)
        return usage_error(
            "--max-files, --max-open-files, --max-space and --auto-delete need --kind xen_9pfs");
    for (const auto& [key, out] :
         {std::pair<std::string_view, unsigned*>{"max-files", &device.max_files},
          {"max-open-files", &device.max_open_files},
          {"max-space", &device.max_space}}) {
        auto value = limit(*line, key);
        if (!value) return usage_error(value.error());
        *out = *value;
    }
    device.auto_delete = line->flags.contains("auto-delete");
    // xen9pd's own key, for either kind; the bound is the supervisor's, so
    // attach never writes a device the daemon would refuse.
    if (const auto text = line->value("max-memory")) {
        const auto mib = parse_unsigned(*text, supervisor::ExportLimits::kMaxMaxMemoryMib);
        if (!mib)
            return usage_error("--max-memory: expected a number of MiB from 0 to " +
                               std::to_string(supervisor::ExportLimits::kMaxMaxMemoryMib) +
                               ", got '" + *text + "'");
        device.max_memory_mib = *mib;
    }

    auto config = device_command_config(*line);
    if (!config) return usage_error(config.error().message);
    if (const auto text = line->value("worker-uid")) {
        const auto uid = parse_unsigned(*text, 0xffffffff);
        if (!uid) return usage_error("--worker-uid: expected a number, got '" + *text + "'");
        auto identity = *config;
        if (auto resolved = config::resolve_worker_identity(identity); !resolved)
            return usage_error("--worker-uid: " + resolved.error().message);
        if (auto error = supervisor::fixed_worker_uid_error(*uid, *identity.uid_range_base))
            return usage_error("--worker-uid: " + *error);
        device.worker_uid = *uid;
    }
    const std::string config_name = config->config_file ? config->config_file->string()
                                                        : std::string(config::kDefaultConfigFile);
    if (config->allowed_roots.empty())
        return usage_error("no allowed-root in " + config_name +
                           ": xen9pd would refuse the device");
    if (std::ranges::find(config->kinds, toolstack::kind_name(device.kind)) == config->kinds.end())
        return usage_error("xen9pd does not serve kind " +
                           std::string(toolstack::kind_name(device.kind)) + " (kinds in " +
                           config_name + ")");
    auto export_dir = supervisor::resolve_export(path, config->allowed_roots);
    if (!export_dir) {
        std::string allowed;
        for (const auto& root : config->allowed_roots)
            allowed += (allowed.empty() ? "" : ", ") + root.string();
        return state_error("--path " + path + ": " + export_dir.error() +
                           " (allowed-root: " + allowed + ")");
    }
    device.path = export_dir->string();

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
    device.domid = *domid;
    device.backend_domid = toolstack::own_domid(xs);
    if (device.domid == device.backend_domid)
        return state_error("domain " + domain + " is the backend's own domain");

    toolstack::DeviceNodes nodes(xs, std::move(connections->waiter));
    auto added = nodes.add(device, choice);
    if (!added) {
        const AddFailure& failure = added.error();
        const std::string dom = "domain " + std::to_string(device.domid);
        switch (failure.reason) {
            case AddFailure::Reason::kTagInUse:
                return state_error("tag '" + device.tag + "' is already used by " + dom +
                                   "'s 9pfs device " + std::to_string(failure.devid));
            case AddFailure::Reason::kDevidTaken:
                return state_error(dom + " already has a 9pfs device " +
                                   std::to_string(failure.devid));
            case AddFailure::Reason::kNoFreeDevid:
                return state_error(dom + " has no free devid left");
            case AddFailure::Reason::kXenstore:
                break;
        }
        return state_error("cannot write the device to xenstore: " + failure.error.message());
    }
    std::cout << "attached: domain " << device.domid << " devid " << *added << " kind "
              << toolstack::kind_name(device.kind) << " tag " << device.tag << " path "
              << device.path << "\n";
    warn_if_not_writable(*config, device);
    return 0;
}

}  // namespace xen9p::cli
