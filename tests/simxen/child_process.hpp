// A child process for tests and the demo: started from an argv with its
// output in a log file, stopped (SIGTERM, then SIGKILL) and reaped on
// destruction so that no test leaves daemons behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/errno.hpp"

namespace xen9p::simxen {

class ChildProcess {
  public:
    // stdout and stderr go to `log` (appended).
    static Result<ChildProcess> start(const std::vector<std::string>& argv,
                                      const std::filesystem::path& log);

    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess() { stop(); }

    pid_t pid() const { return pid_; }
    // The wait(2) status if the child has exited (reaps it), nullopt while it runs.
    std::optional<int> poll_exit();
    // SIGTERM, up to `grace` to exit, then SIGKILL; returns the wait status.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  private:
    explicit ChildProcess(pid_t pid) : pid_(pid) {}
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// Polls `done` every 10 ms until it holds or `limit` passes (a bound for
// asynchronous start-up, not a timing check).
template <class F>
bool wait_until(const F& done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

}  // namespace xen9p::simxen
