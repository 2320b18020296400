// xen9pd's daemon configuration: an optional file of `key = value` lines
// (`#` starts a comment) overridden by command-line options of the same names
// (`--key value` or `--key=value`). Every key is documented in README.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/log/log.hpp"
#include "backend/supervisor/supervisor_config.hpp"
#include "backend/worker_channel/worker_params.hpp"

namespace xen9p::config {

struct DaemonConfig {
    std::optional<std::filesystem::path> config_file;
    log::Level log_level = log::Level::kInfo;
    std::vector<std::string> kinds{"9pfs", "xen_9pfs"};
    std::vector<std::filesystem::path> allowed_roots;
    // Unset: taken from the xen-qemuuser-range-base account, as libxl's dm_restrict does.
    std::optional<uid_t> uid_range_base;
    std::optional<gid_t> worker_gid;
    std::uint32_t max_rings = 4;
    std::uint32_t max_ring_order = 9;
    std::uint32_t poll_window_us = worker_channel::WorkerParams::kDefaultPollWindowUs;
    worker_channel::ExportLimits default_limits{0, 1024, 0, false,
                                                worker_channel::ExportLimits::kDefaultMaxMemoryMib};
    // "auto" (real Xen) or "sim:<dir>" (the simulated platform).
    std::string xen = "auto";
    std::filesystem::path control_socket = "/run/xen9pd/control.sock";
    // Optional 9P socket listener: "unix:<path>" or "tcp:<addr>:<port>".
    std::optional<std::string> listen;
    std::optional<std::filesystem::path> listen_export;
};

// A configuration error: one line for the user; xen9pd exits with status 2.
struct ConfigError {
    std::string message;
};

// Applies the lines of a config file to `config`.
std::expected<void, ConfigError> apply_config_text(std::string_view text, DaemonConfig& config);

// Read when no --config is given and it exists, so that the bare `xen9pd`
// libxl starts in place of xen-9pfsd (it passes no arguments) is configured.
inline constexpr std::string_view kDefaultConfigFile = "/etc/xen9pd.conf";

// Applies command-line options (after the subcommand). `--config FILE` is
// read first wherever it appears, so the command line always wins.
std::expected<DaemonConfig, ConfigError> parse_daemon_options(std::span<const std::string> args);

// Fills uid_range_base / worker_gid from the xen-qemuuser-range-base account
// when unset. Refuses a base of 0.
std::expected<void, ConfigError> resolve_worker_identity(DaemonConfig& config);

// What the supervisor of this configuration runs with, in the domain
// `self_domid`. The worker identity must be resolved (resolve_worker_identity).
supervisor::SupervisorConfig supervisor_config(const DaemonConfig& config,
                                               std::uint16_t self_domid);

// The help text listing every option.
std::string_view daemon_usage();

}  // namespace xen9p::config
