// The worker's single-threaded io_uring event loop. Every pending operation
// carries a Completion (its user_data); SQEs prepared while handling one batch of
// completions are submitted together by the next wait, one io_uring_submit per
// drain. Not thread-safe: one thread owns a loop.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/errno.hpp"

namespace xen9p::io {

// Receives the result of one operation (the CQE's res: a count or -errno).
class Completion {
  public:
    virtual void on_complete(int result) = 0;

  protected:
    ~Completion() = default;
};

class EventLoop {
  public:
    // The ring accepts only the opcodes the methods below issue (registered
    // restrictions); any other completes with -EACCES.
    static Result<EventLoop> create(unsigned entries = 256);

    EventLoop(EventLoop&& other) noexcept;
    EventLoop& operator=(EventLoop&&) = delete;
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;
    ~EventLoop();

    // Whether the running kernel supports an IORING_OP_* (probed at start).
    bool supports(int opcode) const;

    void read(int fd, std::span<std::byte> out, std::uint64_t offset, Completion* done);
    void write(int fd, std::span<const std::byte> in, std::uint64_t offset, Completion* done);
    void fsync(int fd, bool datasync, Completion* done);
    void recv(int fd, std::span<std::byte> out, Completion* done);
    void send(int fd, std::span<const std::byte> in, Completion* done);
    void accept(int fd, Completion* done);
    // One-shot readiness poll (POLLIN etc.): `result` is the revents mask.
    void poll(int fd, unsigned events, Completion* done);
    // Completes with 0 at the next run_once: work deferred until the handlers
    // of the current batch have returned.
    void nop(Completion* done);
    // Completes with -ETIME once `after` has passed; `after` must stay valid
    // until the next run_once has submitted it.
    void timeout(const __kernel_timespec& after, Completion* done);
    // Asks the kernel to cancel every operation of `target`; the target still
    // gets its completion (-ECANCELED or its real result). No completion of its own.
    void cancel(Completion* target);
    // Submits an SQE prepared elsewhere, as it is (its user_data becomes
    // `done`): how tests check that the ring refuses what the loop never issues.
    void submit_raw(const io_uring_sqe& prepared, Completion* done);

    // Submits what was prepared, waits for at least one completion and
    // dispatches every completion that is ready.
    Status run_once();

    // Operations submitted or prepared whose completion has not run yet.
    std::size_t pending() const { return pending_; }

  private:
    EventLoop() = default;
    io_uring_sqe* next_sqe();

    io_uring ring_{};
    bool initialised_ = false;
    std::uint64_t supported_ = 0;  // bit per opcode below 64
    std::size_t pending_ = 0;
};

}  // namespace xen9p::io
