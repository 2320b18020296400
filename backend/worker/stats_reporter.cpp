#include "backend/worker/stats_reporter.hpp"

#include "backend/worker_channel/messages.hpp"

namespace xen9p::worker {

StatsReporter::StatsReporter(io::EventLoop& loop, std::function<stats::StatsReport()> current,
                             int control_fd, std::uint64_t restarts, std::uint64_t last_signal,
                             __kernel_timespec interval)
    : loop_(loop),
      current_(std::move(current)),
      control_fd_(control_fd),
      restarts_(restarts),
      last_signal_(last_signal),
      interval_(interval) {}

void StatsReporter::start() {
    send_report();
    loop_.timeout(interval_, this);
}

void StatsReporter::on_complete(int result) {
    if (result == -ECANCELED) return;
    send_report();
    loop_.timeout(interval_, this);
}

void StatsReporter::send_report() {
    auto report = current_();
    report.restarts = restarts_;
    report.last_signal = last_signal_;
    if (report == last_sent_ && ++unchanged_ < kResendUnchanged) return;
    // Never blocks the loop; a full socket or a gone supervisor loses this one.
    if (worker_channel::report_stats(control_fd_, report)) {
        last_sent_ = std::move(report);
        unchanged_ = 0;
    }
}

}  // namespace xen9p::worker
