// Tells the supervisor what the worker's server has done: every interval
// (a second), one statistics message (worker_channel::report_stats) on the
// control socket when the numbers changed since the last one sent, and the
// unchanged numbers again every kResendUnchanged intervals (a supervisor that
// took over after `xen9pd upgrade` has none yet). So an idle guest's worker
// sends, and the shared supervisor wakes for, next to nothing. A report that
// does not fit in the socket is dropped; the next interval sends it again.
#pragma once

#include <linux/time_types.h>

#include <functional>
#include <optional>

#include "backend/io/event_loop.hpp"
#include "backend/stats/stats_report.hpp"

namespace xen9p::worker {

class StatsReporter final : io::Completion {
  public:
    static constexpr unsigned kResendUnchanged = 30;

    // `current` reads the server's numbers. `restarts` and `last_signal`
    // describe the servers of this device that died before this one
    // (StatsReport).
    StatsReporter(io::EventLoop& loop, std::function<stats::StatsReport()> current, int control_fd,
                  std::uint64_t restarts, std::uint64_t last_signal,
                  __kernel_timespec interval = {.tv_sec = 1, .tv_nsec = 0});
    // Sends a first report and arms the timer. The loop must not run after
    // this object is gone (the worker stops turning it when the server ends).
    void start();

  private:
    void on_complete(int result) override;
    void send_report();

    io::EventLoop& loop_;
    std::function<stats::StatsReport()> current_;
    int control_fd_;
    std::uint64_t restarts_;
    std::uint64_t last_signal_;
    __kernel_timespec interval_;
    std::optional<stats::StatsReport> last_sent_;
    unsigned unchanged_ = 0;  // intervals since a report was sent
};

}  // namespace xen9p::worker
