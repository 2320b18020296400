#include "tests/simxen/sim_xen.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "backend/control/control_socket.hpp"

namespace xen9p::simxen {

namespace fsys = std::filesystem;

Result<std::unique_ptr<SimXen>> SimXen::start(const Binaries& binaries) {
    std::string pattern = (fsys::temp_directory_path() / "xen9p-simxen-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return fail_errno();
    std::unique_ptr<SimXen> sim(new SimXen(binaries, pattern));
    std::error_code ec;
    fsys::create_directory(sim->dir_ / "exports", ec);
    if (ec) return fail(ec.value());
    // The workers (other uids) must reach their exports below this directory.
    fsys::permissions(sim->dir_,
                      fsys::perms::owner_all | fsys::perms::group_exec | fsys::perms::others_exec);
    auto child = ChildProcess::start({binaries.sim, "run", "--dir", sim->dir_.string()},
                                     sim->dir_ / "xen9p-sim.log");
    if (!child) return std::unexpected(child.error());
    sim->sim_ = std::move(*child);
    const auto socket = (sim->dir_ / "xenstored.sock").string();
    // A socket file exists from bind(); connects are refused until listen().
    Result<xenstore::Xenstore> xs = fail(ECONNREFUSED);
    if (!wait_until([&] {
            if (!fsys::exists(sim->dir_ / "hypervisor.sock") || !fsys::exists(socket)) return false;
            xs = xenstore::Xenstore::open_socket(socket);
            return xs.has_value() || xs.error() != Errno{ECONNREFUSED};
        }))
        return fail(ETIMEDOUT);
    if (!xs) return std::unexpected(xs.error());
    auto waiter = xenstore::Xenstore::open_socket(socket);
    if (!waiter) return std::unexpected(waiter.error());
    sim->xs_ = std::move(*xs);
    sim->toolstack_ = std::make_unique<sim::Toolstack>(*sim->xs_, std::move(*waiter));
    return sim;
}

SimXen::~SimXen() {
    // The daemon first: its workers unmap their grants while the hypervisor runs.
    if (daemon_) daemon_->stop();
    toolstack_.reset();
    xs_.reset();
    if (sim_) sim_->stop();
    std::error_code ignored;
    fsys::remove_all(dir_, ignored);
}

Result<fsys::path> SimXen::make_export(const std::string& name, DomId domid) {
    const fsys::path path = dir_ / "exports" / name;
    std::error_code ec;
    fsys::create_directories(path, ec);
    if (ec) return fail(ec.value());
    const uid_t uid = kUidRangeBase + domid;
    if (::chown(path.c_str(), uid, kUidRangeBase) != 0) return fail_errno();
    return path;
}

Status SimXen::start_daemon(const std::vector<std::string>& extra) {
    std::vector<std::string> argv{binaries_.daemon,
                                  "run",
                                  "--xen",
                                  "sim:" + dir_.string(),
                                  "--allowed-root",
                                  (dir_ / "exports").string(),
                                  "--uid-range-base",
                                  std::to_string(kUidRangeBase),
                                  "--worker-gid",
                                  std::to_string(kUidRangeBase),
                                  "--control-socket",
                                  control_socket().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = ChildProcess::start(argv, daemon_log());
    if (!child) return std::unexpected(child.error());
    daemon_ = std::move(*child);
    if (!wait_until([&] { return fsys::exists(control_socket()) || daemon_->poll_exit(); }))
        return fail(ETIMEDOUT);
    if (daemon_->poll_exit()) return fail(ECHILD);
    return {};
}

Result<std::string> SimXen::daemon_status() {
    return control::control_query(control_socket(), "status");
}

Result<std::unique_ptr<frontend::Frontend>> SimXen::connect(DomId domid, unsigned devid,
                                                            std::chrono::milliseconds timeout) {
    frontend::FrontendConfig config;
    config.platform_spec = "sim:" + dir_.string();
    config.domid = domid;
    config.devid = devid;
    config.timeout = timeout;
    config.xenstore_socket = frontend::sim_xenstore_socket(dir_.string(), domid);
    return frontend::Frontend::connect(config);
}

namespace {

void append_tree(xenstore::Xenstore& xs, const std::string& path, int depth, std::string& out) {
    auto children = xs.directory(path);
    if (!children) return;
    for (const auto& child : *children) {
        const std::string full = path + "/" + child;
        auto value = xs.read(full);
        out += std::string(static_cast<std::size_t>(depth) * 2, ' ') + child + " = \"" +
               (value ? *value : std::string()) + "\"\n";
        append_tree(xs, full, depth + 1, out);
    }
}

}  // namespace

std::string SimXen::tree(const std::string& path) {
    std::string out = path + "\n";
    append_tree(*xs_, path, 1, out);
    return out;
}

std::string proc_status_field(pid_t pid, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(key + ":")) {
            auto value = line.substr(key.size() + 1);
            const auto first = value.find_first_not_of(" \t");
            return first == std::string::npos ? "" : value.substr(first);
        }
    }
    return "";
}

std::optional<pid_t> worker_pid(const std::string& status, DomId domid, unsigned devid) {
    std::istringstream lines(status);
    std::string line;
    const std::string dom =
        " domid=" + std::to_string(domid) + " devid=" + std::to_string(devid) + " ";
    while (std::getline(lines, line)) {
        if (line.find(dom) == std::string::npos) continue;
        const auto at = line.find(" worker_pid=");
        if (at == std::string::npos) return std::nullopt;
        const pid_t pid = std::stoi(line.substr(at + 12));
        if (pid > 0) return pid;
    }
    return std::nullopt;
}

}  // namespace xen9p::simxen
