// The simulated Xen platform as the demo and the daemon tests use it:
// `xen9p-sim run` in a fresh directory, a dom0 xenstore connection with the
// toolstack, `xen9pd run` against it, and guests that connect like Linux
// trans_xen. Every process is stopped and the directory removed on destruction.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/errno.hpp"
#include "frontend/frontend.hpp"
#include "sim/toolstack.hpp"
#include "tests/simxen/child_process.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::simxen {

struct Binaries {
    std::string sim;     // xen9p-sim
    std::string daemon;  // xen9pd
};

// Workers of these tests run as kUidRangeBase + domid.
inline constexpr uid_t kUidRangeBase = 190000;

class SimXen {
  public:
    // Starts xen9p-sim in a new directory under /tmp.
    static Result<std::unique_ptr<SimXen>> start(const Binaries& binaries);
    ~SimXen();

    const std::filesystem::path& dir() const { return dir_; }
    xenstore::Xenstore& xs() { return *xs_; }
    sim::Toolstack& toolstack() { return *toolstack_; }

    // A directory under dir()/exports owned by the worker uid of `domid`, as
    // the security model `none` needs.
    Result<std::filesystem::path> make_export(const std::string& name, DomId domid);

    // `xen9pd run --xen sim:DIR` with allowed root dir()/exports, the test uid
    // range and the control socket in dir(), plus `extra` arguments.
    Status start_daemon(const std::vector<std::string>& extra = {});
    ChildProcess* daemon() { return daemon_ ? &*daemon_ : nullptr; }
    std::filesystem::path daemon_log() const { return dir_ / "xen9pd.log"; }
    std::filesystem::path control_socket() const { return dir_ / "control.sock"; }
    // `xen9pd status` through the control socket.
    Result<std::string> daemon_status();

    // The guest side of device `devid` of `domid`: the Linux trans_xen handshake.
    Result<std::unique_ptr<frontend::Frontend>> connect(
        DomId domid, unsigned devid = 0,
        std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // The xenstore subtree under `path`, one `key = "value"` line per node.
    std::string tree(const std::string& path);

  private:
    SimXen(Binaries binaries, std::filesystem::path dir)
        : binaries_(std::move(binaries)), dir_(std::move(dir)) {}

    Binaries binaries_;
    std::filesystem::path dir_;
    std::optional<ChildProcess> sim_;
    std::optional<ChildProcess> daemon_;
    std::optional<xenstore::Xenstore> xs_;
    std::unique_ptr<sim::Toolstack> toolstack_;
};

// The `Key:` line of /proc/<pid>/status without the key ("" if absent).
std::string proc_status_field(pid_t pid, const std::string& key);

// The worker pid of a device from `xen9pd status` output (nullopt if none).
std::optional<pid_t> worker_pid(const std::string& status, DomId domid, unsigned devid = 0);

}  // namespace xen9p::simxen
