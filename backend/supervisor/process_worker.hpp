// Workers as separate processes: clone3 + exec of the xen9pd binary in worker
// mode, parameters and readiness over a SOCK_SEQPACKET control socket
// (backend/worker_channel speaks its protocol).
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

class ProcessWorkerLauncher : public WorkerLauncher {
  public:
    // Runs `program` as `name` (its argv[0]: what ps shows, since `program`
    // may be /proc/self/exe) with `arguments` followed by "--control-fd 3".
    ProcessWorkerLauncher(std::filesystem::path program, std::string name,
                          std::vector<std::string> arguments);

    Result<std::unique_ptr<Worker>> launch(const worker_channel::WorkerParams& params) override;
    Result<std::unique_ptr<Worker>> adopt(const WorkerDescriptors& worker,
                                          const worker_channel::DeviceId& device) override;

  private:
    std::filesystem::path program_;
    std::string name_;
    std::vector<std::string> arguments_;
};

}  // namespace xen9p::supervisor
