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
#include <optional>
#include <set>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/log/log.hpp"
#include "backend/sandbox/sandbox.hpp"
#include "backend/server/kill_point.hpp"
#include "backend/server/process_memory_limit.hpp"
#include "backend/server/server.hpp"
#include "backend/server/session_store.hpp"
#include "backend/transport/ring_connection.hpp"
#include "backend/worker/confinement.hpp"
#include "backend/worker/device_keeper.hpp"
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

// What the keeper holds for the device's whole life: the event channel
// handle with the rings' ports bound, the session's store, and the numbers
// of its own descriptors (any other a server finds at start is one a dead
// server left).
struct DeviceKeep {
    std::unique_ptr<platform::EventChannel> events;
    std::vector<platform::BoundPort> ports;
    std::optional<server::SessionStore> store;
    std::vector<int> descriptors;
};

// Opens the event channel handle and binds the frontend's ports, then
// restricts the handle: from here on it binds this guest's ports only, so a
// compromised server cannot reach another guest's.
std::optional<log::ErrorLine> bind_ports(const worker_channel::WorkerParams& params,
                                         DeviceKeep& keep) {
    auto events = platform::open_event_channel(params.platform);
    if (!events)
        return log::ErrorLine{"cannot open event channels", {{"error", events.error().message}}};
    keep.events = std::move(*events);
    for (std::size_t i = 0; i < params.rings.size(); ++i) {
        auto port =
            keep.events->bind_interdomain(params.device.domid, params.rings[i].event_channel);
        if (!port)
            return log::ErrorLine{"cannot set up ring",
                                  {{"ring", std::to_string(i)},
                                   {"step", "event channel"},
                                   {"event_channel", std::to_string(params.rings[i].event_channel)},
                                   {"error", port.error().message()}}};
        keep.ports.push_back(std::move(*port));
    }
    const auto domid = std::to_string(params.device.domid);
    if (auto restricted = keep.events->restrict_to(params.device.domid); !restricted)
        return log::ErrorLine{"cannot restrict event channels to the guest",
                              {{"domid", domid}, {"error", restricted.error().message()}}};
    return std::nullopt;
}

// Maps the frontend's rings with a grant mapping handle of this server's
// own, closed before it returns (the rings stay mapped): nothing a server
// holds can map another guest's grants.
std::expected<std::vector<transport::MappedRing>, log::ErrorLine> map_rings(
    const worker_channel::WorkerParams& params, const DeviceKeep& keep, std::string_view device) {
    auto grants = platform::open_grant_mapper(params.platform);
    if (!grants)
        return std::unexpected(
            log::ErrorLine{"cannot open grant mapping", {{"error", grants.error().message}}});
    std::vector<transport::MappedRing> rings;
    for (std::size_t i = 0; i < params.rings.size(); ++i) {
        const auto& ring = params.rings[i];
        auto mapped = transport::map_ring(**grants, params.device.domid, ring.ring_ref,
                                          keep.ports[i].port(), params.max_ring_order);
        if (!mapped)
            return std::unexpected(log::ErrorLine{
                "cannot set up ring",
                {{"ring", std::to_string(i)},
                 {"step", std::string(transport::ring_setup_step_name(mapped.error().step))},
                 {"ring_ref", std::to_string(ring.ring_ref)},
                 {"error", mapped.error().error.message()}}});
        rings.push_back(std::move(*mapped));
    }
    log::info(kComponent, device, "event channels restricted to the guest; grant mapping closed",
              {{"domid", std::to_string(params.device.domid)}});
    return rings;
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

// Closes what a dead server left in the shared descriptor table that no
// record of the carried-over session names (its io_uring, its proc, files
// it opened but never recorded): `inherited` is what this server found.
void close_orphans(const std::vector<int>& inherited, const DeviceKeep& keep,
                   const server::StoredSession& stored) {
    std::set<int> kept(keep.descriptors.begin(), keep.descriptors.end());
    for (const int fd : stored.descriptors())
        kept.insert(fd);
    for (const int fd : inherited)
        if (!kept.contains(fd)) ::close(fd);
}

// The session: a fresh one for the device's first server, else the one the
// dead server left in the store, or nothing (the device is then lost, as
// before restarts existed: an xattr fid, or records that do not hold).
bool start_session(server::Server& server, std::unique_ptr<transport::RingConnection> connection,
                   DeviceKeep& keep, const Incarnation& incarnation,
                   const std::vector<int>& inherited, const std::string& device) {
    if (incarnation.number == 0)
        return static_cast<bool>(server.add(std::move(connection), *keep.store, nullptr));
    auto stored = keep.store->load();
    Status added = stored ? server.add(std::move(connection), *keep.store, &*stored)
                          : Status(std::unexpected(stored.error()));
    if (!added) {
        log::error(kComponent, device, "session not carried over; the device is lost",
                   {{"restart", std::to_string(incarnation.number)},
                    {"previous", incarnation.last_cause},
                    {"reason", added.error().value == ENOTRECOVERABLE
                                   ? "an xattr fid was open or a record could not be written"
                                   : "the session records do not hold"},
                    {"error", added.error().message()}});
        return false;
    }
    close_orphans(inherited, keep, *stored);
    log::warning(kComponent, device, "server replaced; session carried over",
                 {{"restart", std::to_string(incarnation.number)},
                  {"previous", incarnation.last_cause},
                  {"fids", std::to_string(stored->fids.size())}});
    return true;
}

// Serves the device's rings from inside the sandbox until the supervisor or
// a signal stops it (0) or the guest's rings close or fail (1).
int serve_rings(const worker_channel::WorkerParams& params, int control_fd,
                ConfinedWorker& confined, DeviceKeep& keep,
                std::vector<transport::MappedRing> rings, int signal_fd,
                const Incarnation& incarnation, const std::vector<int>& inherited,
                const std::string& device) {
    server::SessionConfig session;
    session.aname = params.export_path.string();
    session.max_memory = memory_budget(params);
    server::Server server(confined.loop, confined.ex, session);
    confined.loop.set_poll_window(std::chrono::microseconds(params.poll_window_us));
    auto connection = std::make_unique<transport::RingConnection>(
        confined.loop, *keep.events, std::move(rings), "ring:" + device);
    if (!start_session(server, std::move(connection), keep, incarnation, inherited, device))
        return 1;
    if (auto ready = worker_channel::report_ready(control_fd); !ready)
        return device_failed(device, {"supervisor gone", {{"error", ready.error().message()}}});
    StatsReporter reporter(confined.loop, server, control_fd, incarnation.number,
                           static_cast<std::uint64_t>(incarnation.last_signal));
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

// One server of the device, in an order that matters: take the guest's
// rings, then give up the host (memory cap, sandbox, export), then serve.
// Exit status 0 when stopped, 1 when the device failed.
int serve_incarnation(const worker_channel::WorkerParams& params, int control_fd, DeviceKeep& keep,
                      const Incarnation& incarnation) {
    const std::string device = params.device.to_string();
    // Tests kill the first server at a chosen point (kill_point.hpp).
    if (incarnation.number == 0 && !server::arm_kill_point_from_environment())
        return device_failed(device, {"XEN9PD_KILL_AT is not <point>:<n>", {}});
    // Before this server opens anything: what else is here, a dead one left.
    const auto inherited = incarnation.number == 0 ? std::vector<int>{} : open_descriptors();
    auto rings = map_rings(params, keep, device);
    if (!rings) return device_failed(device, rings.error());
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
    return serve_rings(params, control_fd, *confined, keep, std::move(*rings), signals->get(),
                       incarnation, inherited, device);
}

// The keeper: binds the ports and makes the store once, then keeps a server
// running (device_keeper.hpp). Exit status 0 when stopped, 1 when the device
// failed, worker_channel::kExitCrashLoop when its servers kept dying.
int serve_device(const worker_channel::WorkerParams& params, int control_fd) {
    const std::string device = params.device.to_string();
    DeviceKeep keep;
    if (auto failure = bind_ports(params, keep)) return device_failed(device, *failure);
    auto store = server::SessionStore::create(server::SessionConfig{}.max_fids);
    if (!store)
        return device_failed(
            device, {"cannot make the session store", {{"error", store.error().message()}}});
    keep.store.emplace(std::move(*store));
    keep.descriptors = open_descriptors();
    // From here on the keeper says nothing: the supervisor explains its exit.
    return keep_device([&](const Incarnation& incarnation) {
        return serve_incarnation(params, control_fd, keep, incarnation);
    });
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
