// Tells the supervisor what the worker's server has done, once a second: one
// statistics message (worker_channel::report_stats) on the control socket.
// A report that does not fit in the socket is dropped; the next one says more.
#pragma once

#include <linux/time_types.h>

#include "backend/io/event_loop.hpp"
#include "backend/server/server.hpp"

namespace xen9p::worker {

class StatsReporter final : io::Completion {
  public:
    // `restarts` and `last_signal` describe the servers of this device that
    // died before this one (StatsReport).
    StatsReporter(io::EventLoop& loop, const server::Server& server, int control_fd,
                  std::uint64_t restarts, std::uint64_t last_signal);
    // Sends a first report and arms the timer. The loop must not run after
    // this object is gone (the worker stops turning it when the server ends).
    void start();

  private:
    void on_complete(int result) override;
    void send_report();

    io::EventLoop& loop_;
    const server::Server& server_;
    int control_fd_;
    std::uint64_t restarts_;
    std::uint64_t last_signal_;
    __kernel_timespec interval_{.tv_sec = 1, .tv_nsec = 0};
};

}  // namespace xen9p::worker
