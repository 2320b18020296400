// A server::Session driven in-process, for the server fuzzer and its corpus
// generator: messages are handed to the session as a transport would hand
// them (whole, size[4] equal to their length, refused while the slot pool is
// empty), replies are collected, and the event loop is turned by the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/server/session.hpp"
#include "backend/server/transport.hpp"

namespace xen9p::fuzz {

struct CollectedReply {
    std::vector<std::byte> bytes;
    std::size_t limit = 0;  // the msize in force when it was sent
};

class LoopbackTransport final : public server::Transport {
  public:
    explicit LoopbackTransport(std::uint32_t max_msize) : max_msize_(max_msize) {}

    void start(server::TransportSink& sink) override { sink_ = &sink; }
    std::uint32_t max_msize() const override { return max_msize_; }
    void set_msize(std::uint32_t msize) override { msize_ = msize; }
    void send(const server::Origin& origin, std::span<const std::byte> bytes,
              std::uint64_t cookie) override;
    void resume_input() override { resumed_ = true; }
    void close() override;
    bool finished() const override { return closed_; }
    const std::string& name() const override { return name_; }

  private:
    friend class LoopbackSession;

    std::uint32_t max_msize_;
    std::uint32_t msize_ = 0;
    std::string name_ = "loopback";
    server::TransportSink* sink_ = nullptr;
    bool resumed_ = false;
    bool closed_ = false;
    std::deque<std::uint64_t> unacknowledged_;
    std::deque<CollectedReply> replies_;
};

class LoopbackSession {
  public:
    LoopbackSession(io::EventLoop& loop, fs::Export& ex, server::SessionConfig config,
                    std::uint32_t max_msize);
    // Closes the session and runs the loop until it has finished.
    ~LoopbackSession();
    LoopbackSession(const LoopbackSession&) = delete;
    LoopbackSession& operator=(const LoopbackSession&) = delete;

    // Hands one whole message over, turning the loop while the session has no
    // room. False once the transport is closed: by the session (protocol
    // violation) or here, for a size a stream transport would refuse.
    bool deliver(std::span<const std::byte> message);

    // Runs until no operation is pending and every reply has been acknowledged.
    void drain();

    // Closes and drains; false if the session still is not finished (a leak).
    bool finish();

    std::deque<CollectedReply>& replies() { return transport_->replies_; }
    bool closed() const { return transport_->closed_; }

  private:
    // One unit of progress (acknowledge a reply or turn the loop once); false
    // when nothing can progress.
    bool step();

    io::EventLoop& loop_;
    LoopbackTransport* transport_;
    stats::OpStats ops_;
    server::Session session_;
};

}  // namespace xen9p::fuzz
