#include "backend/cli/attach_request.hpp"

#include <optional>
#include <utility>

#include "backend/cli/device_command_line.hpp"
#include "backend/supervisor/worker_uid.hpp"
#include "backend/worker_channel/worker_params.hpp"

namespace xen9p::cli {
namespace {

// One option (or group of options) read into the request; the usage error
// for the operator when it is wrong.
using OptionStep = std::optional<std::string> (*)(const CommandLine&, AttachRequest&);

// --tag: given, and one word that `mount -t 9p` can take.
std::optional<std::string> read_tag(const CommandLine& line, AttachRequest& request) {
    request.device.tag = line.value("tag").value_or("");
    if (request.device.tag.empty()) return "--tag is required";
    if (!toolstack::is_valid_tag(request.device.tag))
        return "--tag: at most " + std::to_string(toolstack::kMaxTagLength) +
               " printable characters without spaces";
    return std::nullopt;
}

// --path: given and absolute (the command resolves it against the roots).
std::optional<std::string> read_path(const CommandLine& line, AttachRequest& request) {
    request.path = line.value("path").value_or("");
    if (request.path.empty()) return "--path is required";
    if (request.path.front() != '/') return "--path " + request.path + ": not an absolute path";
    return std::nullopt;
}

// --security-model (default none) and --kind (default 9pfs): names xen9pd knows.
std::optional<std::string> read_model_and_kind(const CommandLine& line, AttachRequest& request) {
    auto& device = request.device;
    device.security_model = line.value("security-model").value_or("none");
    if (!toolstack::is_security_model(device.security_model))
        return "--security-model: unknown model '" + device.security_model +
               "' (none, passthrough or mapped-xattr)";
    const auto kind = toolstack::parse_kind(line.value("kind").value_or("9pfs"));
    if (!kind) return "--kind: expected 9pfs or xen_9pfs";
    device.kind = *kind;
    return std::nullopt;
}

// --devid: 0 to 65535, used as given; without it the lowest free devid.
std::optional<std::string> read_devid(const CommandLine& line, AttachRequest& request) {
    const auto devid = line.value("devid");
    if (!devid) return std::nullopt;
    const auto parsed = parse_unsigned(*devid, 0xffff);
    if (!parsed) return "--devid: expected a number from 0 to 65535";
    request.device.devid = *parsed;
    request.choice = toolstack::DevidChoice::kAsGiven;
    return std::nullopt;
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

// --max-files, --max-open-files, --max-space (32-bit numbers) and
// --auto-delete: for kind xen_9pfs only, as libxl writes them for
// type=xen_9pfsd only.
std::optional<std::string> read_limits(const CommandLine& line, AttachRequest& request) {
    auto& device = request.device;
    const bool has_limits = line.values.contains("max-files") ||
                            line.values.contains("max-open-files") ||
                            line.values.contains("max-space") || line.flags.contains("auto-delete");
    if (has_limits && device.kind != toolstack::BackendKind::kXen9pfs)
        return "--max-files, --max-open-files, --max-space and --auto-delete need --kind xen_9pfs";
    for (const auto& [key, out] :
         {std::pair<std::string_view, unsigned*>{"max-files", &device.max_files},
          {"max-open-files", &device.max_open_files},
          {"max-space", &device.max_space}}) {
        auto value = limit(line, key);
        if (!value) return value.error();
        *out = *value;
    }
    device.auto_delete = line.flags.contains("auto-delete");
    return std::nullopt;
}

// --max-memory: xen9pd's own key, for either kind; the bound is the
// supervisor's, so attach never writes a device the daemon would refuse.
std::optional<std::string> read_max_memory(const CommandLine& line, AttachRequest& request) {
    const auto text = line.value("max-memory");
    if (!text) return std::nullopt;
    const auto mib = parse_unsigned(*text, worker_channel::ExportLimits::kMaxMaxMemoryMib);
    if (!mib)
        return "--max-memory: expected a number of MiB from 0 to " +
               std::to_string(worker_channel::ExportLimits::kMaxMaxMemoryMib) + ", got '" + *text +
               "'";
    request.device.max_memory_mib = *mib;
    return std::nullopt;
}

// --config and --xen: the daemon's configuration as `xen9pd run` reads it.
std::optional<std::string> read_config(const CommandLine& line, AttachRequest& request) {
    auto config = device_command_config(line);
    if (!config) return config.error().message;
    request.config = std::move(*config);
    return std::nullopt;
}

// --worker-uid: a uid the daemon's worker identity lets a device run as.
std::optional<std::string> read_worker_uid(const CommandLine& line, AttachRequest& request) {
    const auto text = line.value("worker-uid");
    if (!text) return std::nullopt;
    const auto uid = parse_unsigned(*text, 0xffffffff);
    if (!uid) return "--worker-uid: expected a number, got '" + *text + "'";
    auto identity = request.config;
    if (auto resolved = config::resolve_worker_identity(identity); !resolved)
        return "--worker-uid: " + resolved.error().message;
    if (auto error = supervisor::fixed_worker_uid_error(*uid, *identity.uid_range_base))
        return "--worker-uid: " + *error;
    request.device.worker_uid = *uid;
    return std::nullopt;
}

}  // namespace

std::expected<AttachRequest, CommandError> parse_attach_request(std::span<const std::string> args) {
    auto line = parse_command_line(
        args,
        {"tag", "path", "security-model", "devid", "kind", "max-files", "max-open-files",
         "max-space", "worker-uid", "max-memory", "xen", "config"},
        {"auto-delete"});
    if (!line) return usage_error(line.error());
    if (line->words.size() != 1) return usage_error("expected one DOMAIN (a domid or a name)");
    AttachRequest request;
    request.domain = line->words[0];
    for (const OptionStep step : {read_tag, read_path, read_model_and_kind, read_devid, read_limits,
                                  read_max_memory, read_config, read_worker_uid}) {
        if (auto error = step(*line, request)) return usage_error(*error);
    }
    return request;
}

}  // namespace xen9p::cli
