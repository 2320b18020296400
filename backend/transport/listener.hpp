// Unix and TCP listeners: each accepted connection becomes a StreamConnection
// handed to the owner. TCP binds to loopback unless an address is given.
// Out of descriptors or memory, accepting pauses (a timer of the event loop,
// doubling up to kMaxPause while it lasts) instead of retrying at once; every
// line a peer can cause goes through one rate limiter.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "backend/io/event_loop.hpp"
#include "backend/log/log.hpp"
#include "backend/server/transport.hpp"
#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::transport {

// "unix:PATH" or "tcp:HOST:PORT" (HOST numeric IPv4).
struct ListenAddress {
    enum class Kind { kUnix, kTcp } kind = Kind::kUnix;
    std::string path;  // unix
    std::string host;  // tcp
    std::uint16_t port = 0;

    static Result<ListenAddress> parse(std::string_view text);
    std::string to_string() const;
};

class Listener final : io::Completion {
  public:
    using Accepted = std::function<void(std::unique_ptr<server::Transport>)>;

    // Binds and listens (a stale unix socket file at PATH is replaced).
    // `log_limiter` also bounds the lines of the accepted connections.
    static Result<std::unique_ptr<Listener>> open(io::EventLoop& loop, const ListenAddress& address,
                                                  std::uint32_t max_msize, Accepted accepted,
                                                  std::shared_ptr<log::RateLimiter> log_limiter);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // The port actually bound (TCP port 0 picks a free one).
    std::uint16_t port() const { return port_; }

    static constexpr std::chrono::milliseconds kFirstPause{50};
    static constexpr std::chrono::milliseconds kMaxPause{1000};
    // Leaves the unix socket file on close: once the process is confined its
    // path names nothing, or something inside the export. The next bind
    // replaces the stale file.
    void keep_socket_file() { unlink_on_close_ = false; }

  private:
    // The timer after which accepting resumes.
    struct Pause final : io::Completion {
        Listener* owner = nullptr;
        __kernel_timespec after{};
        void on_complete(int result) override;
    };

    Listener(io::EventLoop& loop, UniqueFd fd, ListenAddress address, std::uint32_t max_msize,
             Accepted accepted, std::shared_ptr<log::RateLimiter> log_limiter);
    void on_complete(int result) override;
    void pause(int err);

    io::EventLoop& loop_;
    UniqueFd fd_;
    ListenAddress address_;
    std::uint32_t max_msize_;
    Accepted accepted_;
    std::shared_ptr<log::RateLimiter> log_limiter_;
    std::uint16_t port_ = 0;
    std::uint64_t next_id_ = 0;
    Pause pause_;
    std::chrono::milliseconds next_pause_ = kFirstPause;
    bool unlink_on_close_ = true;
};

}  // namespace xen9p::transport
