#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <expected>
#include <iostream>
#include <limits>

#include "backend/config/daemon_config.hpp"
#include "backend/control/control_socket.hpp"
#include "backend/daemon/reexec.hpp"
#include "backend/daemon/run_command.hpp"
#include "backend/log/log.hpp"
#include "backend/supervisor/process_worker.hpp"
#include "backend/supervisor/supervisor.hpp"
#include "base/parse_number.hpp"
#include "base/signal_fd.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::daemon {
namespace {

constexpr std::string_view kComponent = "xen9pd";
// How long `xen9pd upgrade` waits for the new daemon's answer.
constexpr std::chrono::seconds kUpgradeAnswerWait{120};
// The control command, and the first word of the new daemon's answer.
constexpr std::string_view kUpgradeCommand = "upgrade";
constexpr std::string_view kUpgradedAnswer = "upgraded";

std::string state_name(xenstore::XenbusState state) {
    switch (state) {
        case xenstore::XenbusState::kUnknown:
            return "Unknown";
        case xenstore::XenbusState::kInitialising:
            return "Initialising";
        case xenstore::XenbusState::kInitWait:
            return "InitWait";
        case xenstore::XenbusState::kInitialised:
            return "Initialised";
        case xenstore::XenbusState::kConnected:
            return "Connected";
        case xenstore::XenbusState::kClosing:
            return "Closing";
        case xenstore::XenbusState::kClosed:
            return "Closed";
        case xenstore::XenbusState::kReconfiguring:
            return "Reconfiguring";
        case xenstore::XenbusState::kReconfigured:
            return "Reconfigured";
    }
    return "Unknown";
}

// One line per device; values quoted like log fields so names with spaces stay parseable.
std::string format_status(const std::vector<supervisor::DeviceStatus>& devices) {
    std::string out;
    for (const auto& d : devices) {
        auto quoted = [](const std::string& s) {
            std::string q = "\"";
            for (char c : s) {
                if (c == '"' || c == '\\') q.push_back('\\');
                q.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
            }
            return q + "\"";
        };
        out += "device=" + d.id.to_string() + " domid=" + std::to_string(d.id.domid) +
               " devid=" + std::to_string(d.id.devid) + " tag=" + quoted(d.tag) +
               " path=" + quoted(d.path) + " security_model=" + quoted(d.security_model) +
               " state=" + state_name(d.state) + " worker_pid=" + std::to_string(d.worker_pid) +
               " worker_uid=" + std::to_string(d.worker_uid);
        if (d.stats) out += " " + stats::format_stats(*d.stats);
        if (!d.last_error.empty()) out += " error=" + quoted(d.last_error);
        out += "\n";
    }
    if (devices.empty()) out = "no devices\n";
    return out;
}

Result<xenstore::Xenstore> open_xenstore(const std::string& xen) {
    if (xen.starts_with("sim:"))
        return xenstore::Xenstore::open_socket(xen.substr(4) + "/xenstored.sock");
    return xenstore::Xenstore::open();
}

// dom0 or a driver domain: xenstore knows who we are.
std::uint16_t own_domid(xenstore::Xenstore& xs) {
    auto value = xs.try_read("domid");
    if (value && *value) {
        if (auto id = parse_decimal(**value, 0x7fef)) return static_cast<std::uint16_t>(*id);
    }
    return 0;
}

// The configuration `xen9pd run` serves with, or the line saying why it
// cannot (xen9pd then exits with status 2).
std::expected<config::DaemonConfig, std::string> load_config(std::span<const std::string> args) {
    auto config = config::parse_daemon_options(args);
    if (!config) return std::unexpected(config.error().message);
    // Started by libxl as xen-9pfsd, xen9pd has no arguments: the default
    // file is all there is, so say which file was missing and where the
    // example lies.
    if (config->allowed_roots.empty() && !config->config_file)
        return std::unexpected(std::string(config::kDefaultConfigFile) +
                               " does not exist and no --allowed-root was given: devices could "
                               "not be served (example configuration: " XEN9P_EXAMPLE_CONFIG ")");
    if (config->allowed_roots.empty())
        return std::unexpected("no allowed-root configured: devices could not be served");
    if (auto identity = config::resolve_worker_identity(*config); !identity)
        return std::unexpected(identity.error().message);
    return std::move(*config);
}

// Blocks SIGTERM, SIGINT and SIGHUP and returns them as an fd, so the loop
// handles them between events; a closed peer's SIGPIPE is ignored.
Result<UniqueFd> watch_stop_signals() {
    ::signal(SIGPIPE, SIG_IGN);
    return block_and_watch({SIGTERM, SIGINT, SIGHUP}, SFD_CLOEXEC | SFD_NONBLOCK);
}

// Workers are this very binary in worker mode; exec keeps them fresh.
std::unique_ptr<supervisor::WorkerLauncher> worker_launcher(log::Level log_level) {
    return std::make_unique<supervisor::ProcessWorkerLauncher>(
        "/proc/self/exe", "xen9pd",
        std::vector<std::string>{"worker", "--log-level", std::string(log::level_name(log_level))});
}

// Logs why the daemon cannot go on; returns its exit status, 1.
int daemon_failed(const log::ErrorLine& failure) {
    log::error(kComponent, "", failure);
    return 1;
}

// Runs the supervisor and answers the control socket until a stop signal
// arrives on `signal_fd` (or poll fails, which is logged): nullopt, or until
// `xen9pd upgrade` asks for a re-exec: its request, to be answered by the
// daemon that takes over.
std::optional<control::ControlRequest> serve_until_stopped(supervisor::Supervisor& supervisor,
                                                           control::ControlServer& control,
                                                           int signal_fd) {
    for (;;) {
        auto fds = supervisor.poll_fds();
        const auto supervisor_count = fds.size();
        fds.push_back({control.fd(), POLLIN, 0});
        fds.push_back({signal_fd, POLLIN, 0});
        if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
            log::error(kComponent, "", "poll failed", {{"error", Errno{errno}.message()}});
            return std::nullopt;
        }
        if (fds[supervisor_count + 1].revents != 0) {
            signalfd_siginfo info{};
            (void)!::read(signal_fd, &info, sizeof info);
            log::info(kComponent, "", "stopping", {{"signal", std::to_string(info.ssi_signo)}});
            return std::nullopt;
        }
        supervisor.handle_ready(std::span(fds).first(supervisor_count));
        if (fds[supervisor_count].revents == 0) continue;
        auto request = control.accept_request();
        if (!request) continue;
        if (request->command == kUpgradeCommand) return request;
        control::reply(std::move(request->client), request->command == "status"
                                                       ? format_status(supervisor.status())
                                                       : "error: unknown command\n");
    }
}

// Starts the supervisor of `config` and its control socket (taking over
// from the previous one when `handover_fd` is not -1), serves until stopped
// and shuts the workers down: 0, or 1 when it could not start. `args` are
// the daemon's own, for a re-exec.
int run_daemon(const config::DaemonConfig& config, std::span<const std::string> args,
               int handover_fd) {
    auto handover = take_handover(handover_fd);
    // What to execute for `xen9pd upgrade`: the file this daemon was started
    // from, which an upgrade replaces (/proc/self/exe would stay the old one).
    std::error_code ec;
    const auto program = std::filesystem::read_symlink("/proc/self/exe", ec);
    auto signal_fd = watch_stop_signals();
    if (!signal_fd)
        return daemon_failed({"signalfd failed", {{"error", signal_fd.error().message()}}});
    auto xs = open_xenstore(config.xen);
    if (!xs)
        return daemon_failed(
            {"cannot connect to xenstore", {{"error", xs.error().message()}, {"xen", config.xen}}});
    const auto self_domid = own_domid(*xs);
    supervisor::Supervisor supervisor(config::supervisor_config(config, self_domid), std::move(*xs),
                                      worker_launcher(config.log_level));
    std::size_t closed = 0;
    if (handover) closed = supervisor.adopt(*handover);
    if (auto started = supervisor.start(); !started)
        return daemon_failed({"cannot start", {{"error", started.error().message()}}});
    auto control = control::ControlServer::listen(config.control_socket);
    if (!control)
        return daemon_failed(
            {"cannot create the control socket",
             {{"path", config.control_socket.string()}, {"error", control.error().message()}}});
    log::info(kComponent, "", "running",
              {{"pid", std::to_string(::getpid())}, {"control", config.control_socket.string()}});
    if (handover && handover->reply_fd >= 0) {
        auto answer = std::string(kUpgradedAnswer) + ": pid " + std::to_string(::getpid()) +
                      " took over " + std::to_string(handover->devices.size()) + " devices";
        if (closed != 0) answer += "; closed " + std::to_string(closed) + " of them (see the log)";
        control::reply(UniqueFd(handover->reply_fd), answer + "\n");
    }
    while (auto upgrade = serve_until_stopped(supervisor, *control, signal_fd->get())) {
        log::info(kComponent, "", "upgrading: executing the daemon again, devices handed over",
                  {{"program", program.string()}});
        const auto failed =
            ec ? fail(ec.value()) : reexecute(program, args, supervisor, upgrade->client.get());
        const auto error = failed.error().message();
        log::error(kComponent, "", "cannot execute the daemon again: it serves on as it was",
                   {{"program", program.string()}, {"error", error}});
        control::reply(std::move(upgrade->client),
                       "error: cannot execute " + program.string() + ": " + error + "\n");
    }
    supervisor.shutdown();
    return 0;
}

}  // namespace

int run_command(std::span<const std::string> args) {
    for (const auto& a : args) {
        if (a == "--help" || a == "-h") {
            std::cout << config::daemon_usage();
            return 0;
        }
    }
    // The handover option is the previous supervisor's, not a setting.
    std::vector<std::string> own;
    int handover_fd = -1;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] != kHandoverOption) {
            own.push_back(args[i]);
            continue;
        }
        const auto fd = i + 1 < args.size() ? parse_number<int>(args[++i]) : std::nullopt;
        // A number that names nothing is refused as a handover that does not read.
        handover_fd = fd && *fd >= 0 ? *fd : std::numeric_limits<int>::max();
    }
    auto config = load_config(own);
    if (!config) {
        std::cerr << "xen9pd: " << config.error() << "\n";
        return 2;
    }
    log::set_level(config->log_level);
    return run_daemon(*config, own, handover_fd);
}

namespace {

// Sends `command` to the daemon of the control socket `args` name (or the
// configured one) and returns its answer, waiting at most `answer_wait`; else, after saying why on
// stderr, the exit status: 2 for a bad argument, 1 when the daemon cannot be reached.
std::expected<std::string, int> ask_daemon(std::string_view name, std::span<const std::string> args,
                                           std::string_view command,
                                           std::chrono::seconds answer_wait) {
    // The daemon's socket: the configuration file's, else the default.
    auto configured = config::parse_daemon_options({});
    std::filesystem::path socket =
        configured ? configured->control_socket : config::DaemonConfig{}.control_socket;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--control-socket" && i + 1 < args.size()) {
            socket = args[++i];
        } else if (args[i].starts_with("--control-socket=")) {
            socket = args[i].substr(17);
        } else {
            std::cerr << "xen9pd " << name << ": unexpected argument '" << args[i] << "'\n";
            return std::unexpected(2);
        }
    }
    auto answer = control::control_query(socket, command, answer_wait);
    if (!answer) {
        std::cerr << "xen9pd " << name << ": cannot reach the daemon at " << socket << ": "
                  << answer.error().message() << "\n";
        return std::unexpected(1);
    }
    return std::move(*answer);
}

}  // namespace

int status_command(std::span<const std::string> args) {
    auto answer = ask_daemon("status", args, "status", std::chrono::seconds(10));
    if (!answer) return answer.error();
    std::cout << *answer;
    return 0;
}

int upgrade_command(std::span<const std::string> args) {
    auto answer = ask_daemon("upgrade", args, kUpgradeCommand, kUpgradeAnswerWait);
    if (!answer) return answer.error();
    if (answer->starts_with(kUpgradedAnswer)) {
        std::cout << *answer;
        return 0;
    }
    if (answer->empty()) *answer = "the new daemon did not take the devices over: see its log\n";
    std::cerr << "xen9pd upgrade: " << *answer;
    return 1;
}

}  // namespace xen9p::daemon
