#include "backend/config/daemon_config.hpp"

#include <pwd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "backend/worker_channel/device_id.hpp"
#include "base/parse_number.hpp"

namespace xen9p::config {
namespace {

std::unexpected<ConfigError> error(std::string message) {
    return std::unexpected(ConfigError{std::move(message)});
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::vector<std::string> split_commas(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        auto item = trim(s.substr(0, comma));
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

std::expected<std::uint32_t, ConfigError> number(std::string_view key, std::string_view value,
                                                 std::uint64_t min, std::uint64_t max) {
    auto parsed = parse_decimal(value, max);
    if (!parsed || *parsed < min)
        return error(std::string(key) + ": expected a number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got '" + std::string(value) + "'");
    return static_cast<std::uint32_t>(*parsed);
}

std::expected<bool, ConfigError> boolean(std::string_view key, std::string_view value) {
    if (value == "1" || value == "true" || value == "yes") return true;
    if (value == "0" || value == "false" || value == "no") return false;
    return error(std::string(key) + ": expected true or false, got '" + std::string(value) + "'");
}

// One key; shared by the file and the command line.
std::expected<void, ConfigError> apply(std::string_view key, std::string_view value,
                                       DaemonConfig& c) {
    auto set_number = [&](std::uint32_t& out, std::uint64_t min,
                          std::uint64_t max) -> std::expected<void, ConfigError> {
        auto n = number(key, value, min, max);
        if (!n) return std::unexpected(n.error());
        out = *n;
        return {};
    };
    if (key == "log-level") {
        if (!log::parse_level(value, c.log_level))
            return error("log-level: expected error, warning, info or debug");
    } else if (key == "kinds") {
        c.kinds = split_commas(value);
        if (c.kinds.empty()) return error("kinds: at least one of 9pfs, xen_9pfs");
        for (const auto& k : c.kinds)
            if (k != worker_channel::kKindQemu && k != worker_channel::kKindXen9pfsd)
                return error("kinds: unknown kind '" + k + "' (9pfs or xen_9pfs)");
    } else if (key == "allowed-root") {
        if (value.empty() || value.front() != '/')
            return error("allowed-root: expected an absolute path");
        c.allowed_roots.emplace_back(value);
    } else if (key == "uid-range-base") {
        auto n = number(key, value, 1, 0xfffffffe);
        if (!n) return std::unexpected(n.error());
        c.uid_range_base = *n;
    } else if (key == "worker-gid") {
        auto n = number(key, value, 1, 0xfffffffe);
        if (!n) return std::unexpected(n.error());
        c.worker_gid = *n;
    } else if (key == "max-rings") {
        return set_number(c.max_rings, 2, 64);
    } else if (key == "max-ring-page-order") {
        return set_number(c.max_ring_order, 1, 9);
    } else if (key == "poll-window-us") {
        return set_number(c.poll_window_us, 0, worker_channel::WorkerParams::kMaxPollWindowUs);
    } else if (key == "max-open-files") {
        return set_number(c.default_limits.max_open_files, 1, 1u << 20);
    } else if (key == "max-files") {
        return set_number(c.default_limits.max_files, 0, 0xffffffff);
    } else if (key == "max-space") {
        return set_number(c.default_limits.max_space_mib, 0, 0xffffffff);
    } else if (key == "max-memory") {
        return set_number(c.default_limits.max_memory_mib,
                          worker_channel::ExportLimits::kMinMaxMemoryMib,
                          worker_channel::ExportLimits::kMaxMaxMemoryMib);
    } else if (key == "auto-delete") {
        auto b = boolean(key, value);
        if (!b) return std::unexpected(b.error());
        c.default_limits.auto_delete = *b;
    } else if (key == "xen") {
        if (value != "auto" && !(value.starts_with("sim:") && value.size() > 4))
            return error("xen: expected auto or sim:<dir>");
        c.xen = value;
    } else if (key == "control-socket") {
        if (value.empty()) return error("control-socket: expected a path");
        c.control_socket = value;
    } else if (key == "listen") {
        if (!value.starts_with("unix:") && !value.starts_with("tcp:"))
            return error("listen: expected unix:<path> or tcp:<addr>:<port>");
        c.listen = value;
    } else if (key == "listen-export") {
        if (value.empty() || value.front() != '/')
            return error("listen-export: expected an absolute path");
        c.listen_export = value;
    } else {
        return error("unknown option '" + std::string(key) + "'");
    }
    return {};
}

}  // namespace

std::expected<void, ConfigError> apply_config_text(std::string_view text, DaemonConfig& config) {
    int line_number = 0;
    while (!text.empty()) {
        ++line_number;
        const auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (const auto hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);
        line = trim(line);
        if (line.empty()) continue;
        const auto eq = line.find('=');
        if (eq == std::string_view::npos)
            return error("line " + std::to_string(line_number) + ": expected key = value");
        auto applied = apply(trim(line.substr(0, eq)), trim(line.substr(eq + 1)), config);
        if (!applied)
            return error("line " + std::to_string(line_number) + ": " + applied.error().message);
    }
    return {};
}

std::expected<DaemonConfig, ConfigError> parse_daemon_options(std::span<const std::string> args) {
    DaemonConfig config;
    std::vector<std::pair<std::string, std::string>> options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (!arg.starts_with("--")) return error("unexpected argument '" + std::string(arg) + "'");
        arg.remove_prefix(2);
        std::string key, value;
        if (const auto eq = arg.find('='); eq != std::string_view::npos) {
            key = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        } else {
            key = arg;
            if (i + 1 >= args.size()) return error("--" + key + ": missing value");
            value = args[++i];
        }
        options.emplace_back(std::move(key), std::move(value));
    }
    auto read_file = [&config](const std::string& path) -> std::expected<void, ConfigError> {
        std::ifstream in(path);
        if (!in) return error("--config: cannot read '" + path + "'");
        std::stringstream text;
        text << in.rdbuf();
        if (auto applied = apply_config_text(text.str(), config); !applied)
            return error(path + ": " + applied.error().message);
        config.config_file = path;
        return {};
    };
    bool has_config = false;
    for (const auto& [key, value] : options) {
        if (key != "config") continue;
        has_config = true;
        if (auto r = read_file(value); !r) return std::unexpected(r.error());
    }
    if (!has_config && std::filesystem::exists(std::string(kDefaultConfigFile))) {
        if (auto r = read_file(std::string(kDefaultConfigFile)); !r)
            return std::unexpected(r.error());
    }
    // xen-9pfsd's only knob.
    if (const char* verbose = std::getenv("XEN_9PFSD_VERBOSE"); verbose && *verbose)
        config.log_level = log::Level::kDebug;
    bool roots_from_cli = false;
    for (const auto& [key, value] : options) {
        if (key == "config") continue;
        // Roots given on the command line replace those of the file.
        if (key == "allowed-root" && !roots_from_cli) {
            config.allowed_roots.clear();
            roots_from_cli = true;
        }
        if (auto applied = apply(key, value, config); !applied)
            return error("--" + applied.error().message);
    }
    return config;
}

std::expected<void, ConfigError> resolve_worker_identity(DaemonConfig& config) {
    if (!config.uid_range_base || !config.worker_gid) {
        const passwd* account = ::getpwnam("xen-qemuuser-range-base");
        if (account == nullptr && !config.uid_range_base)
            return error(
                "no uid range: set uid-range-base or create the xen-qemuuser-range-base account");
        if (account != nullptr) {
            if (!config.uid_range_base) config.uid_range_base = account->pw_uid;
            if (!config.worker_gid) config.worker_gid = account->pw_gid;
        }
        if (!config.worker_gid) config.worker_gid = *config.uid_range_base;
    }
    if (*config.uid_range_base == 0 || *config.worker_gid == 0)
        return error("uid-range-base and worker-gid must not be 0 (root)");
    return {};
}

supervisor::SupervisorConfig supervisor_config(const DaemonConfig& config,
                                               std::uint16_t self_domid) {
    supervisor::SupervisorConfig sc;
    sc.self_domid = self_domid;
    sc.kinds = config.kinds;
    sc.allowed_roots = config.allowed_roots;
    sc.max_rings = config.max_rings;
    sc.max_ring_order = config.max_ring_order;
    sc.poll_window_us = config.poll_window_us;
    sc.uid_range_base = *config.uid_range_base;
    sc.gid = *config.worker_gid;
    sc.default_limits = config.default_limits;
    sc.platform = config.xen == "auto" ? "xen" : config.xen;
    return sc;
}

std::string_view daemon_usage() {
    return R"(usage: xen9pd [run] [options]       serve 9pfs devices from xenstore (foreground)
       xen9pd status [--control-socket PATH]
       xen9pd upgrade [--control-socket PATH]   run the installed binary anew, keeping
                                         every device and its worker
       xen9pd attach DOMAIN --tag TAG --path DIR [...]   give a running guest a share
       xen9pd detach DOMAIN [--devid N | --tag TAG] [...]  take it away again
       xen9pd serve --export DIR --listen unix:PATH|tcp:ADDR:PORT   9P over a socket
       xen9pd --help                     (attach, detach, serve: COMMAND --help)

Options (also valid as `key = value` lines in the --config file):
  --config FILE               read options from FILE first; the command line wins
  --log-level LEVEL           error, warning, info (default) or debug
  --kinds LIST                backend kinds to serve: 9pfs (libxl type=qemu) and/or
                              xen_9pfs (type=xen_9pfsd); default both
  --allowed-root DIR          a device's path must lie under DIR (repeatable; required)
  --uid-range-base UID        workers run as UID + domid (default: the uid of the
                              xen-qemuuser-range-base account, as dm_restrict uses)
  --worker-gid GID            group of the workers (default: that account's group)
  --max-rings N               advertised max-rings, 2..64 (default 4)
  --max-ring-page-order N     advertised max-ring-page-order, 1..9 (default 9)
  --poll-window-us N          how long a worker may poll its rings for the next
                              request before it sleeps, 0..1000 (default 50; 0:
                              never): self-tuning, so an idle guest costs no CPU
  --max-open-files N          default open-file limit per device (default 1024)
  --max-files N               default max-files per device, 0 = unlimited
  --max-space MIB             default max-space per device, 0 = unlimited
  --auto-delete BOOL          default auto-delete per device
  --max-memory MIB            default memory budget per device (default 64): the
                              request buffers and xattr values a guest can make its
                              worker hold; the worker's data size is capped by the
                              kernel at this plus 64 MiB
  --xen auto|sim:DIR          real Xen (default) or the simulated platform in DIR
  --control-socket PATH       where `xen9pd status` asks (default /run/xen9pd/control.sock)
  --listen unix:PATH|tcp:ADDR:PORT   also serve --listen-export over a 9P socket
  --listen-export DIR         the directory served on --listen

Xenstore keys read per device, under /local/domain/<self>/backend/<kind>/<domid>/<devid>:
  frontend, frontend-id       must name the guest's device/9pfs/<devid> and domid
  path                        the export; must lie under an allowed-root
  security_model              none (default), passthrough or mapped-xattr
  max-files, max-open-files, max-space, auto-delete   per-device limits (0: default)
  max-memory                  per-device memory budget in MiB (0: default)
  online, state               online=0 with state=5 is the toolstack's removal
written: versions=1, max-rings, max-ring-page-order, state, hotplug-error (on refusal).
From the guest's device/9pfs/<devid>: state, version, num-rings, ring-ref<N>,
event-channel-<N>, tag; read once at Initialised, each checked.
The worker of a device runs as uid-range-base + domid inside the export, and
`xen9pd status` shows per device: state, worker pid and uid, open_fids,
requests, errors, bytes_read, bytes_written, p50_us/p99_us/max_us (latency
bucket bounds) and ops=<request>:<count>,... (refreshed once a second).
Exit status: 0 stopped by a signal, 1 runtime failure, 2 configuration error.
)";
}

}  // namespace xen9p::config
