#include "backend/supervisor/restart_backoff.hpp"

#include <algorithm>

namespace xen9p::supervisor {

void RestartBackoff::worker_ended(WorkerClock::time_point now,
                                  WorkerClock::duration connected_for) {
    if (connected_for >= kStableConnection) {
        delay_ = {};
        hold_reported_ = false;
    }
    next_launch_ = now + delay_;
    delay_ = delay_ == WorkerClock::duration{}
                 ? WorkerClock::duration(kFirstDelay)
                 : std::min<WorkerClock::duration>(2 * delay_, kMaxDelay);
}

bool RestartBackoff::first_hold() {
    if (hold_reported_) return false;
    hold_reported_ = true;
    return true;
}

}  // namespace xen9p::supervisor
