// The worker's single-threaded io_uring event loop. Every pending operation
// carries a Completion (its user_data); SQEs prepared while handling one batch of
// completions are submitted together by the next wait, one io_uring_submit per
// drain. Not thread-safe: one thread owns a loop.
//
// With a poll window (set_poll_window), a loop that has nothing ready looks
// for news for up to the window's current length before it sleeps: its own
// completions, and work its Pollers see in shared memory before any
// notification says so (a guest's request ring). Pollers re-arm their
// notifications only when the loop is about to sleep, so a loop that has
// completions ready also looks at its pollers.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "backend/io/poll_window.hpp"
#include "base/errno.hpp"

namespace xen9p::io {

// Receives the result of one operation (the CQE's res: a count or -errno).
class Completion {
  public:
    virtual void on_complete(int result) = 0;

  protected:
    ~Completion() = default;
};

// Work that arrives in memory the loop can look at (a ring a peer writes),
// announced only later by a completion (its notification).
class Poller {
  public:
    // Something new has arrived since the last take_news(): cheap, no syscall.
    // Work that cannot progress (a partial message) is no news.
    virtual bool has_news() = 0;
    // Handles it, as the announcing completion would have.
    virtual void take_news() = 0;
    // The loop is about to sleep: re-arm what announces news (a poller may
    // leave its notifications off while the loop is awake and looking).
    virtual void before_sleep() = 0;

  protected:
    ~Poller() = default;
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
    // One read into the pieces in order, of what can be read without waiting
    // for a device (RWF_NOWAIT: a page-cache hit): maybe fewer bytes than
    // asked, or -EAGAIN when none can be. The pieces must stay valid until it
    // completes.
    void read_now(int fd, std::span<const iovec> pieces, std::uint64_t offset, Completion* done);
    void write(int fd, std::span<const std::byte> in, std::uint64_t offset, Completion* done);
    // One write of the pieces in order; they must stay valid until it completes.
    void write(int fd, std::span<const iovec> pieces, std::uint64_t offset, Completion* done);
    void fsync(int fd, bool datasync, Completion* done);
    void recv(int fd, std::span<std::byte> out, Completion* done);
    void send(int fd, std::span<const std::byte> in, Completion* done);
    void accept(int fd, Completion* done);
    // One-shot readiness poll (POLLIN etc.): `result` is the revents mask.
    void poll(int fd, unsigned events, Completion* done);
    // Completes with 0 once the handlers of the current batch have returned,
    // in the same run_once (or at the start of the next one, without waiting,
    // when deferred outside it). No system call: a round trip through the ring
    // would cost one per batch.
    void defer(Completion* done);
    // Completes with -ETIME once `after` has passed; `after` must stay valid
    // until the next run_once has submitted it.
    void timeout(const __kernel_timespec& after, Completion* done);
    // Asks the kernel to cancel every operation of `target`; the target still
    // gets its completion (-ECANCELED or its real result). No completion of its own.
    void cancel(Completion* target);
    // Submits an SQE prepared elsewhere, as it is (its user_data becomes
    // `done`): how tests check that the ring refuses what the loop never issues.
    void submit_raw(const io_uring_sqe& prepared, Completion* done);

    // Submits what was prepared, waits for at least one completion, or for
    // news a Poller found while polling, and dispatches what is ready.
    Status run_once();

    // Polls for up to `max` before each sleep, the window tuned as it goes
    // (PollWindow); 0, the default, sleeps at once.
    void set_poll_window(std::chrono::nanoseconds max) { window_ = PollWindow(max); }
    const PollWindow& poll_window() const { return window_; }
    // Pollers are looked at while polling and told before every sleep; a
    // poller must be removed before it is destroyed.
    void add_poller(Poller& poller);
    void remove_poller(Poller& poller);

    // Operations submitted or prepared whose completion has not run yet.
    std::size_t pending() const { return pending_; }

  private:
    EventLoop() = default;
    io_uring_sqe* next_sqe();
    // Completions are posted, or the kernel holds some to post at our next entry.
    bool completions_waiting() const;
    // Looks for news until the window's end; true when some was found (and,
    // for a Poller's, taken).
    bool poll_for_news();
    // Takes the news of the first poller that has some; true if one had.
    bool take_news();
    void dispatch_ready();
    // Runs what was deferred before it began; what that defers waits for the
    // next run_once.
    void run_deferred();

    io_uring ring_{};
    bool initialised_ = false;
    std::uint64_t supported_ = 0;  // bit per opcode below 64
    std::size_t pending_ = 0;
    PollWindow window_;
    std::vector<Poller*> pollers_;
    std::vector<Completion*> deferred_;
    std::vector<Completion*> running_;  // the deferred batch being run
};

}  // namespace xen9p::io
