#include "backend/worker/stats_reporter.hpp"

#include <sys/socket.h>

#include "backend/supervisor/process_worker.hpp"

namespace xen9p::worker {

StatsReporter::StatsReporter(io::EventLoop& loop, const server::Server& server, int control_fd)
    : loop_(loop), server_(server), control_fd_(control_fd) {}

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
    const std::string message =
        std::string(supervisor::kWorkerStatsPrefix) + stats::format_stats(server_.report());
    // Never blocks the loop; a full socket or a gone supervisor loses this one.
    (void)::send(control_fd_, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace xen9p::worker
