// The sessions of one worker on one event loop: transports are added as peers
// connect (or rings come up) and their sessions are destroyed once closed and
// idle. run() turns the loop until a stop fd becomes readable.
#pragma once

#include <cerrno>
#include <cstddef>
#include <list>
#include <memory>
#include <span>
#include <vector>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/server/session.hpp"
#include "backend/server/transport.hpp"
#include "backend/stats/op_stats.hpp"
#include "base/errno.hpp"

namespace xen9p::server {

class Server final : public stats::StatsSource {
  public:
    Server(io::EventLoop& loop, fs::Export& ex, SessionConfig config);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Starts a session on `transport` (dropped once run() is stopping).
    void add(std::unique_ptr<Transport> transport);
    // Starts the one session of a device whose state is kept in `store` for
    // a replacement, continuing the session `carried` a dead server left
    // there when given (Session::restore's errors; nothing started then).
    Status add(std::unique_ptr<Transport> transport, SessionStore& store,
               const StoredSession* carried);

    enum class Until {
        kStopped,        // a stop fd is readable
        kStoppedOrIdle,  // that, or every session has ended (a worker's one device)
    };

    // Serves until a `stop_fds` entry is readable (an eventfd, signalfd, or a
    // socket that hung up), then closes every session and waits for their
    // operations to end.
    Status run(std::span<const int> stop_fds, Until until = Until::kStopped);
    Status run(int stop_fd) { return run(std::span(&stop_fd, 1)); }

    std::size_t sessions() const { return sessions_.size(); }
    // Bytes of their memory budgets the sessions hold now.
    std::size_t memory() const;
    // Most requests one session held in flight at once, over all sessions so far.
    std::size_t max_in_flight() const { return max_in_flight_; }
    // What every session so far did, with the fids open now.
    stats::StatsReport report() const override;
    void watch_next_request(stats::RequestWatcher* watcher) override { ops_.watch_next(watcher); }

  private:
    struct StopWatch {
        bool fired = false;
        // The poll of one stop fd; any of them firing stops the server.
        struct Fd final : io::Completion {
            StopWatch* watch = nullptr;
            bool pending = true;
            void on_complete(int result) override {
                pending = false;
                if (result != -ECANCELED) watch->fired = true;
            }
        };
    };

    // Destroys sessions that are closed and idle.
    void sweep();

    io::EventLoop& loop_;
    fs::Export& ex_;
    SessionConfig config_;
    std::list<std::unique_ptr<Session>> sessions_;
    std::size_t max_in_flight_ = 0;
    stats::OpStats ops_;
    bool stopping_ = false;
};

}  // namespace xen9p::server
