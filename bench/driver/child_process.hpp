// A server process the bench starts and owns: killed (SIGTERM, then SIGKILL
// after a grace period) and reaped when the owner goes.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/errno.hpp"

namespace xen9p::bench {

class ChildProcess {
  public:
    // Starts argv[0] (a path) with stdout and stderr appended to `log_path`.
    static Result<ChildProcess> spawn(const std::vector<std::string>& argv,
                                      const std::string& log_path);

    ChildProcess() = default;
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    pid_t pid() const { return pid_; }
    // True while the process has not exited (reaps it if it has).
    bool running();
    void stop();

  private:
    explicit ChildProcess(pid_t pid) : pid_(pid) {}

    pid_t pid_ = -1;
};

}  // namespace xen9p::bench
