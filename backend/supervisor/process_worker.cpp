#include "backend/supervisor/process_worker.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <utility>

#include "backend/supervisor/worker_output.hpp"
#include "backend/worker_channel/messages.hpp"

namespace xen9p::supervisor {
namespace {

// The worker reports at most once a second (StatsReporter) and says ready once:
// a few messages a second with a burst for reports queued while the
// supervisor was busy. A worker past that is not read for kControlMute.
constexpr double kControlMessagesPerSecond = 4;
constexpr double kControlBurst = 16;
constexpr std::chrono::milliseconds kControlMute{250};
// waitid's P_PIDFD (Linux 5.4); glibc 2.36's headers do not name it yet.
constexpr auto kIdTypePidfd = static_cast<idtype_t>(3);

// The wait(2) status that waitid's siginfo describes.
int wait_status(const siginfo_t& info) {
    switch (info.si_code) {
        case CLD_EXITED:
            return (info.si_status & 0xff) << 8;
        case CLD_DUMPED:
            return info.si_status | 0x80;
        default:
            return info.si_status;
    }
}

class ProcessWorker : public Worker {
  public:
    // `ready`: it said so already (to the supervisor it is adopted from).
    ProcessWorker(pid_t pid, UniqueFd pidfd, UniqueFd control, WorkerOutput output,
                  bool ready = false)
        : pid_(pid),
          pidfd_(std::move(pidfd)),
          control_(std::move(control)),
          output_(std::move(output)),
          ready_seen_(ready) {}
    ~ProcessWorker() override {
        // The supervisor collects its workers before dropping them; one left
        // over (a shutdown that gave up) is killed, never waited for.
        if (!reap()) send(SIGKILL);
    }

    pid_t pid() const override { return pid_; }
    int control_fd() const override { return control_muted_until_ ? -1 : control_.get(); }
    int output_fd() const override { return output_.fd(); }
    void forward_output(log::RateLimiter& limiter) override { output_.forward(limiter); }
    void drain_output(log::RateLimiter& limiter) override { output_.drain(limiter); }
    int exit_fd() const override { return pidfd_.get(); }
    int exit_status() const override { return status_; }
    const std::optional<stats::StatsReport>& stats() const override { return stats_; }
    bool stopping() const override { return stopping_; }

    WorkerEvent next_event() override {
        if (!control_ || control_muted_until_) return WorkerEvent::kNone;
        // A flood of messages must not take the supervisor's time from the
        // other guests: past the budget the socket is left unread (the
        // worker's sends then fail or block, which stalls it alone). Not a
        // kill: reports queued while the supervisor was busy are no fault.
        const auto now = WorkerClock::now();
        if (!control_budget_.allow(now)) {
            control_muted_until_ = now + kControlMute;
            return std::exchange(told_too_fast_, true) ? WorkerEvent::kNone : WorkerEvent::kTooFast;
        }
        char buf[worker_channel::kMaxWorkerMessageSize];
        // MSG_TRUNC: a longer message reports its whole length and is ignored.
        const ssize_t n = ::recv(control_.get(), buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
        if (n > static_cast<ssize_t>(sizeof buf)) return WorkerEvent::kNone;
        if (n > 0) {
            const std::string_view message(buf, static_cast<std::size_t>(n));
            if (worker_channel::is_ready_message(message))
                return std::exchange(ready_seen_, true) ? WorkerEvent::kNone : WorkerEvent::kReady;
            // The worker serves a guest: only what parses strictly is kept.
            if (auto parsed = worker_channel::parse_stats_message(message))
                stats_ = std::move(*parsed);
            return WorkerEvent::kNone;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return WorkerEvent::kNone;
        // EOF or error. A worker that is exiting closes its files before its
        // pidfd turns readable, and one that closed the socket but lives on
        // is no longer a worker we can talk to: either way it is killed now
        // (a kill that meets an exit in progress is dropped, so the exit
        // status stays the worker's own).
        control_.reset();
        stop(WorkerClock::duration::zero());
        return WorkerEvent::kLost;
    }

    bool reap() override {
        if (reaped_) return true;
        siginfo_t info{};
        int r;
        do {
            r = ::waitid(kIdTypePidfd, static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG);
        } while (r < 0 && errno == EINTR);
        // WNOHANG with nothing to collect leaves si_pid zero.
        if (r != 0 || info.si_pid == 0) return false;
        status_ = wait_status(info);
        reaped_ = true;
        kill_at_.reset();
        return true;
    }

    void stop(WorkerClock::duration grace) override {
        if (reaped_) return;
        // Closing our end stops a worker as SIGTERM does, and a stopping
        // worker has nothing left to tell us.
        control_.reset();
        if (killed_) return;
        const auto now = WorkerClock::now();
        if (grace <= WorkerClock::duration::zero() || (kill_at_ && *kill_at_ <= now)) {
            send(SIGKILL);
            killed_ = true;
            kill_at_.reset();
        } else if (!stopping_) {
            send(SIGTERM);
            kill_at_ = now + grace;
        } else if (now + grace < *kill_at_) {
            kill_at_ = now + grace;
        }
        stopping_ = true;
    }

    std::optional<WorkerClock::time_point> deadline() const override {
        std::optional<WorkerClock::time_point> next = kill_at_;
        for (const auto& t : {control_muted_until_, output_.resume_at()})
            if (t && (!next || *t < *next)) next = t;
        return next;
    }

    bool expire(WorkerClock::time_point now) override {
        if (control_muted_until_ && *control_muted_until_ <= now) control_muted_until_.reset();
        output_.expire(now);
        if (!kill_at_ || now < *kill_at_) return false;
        stop(WorkerClock::duration::zero());
        return true;
    }

    WorkerDescriptors descriptors() const override {
        return {pid_, pidfd_.get(), control_.get(), output_.descriptor(), ready_seen_, stopping_};
    }

  private:
    void send(int signal) {
        // Through the pidfd: never a process that took over a recycled pid.
        // (A raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C".)
        (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0);
    }

    pid_t pid_;
    UniqueFd pidfd_;
    UniqueFd control_;
    WorkerOutput output_;
    bool ready_seen_;
    log::RateLimiter control_budget_{kControlMessagesPerSecond, kControlBurst};
    std::optional<WorkerClock::time_point> control_muted_until_;
    bool told_too_fast_ = false;
    int status_ = 0;
    bool reaped_ = false;
    bool stopping_ = false;
    bool killed_ = false;
    std::optional<WorkerClock::time_point> kill_at_;
    std::optional<stats::StatsReport> stats_;
};

// `fd`, moved above the numbers the worker's descriptors get, so that
// putting those in place overwrites none of the sources (a supervisor
// started with stdio closed gets low numbers from the kernel).
Result<UniqueFd> above_stdio(UniqueFd fd) {
    if (fd.get() > worker_channel::kControlFd) return fd;
    UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, worker_channel::kControlFd + 1));
    if (!moved) return fail_errno();
    return moved;
}

// The pid a pidfd names, from its fdinfo (-1 once the process is reaped).
std::optional<long> pidfd_pid(int pidfd) {
    std::ifstream info("/proc/self/fdinfo/" + std::to_string(pidfd));
    std::string key;
    long value = 0;
    while (info >> key) {
        if (key == "Pid:" && info >> value) return value;
        info.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    return std::nullopt;
}

// Takes `fd` if it is open; -1 stays empty.
Result<UniqueFd> adopt_fd(int fd) {
    if (fd < 0) return UniqueFd();
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return fail_errno();
    return UniqueFd(fd);
}

}  // namespace

ProcessWorkerLauncher::ProcessWorkerLauncher(std::filesystem::path program, std::string name,
                                             std::vector<std::string> arguments)
    : program_(std::move(program)), name_(std::move(name)), arguments_(std::move(arguments)) {}

Result<std::unique_ptr<Worker>> ProcessWorkerLauncher::launch(
    const worker_channel::WorkerParams& params) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return fail_errno();
    UniqueFd ours(pair[0]);
    auto theirs = above_stdio(UniqueFd(pair[1]));
    if (!theirs) return std::unexpected(theirs.error());
    // stdin: an empty pipe nobody writes to (reads see end of file), not
    // /dev/null, a device on a host mount.
    if (::pipe2(pair, O_CLOEXEC) != 0) return fail_errno();
    auto stdin_read = above_stdio(UniqueFd(pair[0]));
    ::close(pair[1]);
    if (!stdin_read) return std::unexpected(stdin_read.error());
    // stdout and stderr: a pipe the supervisor reads and logs from. The
    // worker's end blocks when full: a flood stalls that worker alone.
    if (::pipe2(pair, O_CLOEXEC) != 0) return fail_errno();
    UniqueFd output_read(pair[0]);
    auto output_write = above_stdio(UniqueFd(pair[1]));
    if (!output_write) return std::unexpected(output_write.error());
    if (::fcntl(output_read.get(), F_SETFL, O_NONBLOCK) != 0) return fail_errno();

    // Queue the parameters before the child exists: it reads them first thing.
    if (auto sent = worker_channel::send_params(ours.get(), params); !sent)
        return std::unexpected(sent.error());

    // Everything exec needs is prepared before the clone: the child only
    // makes async-signal-safe calls.
    std::vector<std::string> args;
    args.push_back(name_);
    args.insert(args.end(), arguments_.begin(), arguments_.end());
    args.push_back("--control-fd");
    args.push_back(std::to_string(worker_channel::kControlFd));
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    // The init of a PID namespace drops signals it neither handles nor
    // blocks: SIGTERM is blocked from the start (the mask crosses exec), so a
    // stop that comes before the worker has its signalfd stays pending.
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);

    // A new PID namespace with the worker as its init: it can signal or
    // ptrace nothing but itself. The pidfd comes back close-on-exec.
    int pidfd = -1;
    clone_args clone{};
    clone.flags = CLONE_PIDFD | CLONE_NEWPID;
    clone.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd);
    clone.exit_signal = SIGCHLD;
    // glibc 2.36 has no clone3 wrapper.
    const long pid = ::syscall(SYS_clone3, &clone, sizeof clone);
    if (pid < 0) return fail_errno();
    if (pid == 0) {
        // Only these cross exec: every descriptor a worker holds is one of
        // them, on its export's mount, in its private proc, or anonymous.
        // The sources are all above worker_channel::kControlFd, and dup2 clears
        // close-on-exec on the copies.
        if (::dup2(stdin_read->get(), STDIN_FILENO) < 0 ||
            ::dup2(output_write->get(), STDOUT_FILENO) < 0 ||
            ::dup2(output_write->get(), STDERR_FILENO) < 0 ||
            ::dup2(theirs->get(), worker_channel::kControlFd) < 0 ||
            ::syscall(SYS_close_range, worker_channel::kControlFd + 1, ~0U, 0) != 0)
            ::_exit(127);
        ::sigprocmask(SIG_BLOCK, &term, nullptr);
        ::execv(program_.c_str(), argv.data());
        ::_exit(127);
    }
    UniqueFd exit_fd(pidfd);
    return std::unique_ptr<Worker>(std::make_unique<ProcessWorker>(
        static_cast<pid_t>(pid), std::move(exit_fd), std::move(ours),
        WorkerOutput(std::move(output_read), params.device.to_string())));
}

Result<std::unique_ptr<Worker>> ProcessWorkerLauncher::adopt(
    const WorkerDescriptors& worker, const worker_channel::DeviceId& device) {
    // Each is owned from here on, whether or not the next one is good.
    auto pidfd = adopt_fd(worker.exit_fd);
    auto control = adopt_fd(worker.control_fd);
    auto output = adopt_fd(worker.output_fd);
    if (!pidfd || !*pidfd) return fail(EBADF);
    if (!control) return std::unexpected(control.error());
    if (!output) return std::unexpected(output.error());
    // The pidfd must still name the process the handover says it does.
    if (auto pid = pidfd_pid(pidfd->get()); !pid || *pid != worker.pid) return fail(ESRCH);
    auto adopted = std::make_unique<ProcessWorker>(
        worker.pid, std::move(*pidfd), std::move(*control),
        WorkerOutput(std::move(*output), device.to_string()), worker.ready);
    return std::unique_ptr<Worker>(std::move(adopted));
}

}  // namespace xen9p::supervisor
