#include "backend/worker/stats_reporter.hpp"

#include "backend/worker_channel/messages.hpp"

namespace xen9p::worker {

StatsReporter::StatsReporter(io::EventLoop& loop, const server::Server& server, int control_fd,
                             std::uint64_t restarts, std::uint64_t last_signal)
    : loop_(loop),
      server_(server),
      control_fd_(control_fd),
      restarts_(restarts),
      last_signal_(last_signal) {}

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
    // Never blocks the loop; a full socket or a gone supervisor loses this one.
    auto report = server_.report();
    report.restarts = restarts_;
    report.last_signal = last_signal_;
    worker_channel::report_stats(control_fd_, report);
}

}  // namespace xen9p::worker
