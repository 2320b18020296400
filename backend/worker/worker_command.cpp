#include "backend/worker/worker_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/log/log.hpp"
#include "backend/sandbox/sandbox.hpp"
#include "backend/server/process_memory_limit.hpp"
#include "backend/server/server.hpp"
#include "backend/transport/ring_connection.hpp"
#include "backend/worker/confinement.hpp"
#include "backend/worker/stats_reporter.hpp"
#include "backend/worker_channel/messages.hpp"
#include "base/parse_number.hpp"
#include "base/signal_fd.hpp"
#include "base/unique_fd.hpp"
#include "xenring/platform/platform.hpp"

namespace xen9p::worker {
namespace {

constexpr std::string_view kComponent = "worker";

struct WorkerOptions {
    int control_fd = -1;
    log::Level log_level = log::Level::kInfo;
};

std::optional<WorkerOptions> parse(std::span<const std::string> args) {
    WorkerOptions options;
    for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
        const std::string& value = args[i + 1];
        if (args[i] == "--control-fd") {
            const auto fd = parse_number<int>(value);
            if (!fd || *fd < 0) return std::nullopt;
            options.control_fd = *fd;
        } else if (args[i] == "--log-level") {
            if (!log::parse_level(value, options.log_level)) return std::nullopt;
        } else {
            return std::nullopt;
        }
    }
    if (args.size() % 2 != 0 || options.control_fd < 0) return std::nullopt;
    return options;
}

// SIGTERM and SIGINT as a readable fd; blocked before the sandbox, which
// forbids changing signal dispositions only by policy, not by seccomp.
Result<UniqueFd> stop_signals() {
    return block_and_watch({SIGTERM, SIGINT}, SFD_CLOEXEC | SFD_NONBLOCK);
}

fs::ExportConfig export_config(const worker_channel::WorkerParams& params) {
    fs::ExportConfig config;
    // The supervisor only hands over models it has validated.
    config.model =
        fs::parse_security_model(params.security_model).value_or(fs::SecurityModel::kNone);
    config.read_only = params.read_only;
    config.limits.max_open_files = params.limits.max_open_files;
    config.limits.max_files = params.limits.max_files;
    config.limits.max_space_mib = params.limits.max_space_mib;
    config.limits.auto_delete = params.limits.auto_delete;
    return config;
}

bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
}

// Logs why the device cannot be served; returns the worker's exit status, 1.
int device_failed(std::string_view device, const log::ErrorLine& failure) {
    log::error(kComponent, device, failure);
    return 1;
}

// Everything the device holds, in the order it must be released: the rings
// (unmapped, unbound) before the handles they were made with.
struct DeviceResources {
    std::unique_ptr<platform::GrantMapper> grants;
    std::unique_ptr<platform::EventChannel> events;
    std::vector<transport::MappedRing> rings;
};

// Opens the grant mapping and event channel handles, then maps and binds the
// frontend's rings one by one, into `res`. On failure `res` keeps what was
// acquired, for the caller to release after logging.
std::optional<log::ErrorLine> map_rings(const worker_channel::WorkerParams& params,
                                        DeviceResources& res) {
    auto grants = platform::open_grant_mapper(params.platform);
    if (!grants)
        return log::ErrorLine{"cannot open grant mapping", {{"error", grants.error().message}}};
    res.grants = std::move(*grants);
    auto events = platform::open_event_channel(params.platform);
    if (!events)
        return log::ErrorLine{"cannot open event channels", {{"error", events.error().message}}};
    res.events = std::move(*events);
    for (std::size_t i = 0; i < params.rings.size(); ++i) {
        const auto& ring = params.rings[i];
        auto mapped = transport::map_ring(*res.grants, *res.events, params.device.domid,
                                          ring.ring_ref, ring.event_channel, params.max_ring_order);
        if (!mapped)
            return log::ErrorLine{
                "cannot set up ring",
                {{"ring", std::to_string(i)},
                 {"step", std::string(transport::ring_setup_step_name(mapped.error().step))},
                 {"ring_ref", std::to_string(ring.ring_ref)},
                 {"event_channel", std::to_string(ring.event_channel)},
                 {"error", mapped.error().error.message()}}};
        res.rings.push_back(std::move(*mapped));
    }
    return std::nullopt;
}

// A compromised worker must reach no other guest: from here on its event
// channel handle binds this guest's ports only, and the grant mapping
// handle is closed (the rings stay mapped), so nothing it holds can map
// another guest's grants or bind their ports.
std::optional<log::ErrorLine> restrict_to_guest(const worker_channel::WorkerParams& params,
                                                DeviceResources& res, std::string_view device) {
    const auto domid = std::to_string(params.device.domid);
    if (auto restricted = res.events->restrict_to(params.device.domid); !restricted)
        return log::ErrorLine{"cannot restrict event channels to the guest",
                              {{"domid", domid}, {"error", restricted.error().message()}}};
    res.grants.reset();
    log::info(kComponent, device, "event channels restricted to the guest; grant mapping closed",
              {{"domid", domid}});
    return std::nullopt;
}

// What the guest may make the worker hold, in bytes.
std::size_t memory_budget(const worker_channel::WorkerParams& params) {
    return std::size_t{params.limits.max_memory_mib} << 20;
}

// The sandbox the worker enters: its uid and gid, the export as its root.
sandbox::SandboxPolicy sandbox_policy(const worker_channel::WorkerParams& params) {
    sandbox::SandboxPolicy policy;
    policy.uid = params.uid;
    policy.gid = params.gid;
    policy.root = params.export_path;
    if (params.limits.max_open_files != 0) {
        // Room for the worker's own descriptors besides the guest's files.
        policy.max_open_files = params.limits.max_open_files + 64;
    }
    policy.keep_capabilities = sandbox::capabilities_for_security_model(params.security_model);
    return policy;
}

// The error line for a confinement that failed, naming its step.
log::ErrorLine confinement_failure(const worker_channel::WorkerParams& params,
                                   const ConfinementError& error) {
    return {"cannot confine the worker",
            {{"step", std::string(confinement_step_name(error.step))},
             {"export", params.export_path.string()},
             {"uid", std::to_string(params.uid)},
             {"error", error.error.message()}}};
}

// Only the worker's own uid (and, under passthrough, its capabilities)
// decides what it may write: an export root it cannot write fails every
// create at the root with EACCES in the guest, with nothing on the host
// saying why.
void warn_if_root_not_writable(const worker_channel::WorkerParams& params, fs::Export& ex,
                               std::string_view device) {
    if (!params.read_only && ::faccessat(ex.root_fd(), ".", W_OK | X_OK, AT_EACCESS) != 0) {
        log::warning(kComponent, device, "export root not writable by the worker",
                     {{"export", params.export_path.string()},
                      {"uid", std::to_string(params.uid)},
                      {"error", Errno{errno}.message()}});
    }
}

// Serves the device's rings from inside the sandbox until the supervisor or
// a signal stops it (0) or the guest's rings close or fail (1).
int serve_rings(const worker_channel::WorkerParams& params, int control_fd,
                ConfinedWorker& confined, DeviceResources& res, int signal_fd,
                const std::string& device) {
    server::SessionConfig session;
    session.aname = params.export_path.string();
    session.max_memory = memory_budget(params);
    server::Server server(confined.loop, confined.ex, session);
    server.add(std::make_unique<transport::RingConnection>(confined.loop, *res.events,
                                                           std::move(res.rings), "ring:" + device));
    if (auto ready = worker_channel::report_ready(control_fd); !ready)
        return device_failed(device, {"supervisor gone", {{"error", ready.error().message()}}});
    StatsReporter reporter(confined.loop, server, control_fd);
    reporter.start();
    log::info(kComponent, device, "serving",
              {{"export", params.export_path.string()},
               {"rings", std::to_string(params.rings.size())},
               {"uid", std::to_string(params.uid)},
               {"confinement", std::string(confinement_name(confined.confinement))}});

    // The supervisor closing its end of the control socket stops us as SIGTERM does.
    const std::array stop_fds{signal_fd, control_fd};
    if (auto ok = server.run(stop_fds, server::Server::Until::kStoppedOrIdle); !ok)
        return device_failed(device, {"event loop failed", {{"error", ok.error().message()}}});
    if (readable(signal_fd) || readable(control_fd)) {
        log::info(kComponent, device, "stopped");
        return 0;
    }
    log::warning(kComponent, device, "device rings closed; the device is lost");
    return 1;
}

// The worker's life, in an order that matters: take the guest's rings, give
// up every other guest, then the host (memory cap, sandbox, export), then
// serve. Exit status 0 when stopped, 1 when the device failed.
int serve_device(const worker_channel::WorkerParams& params, int control_fd) {
    const std::string device = params.device.to_string();
    DeviceResources res;
    if (auto failure = map_rings(params, res)) return device_failed(device, *failure);
    if (auto failure = restrict_to_guest(params, res, device))
        return device_failed(device, *failure);
    auto signals = stop_signals();
    if (!signals)
        return device_failed(device,
                             {"cannot watch signals", {{"error", signals.error().message()}}});
    if (auto capped = server::limit_process_memory(memory_budget(params)); !capped)
        return device_failed(
            device, {"cannot limit the worker's memory", {{"error", capped.error().message()}}});
    auto confined = confine_worker(sandbox_policy(params), export_config(params));
    if (!confined) return device_failed(device, confinement_failure(params, confined.error()));
    warn_if_root_not_writable(params, confined->ex, device);
    return serve_rings(params, control_fd, *confined, res, signals->get(), device);
}

}  // namespace

int worker_command(std::span<const std::string> args) {
    auto options = parse(args);
    if (!options) {
        std::fputs("usage: xen9pd worker --control-fd N [--log-level LEVEL]\n", stderr);
        return 2;
    }
    log::set_level(options->log_level);
    // Run from /proc/self/exe, the kernel names it "exe"; ps and top should
    // say what it is.
    if (::prctl(PR_SET_NAME, "xen9pd") != 0)
        log::warning(kComponent, "", "cannot set the process name",
                     {{"error", std::strerror(errno)}});
    auto params = worker_channel::receive_params(options->control_fd);
    if (!params) {
        log::error(kComponent, "", "cannot read the device parameters",
                   {{"error", params.error().message()}});
        return 1;
    }
    return serve_device(*params, options->control_fd);
}

}  // namespace xen9p::worker
