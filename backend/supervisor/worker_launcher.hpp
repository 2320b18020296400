// Starting and watching the worker process of one device.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>

#include "backend/stats/stats_report.hpp"
#include "backend/supervisor/worker_params.hpp"
#include "p9proto/errno.hpp"

namespace xen9p::daemon {

// What a running worker has said or done since the last look.
enum class WorkerEvent {
    kNone,
    kReady,   // rings mapped, ports bound, export open, sandbox entered
    kExited,  // gone; exit_status() says how
};

class Worker {
  public:
    virtual ~Worker() = default;
    virtual pid_t pid() const = 0;
    // Readable when the worker reports something or exits.
    virtual int event_fd() const = 0;
    virtual WorkerEvent next_event() = 0;
    // The wait(2) status once kExited was reported.
    virtual int exit_status() const = 0;
    // The last statistics the worker reported, if any.
    virtual const std::optional<stats::StatsReport>& stats() const = 0;
    // Stops the worker (it unmaps its grants and unbinds its ports on the way)
    // and reaps it. Idempotent.
    virtual void stop() = 0;
};

class WorkerLauncher {
  public:
    virtual ~WorkerLauncher() = default;
    virtual Result<std::unique_ptr<Worker>> launch(const WorkerParams& params) = 0;
};

}  // namespace xen9p::daemon
