#include "backend/server/server.hpp"

#include <poll.h>

#include <algorithm>

#include "backend/log/log.hpp"

namespace xen9p::server {

Server::Server(io::EventLoop& loop, fs::Export& ex, SessionConfig config)
    : loop_(loop), ex_(ex), config_(std::move(config)) {
    if (!config_.log_limiter) config_.log_limiter = std::make_shared<log::RateLimiter>();
}

Server::~Server() = default;

void Server::add(std::unique_ptr<Transport> transport) {
    // Not started, so nothing of it is pending: destroying it closes the peer.
    if (stopping_) return;
    log::limited(*config_.log_limiter, log::Level::kInfo, "server", transport->name(),
                 "session started");
    auto session = std::make_unique<Session>(loop_, ex_, std::move(transport), config_, ops_);
    Session& started = *sessions_.emplace_back(std::move(session));
    started.start();
}

Status Server::add(std::unique_ptr<Transport> transport, SessionStore& store,
                   const StoredSession* carried) {
    if (stopping_) return fail(ECANCELED);
    auto session =
        std::make_unique<Session>(loop_, ex_, std::move(transport), config_, ops_, &store);
    if (carried != nullptr) {
        if (auto ok = session->restore(*carried); !ok) return ok;
    }
    log::limited(*config_.log_limiter, log::Level::kInfo, "server", session->name(),
                 carried != nullptr ? "session carried over" : "session started",
                 {{"fids", std::to_string(session->open_fids())}});
    Session& started = *sessions_.emplace_back(std::move(session));
    started.start();
    return {};
}

stats::StatsReport Server::report() const {
    std::uint64_t fids = 0;
    std::size_t in_flight = max_in_flight_;
    for (const auto& session : sessions_) {
        fids += session->open_fids();
        in_flight = std::max(in_flight, session->stats().max_in_flight);
    }
    return ops_.report(fids, in_flight);
}

std::size_t Server::memory() const {
    std::size_t bytes = 0;
    for (const auto& session : sessions_)
        bytes += session->memory();
    return bytes;
}

void Server::sweep() {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        max_in_flight_ = std::max(max_in_flight_, (*it)->stats().max_in_flight);
        if ((*it)->finished()) {
            log::limited(*config_.log_limiter, log::Level::kInfo, "server", (*it)->name(),
                         "session ended",
                         {{"requests", std::to_string((*it)->stats().requests)},
                          {"max_in_flight", std::to_string((*it)->stats().max_in_flight)}});
            it = sessions_.erase(it);
        } else {
            ++it;
        }
    }
}

Status Server::run(std::span<const int> stop_fds, Until until) {
    StopWatch stop;
    std::vector<StopWatch::Fd> watches(stop_fds.size());
    for (std::size_t i = 0; i < stop_fds.size(); ++i) {
        watches[i].watch = &stop;
        loop_.poll(stop_fds[i], POLLIN, &watches[i]);
    }
    while (!stop.fired && !(until == Until::kStoppedOrIdle && sessions_.empty())) {
        if (auto ok = loop_.run_once(); !ok) return ok;
        sweep();
    }
    for (auto& w : watches) {
        if (w.pending) loop_.cancel(&w);
    }
    stopping_ = true;
    for (auto& session : sessions_)
        session->close();
    sweep();
    auto watching = [&watches] {
        return std::ranges::any_of(watches, [](const StopWatch::Fd& w) { return w.pending; });
    };
    while (!sessions_.empty() || watching()) {
        if (auto ok = loop_.run_once(); !ok) return ok;
        sweep();
    }
    return {};
}

}  // namespace xen9p::server
