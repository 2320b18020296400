// How soon a device may get its next worker. A guest decides when its
// frontend connects and closes; cycling it must not make the supervisor start
// and stop processes in a loop. The first restart is immediate, the following
// ones wait 100 ms doubling up to 5 s, and a worker that served long enough
// makes the next restart immediate again.
#pragma once

#include <chrono>

#include "backend/supervisor/worker_launcher.hpp"

namespace xen9p::supervisor {

class RestartBackoff {
  public:
    static constexpr std::chrono::milliseconds kFirstDelay{100};
    static constexpr std::chrono::milliseconds kMaxDelay{5000};
    // Connected this long, a worker's end is not part of a cycle.
    static constexpr std::chrono::seconds kStableConnection{10};

    // A worker of the device ended at `now` after serving for `connected_for`
    // (zero if it never became ready).
    void worker_ended(WorkerClock::time_point now, WorkerClock::duration connected_for);
    // The earliest time the next worker may start.
    WorkerClock::time_point next_launch() const { return next_launch_; }
    // True the first time a launch is held back since the last reset, so that
    // the throttling is logged once rather than per cycle.
    bool first_hold();

  private:
    WorkerClock::duration delay_{};  // applied after the next worker's end
    WorkerClock::time_point next_launch_{};
    bool hold_reported_ = false;
};

}  // namespace xen9p::supervisor
