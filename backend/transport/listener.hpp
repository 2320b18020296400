// Unix and TCP listeners: each accepted connection becomes a StreamConnection
// handed to the owner. TCP binds to loopback unless an address is given.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "backend/io/event_loop.hpp"
#include "backend/transport/transport.hpp"
#include "p9proto/errno.hpp"
#include "xenring/unique_fd.hpp"

namespace xen9p::server {

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
    using Accepted = std::function<void(std::unique_ptr<Transport>)>;

    // Binds and listens (a stale unix socket file at PATH is replaced).
    static Result<std::unique_ptr<Listener>> open(io::EventLoop& loop, const ListenAddress& address,
                                                  std::uint32_t max_msize, Accepted accepted);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // The port actually bound (TCP port 0 picks a free one).
    std::uint16_t port() const { return port_; }

    // Leaves the unix socket file on close: once the process is confined its
    // path names nothing, or something inside the export. The next bind
    // replaces the stale file.
    void keep_socket_file() { unlink_on_close_ = false; }

  private:
    Listener(io::EventLoop& loop, UniqueFd fd, ListenAddress address, std::uint32_t max_msize,
             Accepted accepted);
    void on_complete(int result) override;

    io::EventLoop& loop_;
    UniqueFd fd_;
    ListenAddress address_;
    std::uint32_t max_msize_;
    Accepted accepted_;
    std::uint16_t port_ = 0;
    std::uint64_t next_id_ = 0;
    bool unlink_on_close_ = true;
};

}  // namespace xen9p::server
