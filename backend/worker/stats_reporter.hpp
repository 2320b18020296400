// Tells the supervisor what the worker's server has done: one statistics
// message (worker_channel::report_stats) on the control socket a second
// after the numbers moved. Numbers that stopped moving put the reporter to
// sleep: it wakes every idle interval (30 s) to send them again (a
// supervisor that took over after `xen9pd upgrade` has none yet), or at the
// next request done, and reports a second later. So an idle guest's worker
// wakes, and wakes the shared supervisor, next to never. A report that does
// not fit in the socket is dropped; the next wake-up sends it again.
#pragma once

#include <linux/time_types.h>

#include <optional>

#include "backend/io/event_loop.hpp"
#include "backend/stats/stats_source.hpp"

namespace xen9p::worker {

class StatsReporter final : io::Completion, stats::RequestWatcher {
  public:
    // `restarts` and `last_signal` describe the servers of this device that
    // died before this one (StatsReport).
    StatsReporter(io::EventLoop& loop, stats::StatsSource& source, int control_fd,
                  std::uint64_t restarts, std::uint64_t last_signal,
                  __kernel_timespec interval = {.tv_sec = 1, .tv_nsec = 0},
                  __kernel_timespec idle_interval = {.tv_sec = 30, .tv_nsec = 0});
    ~StatsReporter();
    StatsReporter(const StatsReporter&) = delete;
    StatsReporter& operator=(const StatsReporter&) = delete;

    // Sends a first report and arms the timer. The loop must not run after
    // this object is gone (the worker stops turning it when the server ends).
    void start();

  private:
    void on_complete(int result) override;
    void on_request_done() override;
    // Sends the numbers when they differ from the last ones sent, or when
    // `again`; false when they did not change.
    bool send_report(bool again);

    io::EventLoop& loop_;
    stats::StatsSource& source_;
    int control_fd_;
    std::uint64_t restarts_;
    std::uint64_t last_signal_;
    __kernel_timespec interval_;
    __kernel_timespec idle_interval_;
    std::optional<stats::StatsReport> last_sent_;
    bool idle_ = false;   // asleep for the idle interval, watching for a request
    bool woken_ = false;  // a request cancelled the idle timer
};

}  // namespace xen9p::worker
