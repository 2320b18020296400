// server::Transport over one connected stream socket (unix or TCP): messages are framed
// by their size[4] field; receive and send run as io_uring operations. Small
// messages are received in batches into a fixed buffer of the connection;
// one larger than half of it is received straight into the sink's
// request_buffer(), so a connection holds kReceiveBuffer bytes of its own
// whatever msize is.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "backend/io/event_loop.hpp"
#include "backend/log/log.hpp"
#include "backend/server/transport.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::transport {

class StreamConnection final : public server::Transport {
  public:
    // `log_limiter` bounds the lines the peer can cause (shared by a listener's connections).
    StreamConnection(io::EventLoop& loop, UniqueFd fd, std::uint32_t max_msize, std::string name,
                     std::shared_ptr<log::RateLimiter> log_limiter);
    ~StreamConnection() override = default;

    void start(server::TransportSink& sink) override;
    std::uint32_t max_msize() const override { return max_msize_; }
    void set_msize(std::uint32_t msize) override { msize_ = msize; }
    void send(const server::Origin& origin, std::span<const std::byte> bytes,
              std::uint64_t cookie) override;
    void resume_input() override;
    void close() override;
    bool finished() const override { return closed_ && !recv_.pending && !send_.pending; }
    const std::string& name() const override { return name_; }

    static constexpr std::size_t kReceiveBuffer = 64 * 1024;

  private:
    struct Op final : io::Completion {
        StreamConnection* owner = nullptr;
        void (StreamConnection::*handler)(int) = nullptr;
        bool pending = false;
        void on_complete(int result) override {
            pending = false;
            (owner->*handler)(result);
        }
    };
    struct Outgoing {
        std::span<const std::byte> bytes;
        std::uint64_t cookie = 0;
    };

    void received(int result);
    void sent(int result);
    // Hands complete messages to the sink; false when it refused one.
    bool deliver();
    void arm_recv();
    void arm_send();
    void fail(std::string_view why, int err);

    io::EventLoop& loop_;
    UniqueFd fd_;
    std::uint32_t max_msize_;
    std::uint32_t msize_;
    std::string name_;
    std::shared_ptr<log::RateLimiter> log_limiter_;
    server::TransportSink* sink_ = nullptr;
    std::vector<std::byte> in_;
    std::size_t in_begin_ = 0;  // first unconsumed byte
    std::size_t in_end_ = 0;    // end of received bytes
    // A large message being received into the sink's buffer.
    std::span<std::byte> large_;
    std::size_t large_received_ = 0;
    bool paused_ = false;
    bool closed_ = false;
    std::deque<Outgoing> out_;
    std::size_t out_done_ = 0;  // bytes of out_.front() already sent
    Op recv_;
    Op send_;
};

}  // namespace xen9p::transport
