#include "backend/io/event_loop.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <utility>

namespace xen9p::io {
namespace {

// user_data of SQEs whose completion nobody waits for (cancel requests).
constexpr std::uint64_t kIgnored = 0;

// Every opcode the methods below issue, and nothing else: io_uring ops are not
// syscalls, so seccomp cannot stop a compromised worker from opening, linking
// or connecting through its ring; the ring's own restrictions do.
constexpr std::array<std::uint8_t, 11> kIssuedOps = {
    IORING_OP_READ,     IORING_OP_READV,   IORING_OP_WRITE,        IORING_OP_WRITEV,
    IORING_OP_FSYNC,    IORING_OP_RECV,    IORING_OP_SEND,         IORING_OP_ACCEPT,
    IORING_OP_POLL_ADD, IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL,
};

// Restricts the (disabled) ring to kIssuedOps with no SQE flags and no
// io_uring_register operation at all, then enables it. Raw syscalls: the
// liburing 2.3 of Debian 12 declares the wrappers but does not export them.
Status restrict_and_enable(const io_uring& ring) {
    std::array<io_uring_restriction, kIssuedOps.size()> allowed{};
    for (std::size_t i = 0; i < kIssuedOps.size(); ++i) {
        allowed[i].opcode = IORING_RESTRICTION_SQE_OP;
        allowed[i].sqe_op = kIssuedOps[i];
    }
    if (::syscall(SYS_io_uring_register, ring.ring_fd, IORING_REGISTER_RESTRICTIONS, allowed.data(),
                  static_cast<unsigned>(allowed.size())) != 0)
        return fail_errno();
    if (::syscall(SYS_io_uring_register, ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) !=
        0)
        return fail_errno();
    return {};
}

}  // namespace

Result<EventLoop> EventLoop::create(unsigned entries) {
    EventLoop loop;
    // Cooperative task running: a completion from io_uring's helper threads
    // (a buffered write, a poll) interrupts the loop's thread with no IPI
    // while it runs; the loop takes it at its next entry, and a loop that
    // polls sees IORING_SQ_TASKRUN and enters. Kernels before 5.19 refuse
    // the flags: they get the interrupting kind.
    int err = io_uring_queue_init(
        entries, &loop.ring_,
        IORING_SETUP_R_DISABLED | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
    if (err == -EINVAL) err = io_uring_queue_init(entries, &loop.ring_, IORING_SETUP_R_DISABLED);
    if (err < 0) return fail(-err);
    loop.initialised_ = true;
    if (io_uring_probe* probe = io_uring_get_probe_ring(&loop.ring_)) {
        for (int op = 0; op < 64; ++op) {
            if (io_uring_opcode_supported(probe, op)) loop.supported_ |= std::uint64_t{1} << op;
        }
        io_uring_free_probe(probe);
    }
    constexpr int kNeeded[] = {IORING_OP_READ,         IORING_OP_READV,  IORING_OP_WRITE,
                               IORING_OP_WRITEV,       IORING_OP_FSYNC,  IORING_OP_RECV,
                               IORING_OP_SEND,         IORING_OP_ACCEPT, IORING_OP_POLL_ADD,
                               IORING_OP_ASYNC_CANCEL, IORING_OP_TIMEOUT};
    for (int op : kNeeded) {
        if (!loop.supports(op)) return fail(ENOSYS);
    }
    if (auto s = restrict_and_enable(loop.ring_); !s) return std::unexpected(s.error());
    return loop;
}

EventLoop::EventLoop(EventLoop&& other) noexcept
    : ring_(other.ring_),
      initialised_(std::exchange(other.initialised_, false)),
      supported_(other.supported_),
      pending_(other.pending_),
      window_(other.window_),
      pollers_(std::move(other.pollers_)),
      deferred_(std::move(other.deferred_)),
      running_(std::move(other.running_)) {}

EventLoop::~EventLoop() {
    if (initialised_) io_uring_queue_exit(&ring_);
}

bool EventLoop::supports(int opcode) const {
    return opcode >= 0 && opcode < 64 && (supported_ >> opcode & 1) != 0;
}

io_uring_sqe* EventLoop::next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {
        // Submission queue full: hand the batch over and take a fresh slot.
        io_uring_submit(&ring_);
        sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
}

void EventLoop::read(int fd, std::span<std::byte> out, std::uint64_t offset, Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_read(sqe, fd, out.data(), static_cast<unsigned>(out.size()), offset);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::read_now(int fd, std::span<const iovec> pieces, std::uint64_t offset,
                         Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_readv2(sqe, fd, pieces.data(), static_cast<unsigned>(pieces.size()), offset,
                         RWF_NOWAIT);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::write(int fd, std::span<const std::byte> in, std::uint64_t offset,
                      Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_write(sqe, fd, in.data(), static_cast<unsigned>(in.size()), offset);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::write(int fd, std::span<const iovec> pieces, std::uint64_t offset,
                      Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_writev(sqe, fd, pieces.data(), static_cast<unsigned>(pieces.size()), offset);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::fsync(int fd, bool datasync, Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::recv(int fd, std::span<std::byte> out, Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_recv(sqe, fd, out.data(), out.size(), 0);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::send(int fd, std::span<const std::byte> in, Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_send(sqe, fd, in.data(), in.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::accept(int fd, Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::poll(int fd, unsigned events, Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_poll_add(sqe, fd, events);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::defer(Completion* done) {
    deferred_.push_back(done);
    ++pending_;
}

void EventLoop::timeout(const __kernel_timespec& after, Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_timeout(sqe, const_cast<__kernel_timespec*>(&after), 0, 0);
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::submit_raw(const io_uring_sqe& prepared, Completion* done) {
    io_uring_sqe* sqe = next_sqe();
    *sqe = prepared;
    io_uring_sqe_set_data(sqe, done);
    ++pending_;
}

void EventLoop::cancel(Completion* target) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_cancel(sqe, target, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, kIgnored);
}

void EventLoop::add_poller(Poller& poller) {
    if (std::ranges::find(pollers_, &poller) == pollers_.end()) pollers_.push_back(&poller);
}

void EventLoop::remove_poller(Poller& poller) {
    std::erase(pollers_, &poller);
}

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

}  // namespace

bool EventLoop::take_news() {
    for (Poller* poller : pollers_) {
        if (poller->has_news()) {
            poller->take_news();
            return true;
        }
    }
    return false;
}

bool EventLoop::completions_waiting() const {
    return io_uring_cq_ready(&ring_) > 0 ||
           (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0;
}

bool EventLoop::poll_for_news() {
    const auto until = std::chrono::steady_clock::now() + window_.current();
    do {
        if (completions_waiting() || take_news()) return true;
        cpu_relax();
    } while (std::chrono::steady_clock::now() < until);
    return false;
}

void EventLoop::dispatch_ready() {
    io_uring_cqe* cqe = nullptr;
    // Completions may prepare new SQEs; they go out with the next run_once.
    while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
        std::uint64_t data = cqe->user_data;
        int result = cqe->res;
        io_uring_cqe_seen(&ring_, cqe);
        if (data == kIgnored) continue;
        --pending_;
        reinterpret_cast<Completion*>(data)->on_complete(result);
    }
}

void EventLoop::run_deferred() {
    running_.swap(deferred_);
    for (Completion* done : running_) {
        --pending_;
        done->on_complete(0);
    }
    running_.clear();  // keeps its capacity: no allocation per batch
}

Status EventLoop::run_once() {
    using Clock = std::chrono::steady_clock;
    int err = 0;
    if (!deferred_.empty() || completions_waiting()) {
        // Work is ready: hand over what was prepared, take what completed
        // (liburing enters the kernel for completions still to be posted),
        // and never sleep. A loop kept awake this way still serves its
        // pollers: their notifications are armed only before a sleep.
        err = io_uring_submit(&ring_);
        take_news();
    } else if (pollers_.empty() || window_.current() == std::chrono::nanoseconds{}) {
        // Nothing to poll for: submit and wait in one system call.
        const auto start = Clock::now();
        for (Poller* poller : pollers_)
            poller->before_sleep();
        err = io_uring_submit_and_wait(&ring_, 1);
        if (!pollers_.empty()) window_.waited(Clock::now() - start);
    } else {
        // What was prepared must be under way while the loop polls.
        err = io_uring_submit(&ring_);
        if (err >= 0 && !completions_waiting()) {
            const auto start = Clock::now();
            if (!poll_for_news()) {
                for (Poller* poller : pollers_)
                    poller->before_sleep();
                err = io_uring_submit_and_wait(&ring_, 1);
            }
            window_.waited(Clock::now() - start);
        }
    }
    if (err < 0 && err != -EINTR) return fail(-err);
    dispatch_ready();
    run_deferred();
    return {};
}

}  // namespace xen9p::io
