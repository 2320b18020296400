// The worker process is a device's keeper: it binds the device's event
// channels once, then runs the device's server in a child that shares its
// descriptor table (clone with CLONE_FILES), and replaces that child when it
// dies. Everything the guest's session holds on the host is a descriptor
// in that table (fids, open files and the open file descriptions their
// OFD locks live on), so a server's death releases none of it, and the next
// server picks the session up from its SessionStore.
//
// The keeper runs no code a guest can steer: after the first server starts
// it only waits for signals, and touches no descriptor (a compromised server
// could have replaced any of them). It learns of a server's end from
// waitid and tells the next one why through memory it forks.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace xen9p::worker {

// Which server of the device this is, and how the one before it ended.
struct Incarnation {
    std::uint64_t number = 0;  // 0: the device's first server
    int last_signal = 0;       // the signal that killed the previous one, 0 if it exited
    std::string last_cause;    // "signal 9", "exit 2"
};

// Restarts are bounded: a server that keeps dying (a request that crashes
// it every time, a host out of memory) ends the device instead of looping.
class CrashLoopGuard {
  public:
    static constexpr std::size_t kMaxDeaths = 5;
    static constexpr std::chrono::seconds kWindow{60};

    // A server died at `now`: true while it may be replaced.
    bool allow(std::chrono::steady_clock::time_point now);

  private:
    std::deque<std::chrono::steady_clock::time_point> deaths_;
};

// Runs `serve` in a child sharing this process's descriptor table and
// returns the worker's exit status: the child's own when it exits 0
// (stopped) or 1 (the device failed), 0 when SIGTERM or SIGINT stopped it,
// worker_channel::kExitCrashLoop when deaths came too fast; any other end starts the next
// incarnation. Blocks SIGCHLD, SIGTERM and SIGINT; single-threaded callers only.
int keep_device(const std::function<int(const Incarnation&)>& serve);

// The numbers of the descriptors this process holds now (from /proc/self/fd).
std::vector<int> open_descriptors();

}  // namespace xen9p::worker
