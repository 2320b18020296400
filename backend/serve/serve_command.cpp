#include "backend/serve/serve_command.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/log/log.hpp"
#include "backend/sandbox/sandbox.hpp"
#include "backend/serve/pid_namespace_init.hpp"
#include "backend/server/process_memory_limit.hpp"
#include "backend/server/server.hpp"
#include "backend/transport/listener.hpp"
#include "backend/worker/confinement.hpp"
#include "base/parse_number.hpp"
#include "base/signal_fd.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::serve {
namespace {

constexpr std::string_view kComponent = "xen9pd";
// Largest msize offered over a socket: 1 MiB of payload plus the I/O header.
constexpr std::uint32_t kStreamMaxMsize = 1024 * 1024 + 24;

struct ServeOptions {
    std::string export_path;
    std::string listen;
    fs::ExportConfig export_config;
    server::SessionConfig session;
    log::Level log_level = log::Level::kInfo;
    // Every connection gets max_memory_mib / max_connections of the budget,
    // so that the connections together never exceed it and none can take
    // another's share.
    std::size_t max_memory_mib = server::SessionConfig::kDefaultMaxMemory >> 20;
    std::size_t max_connections = 16;
    // Confined as a worker is, as this uid and gid (default: the export
    // directory's owner and group), unless --no-sandbox.
    bool sandbox = true;
    std::optional<uid_t> uid;
    std::optional<gid_t> gid;
};

constexpr std::string_view kUsage =
    "usage: xen9pd serve --export DIR --listen unix:PATH|tcp:ADDR:PORT\n"
    "       [--security-model none|passthrough|mapped-xattr] [--read-only]\n"
    "       [--max-fids N] [--max-open-files N] [--max-files N] [--max-space MIB]\n"
    "       [--auto-delete] [--max-in-flight N] [--log-level error|warning|info|debug]\n"
    "       [--max-memory MIB] [--max-connections N] [--uid UID] [--gid GID] [--no-sandbox]\n"
    "--max-memory (default 64) bounds what clients can make the process hold,\n"
    "shared equally by --max-connections (default 16) connections, each at least\n"
    "1 MiB; connections past the limit are closed at once. The kernel caps the\n"
    "process's data size at --max-memory plus 64 MiB.\n"
    "Run as root, serve confines itself as a worker does: PID 1 of a PID\n"
    "namespace of its own, the export as its root, UID/GID (default: the\n"
    "export's owner; never 0), seccomp. The process started stays outside,\n"
    "unconfined, only to pass SIGINT/SIGTERM on and exit with the served\n"
    "process's status (128+N if signal N killed it); if it dies, so does that.\n"
    "--no-sandbox keeps the calling process's identity and view of the host.\n";

// Sets `out` to `text` read as parse_number<T> does; false (and `out` left
// alone) if it is no T.
template <class T>
bool read_number(std::string_view text, T& out) {
    const auto value = parse_number<T>(text);
    if (value) out = *value;
    return value.has_value();
}

std::optional<ServeOptions> parse(std::span<const std::string> args) {
    ServeOptions options;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--read-only") {
            options.export_config.read_only = true;
            continue;
        }
        if (arg == "--auto-delete") {
            options.export_config.limits.auto_delete = true;
            continue;
        }
        if (arg == "--no-sandbox") {
            options.sandbox = false;
            continue;
        }
        if (i + 1 >= args.size()) return std::nullopt;
        std::string_view value = args[++i];
        bool ok = true;
        if (arg == "--export") {
            options.export_path = value;
        } else if (arg == "--listen") {
            options.listen = value;
        } else if (arg == "--security-model") {
            auto model = fs::parse_security_model(value);
            ok = model.has_value();
            if (ok) options.export_config.model = *model;
        } else if (arg == "--max-fids") {
            ok = read_number(value, options.session.max_fids) && options.session.max_fids > 0;
        } else if (arg == "--max-in-flight") {
            ok = read_number(value, options.session.max_in_flight) &&
                 options.session.max_in_flight > 0;
        } else if (arg == "--max-open-files") {
            ok = read_number(value, options.export_config.limits.max_open_files);
        } else if (arg == "--max-files") {
            ok = read_number(value, options.export_config.limits.max_files);
        } else if (arg == "--max-space") {
            ok = read_number(value, options.export_config.limits.max_space_mib);
        } else if (arg == "--uid") {
            uid_t uid = 0;
            ok = read_number(value, uid);
            options.uid = uid;
        } else if (arg == "--gid") {
            gid_t gid = 0;
            ok = read_number(value, gid);
            options.gid = gid;
        } else if (arg == "--log-level") {
            ok = log::parse_level(value, options.log_level);
        } else if (arg == "--max-memory") {
            ok = read_number(value, options.max_memory_mib) && options.max_memory_mib > 0 &&
                 options.max_memory_mib <= (std::size_t{1} << 16);
        } else if (arg == "--max-connections") {
            ok = read_number(value, options.max_connections) && options.max_connections > 0;
        } else {
            ok = false;
        }
        if (!ok) return std::nullopt;
    }
    if (options.export_path.empty() || options.listen.empty()) return std::nullopt;
    options.session.aname = options.export_path;
    options.session.max_memory = (options.max_memory_mib << 20) / options.max_connections;
    if (options.session.max_memory < server::SessionConfig::kMinMaxMemory) return std::nullopt;
    return options;
}

// SIGINT and SIGTERM as a readable fd for the event loop.
Result<UniqueFd> stop_signals() {
    return block_and_watch({SIGINT, SIGTERM}, SFD_CLOEXEC | SFD_NONBLOCK);
}

// The worker's sandbox for the export: its owner's ids unless given.
Result<sandbox::SandboxPolicy> sandbox_policy(const ServeOptions& options) {
    struct stat st {};
    if (::stat(options.export_path.c_str(), &st) != 0) return fail_errno();
    sandbox::SandboxPolicy policy;
    policy.uid = options.uid.value_or(st.st_uid);
    policy.gid = options.gid.value_or(st.st_gid);
    policy.root = options.export_path;
    if (options.export_config.limits.max_open_files != 0)
        policy.max_open_files = options.export_config.limits.max_open_files + 64;
    policy.keep_capabilities = sandbox::capabilities_for_security_model(
        std::string(fs::security_model_name(options.export_config.model)));
    return policy;
}

// `parent_pidfd` is the unconfined parent's (sandboxed) or empty (--no-sandbox).
Result<fs::Export> open_export(const ServeOptions& options, UniqueFd parent_pidfd) {
    if (!options.sandbox) return fs::Export::open(options.export_path, options.export_config);
    auto policy = sandbox_policy(options);
    if (!policy) return std::unexpected(policy.error());
    policy->parent_pidfd = parent_pidfd.get();
    // enter_sandbox refuses uid or gid 0 with EPERM.
    auto ex = worker::confine_to_export(*policy, options.export_config);
    if (!ex) {
        log::error(kComponent, "", "cannot confine serve (--no-sandbox to run unconfined)",
                   {{"step", std::string(worker::confinement_step_name(ex.error().step))},
                    {"uid", std::to_string(policy->uid)},
                    {"gid", std::to_string(policy->gid)},
                    {"errno", ex.error().error.message()}});
        return std::unexpected(ex.error().error);
    }
    parent_pidfd.reset();
    log::info(kComponent, "", "confined",
              {{"uid", std::to_string(policy->uid)},
               {"gid", std::to_string(policy->gid)},
               {"confinement", std::string(worker::confinement_name(ex->confinement))}});
    return std::move(ex->ex);
}

// Serves until SIGINT or SIGTERM; the exit status.
int serve(ServeOptions* options, UniqueFd parent_pidfd) {
    if (auto capped = server::limit_process_memory(options->max_memory_mib << 20); !capped) {
        log::error(kComponent, "", "cannot limit memory", {{"errno", capped.error().message()}});
        return 1;
    }
    auto address = transport::ListenAddress::parse(options->listen);
    if (!address) {
        std::fputs(kUsage.data(), stderr);
        return 2;
    }
    auto loop = io::EventLoop::create();
    if (!loop) {
        log::error(kComponent, "", "io_uring unavailable", {{"errno", loop.error().message()}});
        return 1;
    }
    auto signals = stop_signals();
    if (!signals) {
        log::error(kComponent, "", "cannot watch signals", {{"errno", signals.error().message()}});
        return 1;
    }
    // One limiter for every line a client can cause: sessions, connections, accepts.
    auto log_limiter = std::make_shared<log::RateLimiter>();
    options->session.log_limiter = log_limiter;
    // The socket is bound before confinement (the sandbox forbids socket and
    // bind); the server exists once the export is open, before the loop runs,
    // and goes before the export it serves.
    std::optional<fs::Export> ex;
    std::optional<server::Server> server;
    const std::size_t max_connections = options->max_connections;
    auto accepted = [&server, &log_limiter,
                     max_connections](std::unique_ptr<server::Transport> transport) {
        if (server->sessions() >= max_connections) {
            // Dropping the transport closes the connection.
            log::limited(*log_limiter, log::Level::kWarning, kComponent, transport->name(),
                         "connection refused: too many connections",
                         {{"max_connections", std::to_string(max_connections)}});
            return;
        }
        server->add(std::move(transport));
    };
    auto listener =
        transport::Listener::open(*loop, *address, kStreamMaxMsize, accepted, log_limiter);
    if (!listener) {
        log::error(kComponent, "", "cannot listen",
                   {{"address", options->listen}, {"errno", listener.error().message()}});
        return 1;
    }
    if (options->sandbox) (*listener)->keep_socket_file();
    auto opened = open_export(*options, std::move(parent_pidfd));
    if (!opened) {
        log::error(kComponent, "", "cannot open export",
                   {{"path", options->export_path}, {"errno", opened.error().message()}});
        return 1;
    }
    ex.emplace(std::move(*opened));
    server.emplace(*loop, *ex, options->session);
    log::info(kComponent, "", "serving",
              {{"export", options->export_path},
               {"listen", options->listen},
               {"port", std::to_string((*listener)->port())},
               {"security_model", std::string(fs::security_model_name(ex->model()))},
               {"read_only", ex->read_only() ? "yes" : "no"},
               {"max_memory_mib", std::to_string(options->max_memory_mib)},
               {"max_connections", std::to_string(options->max_connections)},
               {"sandbox", options->sandbox ? "yes" : "no"}});
    if (auto ok = server->run(signals->get()); !ok) {
        log::error(kComponent, "", "event loop failed", {{"errno", ok.error().message()}});
        return 1;
    }
    log::info(kComponent, "", "stopped",
              {{"max_in_flight", std::to_string(server->max_in_flight())}});
    return 0;
}

}  // namespace

int serve_command(std::span<const std::string> args) {
    if (std::ranges::find(args, "--help") != args.end()) {
        std::fputs(kUsage.data(), stdout);
        return 0;
    }
    auto options = parse(args);
    if (!options) {
        std::fputs(kUsage.data(), stderr);
        return 2;
    }
    log::set_level(options->log_level);
    if (!options->sandbox) return serve(&*options, UniqueFd());
    // Confined, serve must be alone in its PID namespace: a private proc
    // shows every process of its uid that it may ptrace, and through their
    // /proc/<pid>/root and /proc/<pid>/mem it would leave the sandbox. The
    // child binds the socket and creates the ring itself: the parent holds
    // nothing the child serves with.
    auto served = run_as_pid_namespace_init(
        [&options](UniqueFd parent_pidfd) { return serve(&*options, std::move(parent_pidfd)); });
    if (!served) {
        log::error(kComponent, "",
                   "cannot start in a PID namespace (--no-sandbox to run unconfined)",
                   {{"errno", served.error().message()}});
        return 1;
    }
    return *served;
}

}  // namespace xen9p::serve
