#include "backend/worker/stats_reporter.hpp"

#include <utility>

#include "backend/worker_channel/messages.hpp"

namespace xen9p::worker {

StatsReporter::StatsReporter(io::EventLoop& loop, stats::StatsSource& source, int control_fd,
                             std::uint64_t restarts, std::uint64_t last_signal,
                             __kernel_timespec interval, __kernel_timespec idle_interval)
    : loop_(loop),
      source_(source),
      control_fd_(control_fd),
      restarts_(restarts),
      last_signal_(last_signal),
      interval_(interval),
      idle_interval_(idle_interval) {}

StatsReporter::~StatsReporter() {
    source_.watch_next_request(nullptr);
}

void StatsReporter::start() {
    send_report(false);
    loop_.timeout(interval_, this);
}

void StatsReporter::on_complete(int result) {
    // A cancel that met a timer already fired completes it as fired.
    const bool woken = std::exchange(woken_, false);
    if (result == -ECANCELED) {
        // Stopping, or woken from idle by a request: report a second later.
        if (woken) loop_.timeout(interval_, this);
        return;
    }
    const bool was_idle = std::exchange(idle_, false);
    if (send_report(was_idle && !woken)) {
        loop_.timeout(interval_, this);
        return;
    }
    idle_ = true;
    source_.watch_next_request(this);
    loop_.timeout(idle_interval_, this);
}

void StatsReporter::on_request_done() {
    if (!std::exchange(idle_, false)) return;
    woken_ = true;
    loop_.cancel(this);
}

bool StatsReporter::send_report(bool again) {
    auto report = source_.report();
    report.restarts = restarts_;
    report.last_signal = last_signal_;
    const bool changed = report != last_sent_;
    if (!changed && !again) return false;
    // Never blocks the loop; a full socket or a gone supervisor loses this one.
    if (worker_channel::report_stats(control_fd_, report)) last_sent_ = std::move(report);
    return changed;
}

}  // namespace xen9p::worker
