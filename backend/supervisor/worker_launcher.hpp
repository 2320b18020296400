// Starting and watching the worker process of one device. Nothing here
// blocks: the supervisor serves every guest from one thread, so a worker that
// stops answering must cost it nothing but a timer.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>

#include "backend/log/log.hpp"
#include "backend/stats/stats_report.hpp"
#include "backend/worker_channel/worker_params.hpp"
#include "base/errno.hpp"

namespace xen9p::supervisor {

using WorkerClock = std::chrono::steady_clock;

// What a running worker has said since the last look.
enum class WorkerEvent {
    kNone,
    kReady,  // rings mapped, ports bound, export open, sandbox entered
    kLost,   // it closed its control socket: it is killed, exit_fd() says when it is gone
    // It sends faster than its reports come (once a second): its control
    // socket is not read for a while. Said once per worker.
    kTooFast,
};

// A running worker as one supervisor hands it to the next across exec: its
// process and the supervisor's ends of its descriptors.
struct WorkerDescriptors {
    pid_t pid = -1;
    int exit_fd = -1;
    int control_fd = -1;  // -1 once closed (lost or stopping)
    int output_fd = -1;   // -1 once closed
    bool ready = false;
    bool stopping = false;
    friend bool operator==(const WorkerDescriptors&, const WorkerDescriptors&) = default;
};

class Worker {
  public:
    virtual ~Worker() = default;
    virtual pid_t pid() const = 0;
    // Readable when the worker reports something; -1 once lost or stopping,
    // and while it is not read for sending too fast.
    virtual int control_fd() const = 0;
    virtual WorkerEvent next_event() = 0;
    // Readable when the worker wrote to its stdout or stderr; -1 once closed
    // and while it is not read for writing too fast.
    virtual int output_fd() const = 0;
    // Logs, a bounded amount per call, the lines the worker wrote, as lines
    // of its device through `limiter`.
    virtual void forward_output(log::RateLimiter& limiter) = 0;
    // Once reaped: logs what the worker left in its output and closes it.
    virtual void drain_output(log::RateLimiter& limiter) = 0;
    // Readable once the process has exited (a pidfd).
    virtual int exit_fd() const = 0;
    // Collects the exited process without waiting; true once it is collected,
    // and exit_status() then holds its wait(2) status.
    virtual bool reap() = 0;
    virtual int exit_status() const = 0;
    // The last statistics the worker reported, if any.
    virtual const std::optional<stats::StatsReport>& stats() const = 0;
    // Asks the worker to stop (it unmaps its grants and unbinds its ports on
    // the way): SIGTERM now, SIGKILL from expire() once `grace` has passed;
    // a zero grace kills it now. Returns at once; exit_fd() says when it is
    // gone. Idempotent, and a shorter grace overrides a longer one.
    virtual void stop(WorkerClock::duration grace) = 0;
    virtual bool stopping() const = 0;
    // When expire() is due: a stop with a grace is pending, or an fd is not
    // read for a while.
    virtual std::optional<WorkerClock::time_point> deadline() const = 0;
    // Kills a stopping worker whose grace has passed (true if it did so now),
    // and reads again what was not read for a while.
    virtual bool expire(WorkerClock::time_point now) = 0;
    // What a re-executed supervisor needs to take the worker over
    // (WorkerLauncher::adopt); the descriptors stay this worker's.
    virtual WorkerDescriptors descriptors() const = 0;
};

class WorkerLauncher {
  public:
    virtual ~WorkerLauncher() = default;
    virtual Result<std::unique_ptr<Worker>> launch(const worker_channel::WorkerParams& params) = 0;
    // Takes over a worker the previous supervisor started (and its
    // descriptors, which the result then owns), serving `device`.
    virtual Result<std::unique_ptr<Worker>> adopt(const WorkerDescriptors& worker,
                                                  const worker_channel::DeviceId& device) = 0;
};

}  // namespace xen9p::supervisor
