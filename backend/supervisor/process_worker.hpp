// Workers as separate processes: clone3 + exec of the xen9pd binary in worker
// mode, parameters and readiness over a SOCK_SEQPACKET control socket.
// A fresh exec gives each worker its own address space layout and nothing of
// the supervisor's memory or libxenstore state. Each worker is PID 1 of its
// own PID namespace (it sees no other process, and the sandbox gives it a
// procfs showing only itself), and the supervisor holds a pidfd to it: the
// exit is an fd in the supervisor's poll loop and signals cannot reach a
// recycled pid.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "backend/supervisor/worker_launcher.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::supervisor {

// The message a worker sends on its control socket once it serves the device.
inline constexpr std::string_view kWorkerReadyMessage = "ready";
// What starts the worker's statistics messages, followed by format_stats().
inline constexpr std::string_view kWorkerStatsPrefix = "stats ";
// The worker's control socket; 0, 1 and 2 are its stdin (an empty pipe) and
// its stdout and stderr (a pipe the supervisor logs from), and it has no
// other descriptor at exec.
inline constexpr int kWorkerControlFd = 3;

class ProcessWorkerLauncher : public WorkerLauncher {
  public:
    // Runs `program` as `name` (its argv[0]: what ps shows, since `program`
    // may be /proc/self/exe) with `arguments` followed by "--control-fd 3".
    ProcessWorkerLauncher(std::filesystem::path program, std::string name,
                          std::vector<std::string> arguments);

    Result<std::unique_ptr<Worker>> launch(const WorkerParams& params) override;

  private:
    std::filesystem::path program_;
    std::string name_;
    std::vector<std::string> arguments_;
};

// Worker side: reads the parameters the supervisor sent on `control_fd`.
Result<WorkerParams> receive_worker_params(int control_fd);
// Worker side: tells the supervisor the device is being served.
Status report_worker_ready(int control_fd);

}  // namespace xen9p::supervisor
