// The sessions of one worker on one event loop: transports are added as peers
// connect (or rings come up) and their sessions are destroyed once closed and
// idle. run() turns the loop until a stop fd becomes readable.
#pragma once

#include <cstddef>
#include <list>
#include <memory>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/server/session.hpp"
#include "backend/transport/transport.hpp"
#include "p9proto/errno.hpp"

namespace xen9p::server {

class Server {
  public:
    Server(io::EventLoop& loop, fs::Export& ex, SessionConfig config);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Starts a session on `transport` (dropped once run() is stopping).
    void add(std::unique_ptr<Transport> transport);

    // Serves until `stop_fd` is readable (an eventfd or signalfd), then closes
    // every session and waits for their operations to end.
    Status run(int stop_fd);

    std::size_t sessions() const { return sessions_.size(); }
    // Most requests one session held in flight at once, over all sessions so far.
    std::size_t max_in_flight() const { return max_in_flight_; }

  private:
    struct StopWatch final : io::Completion {
        bool fired = false;
        void on_complete(int) override { fired = true; }
    };

    // Destroys sessions that are closed and idle.
    void sweep();

    io::EventLoop& loop_;
    fs::Export& ex_;
    SessionConfig config_;
    std::list<std::unique_ptr<Session>> sessions_;
    std::size_t max_in_flight_ = 0;
    bool stopping_ = false;
};

}  // namespace xen9p::server
