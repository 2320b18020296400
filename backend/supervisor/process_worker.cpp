#include "backend/supervisor/process_worker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace xen9p::daemon {
namespace {

// Parameters are a few hundred bytes; one datagram carries them whole.
constexpr std::size_t kMaxParamsSize = 64 * 1024;
// A statistics line with every request type is about 600 bytes.
constexpr std::size_t kMaxWorkerMessage = 4096;

class ProcessWorker : public Worker {
  public:
    ProcessWorker(pid_t pid, UniqueFd control) : pid_(pid), control_(std::move(control)) {}
    ~ProcessWorker() override { stop(); }

    pid_t pid() const override { return pid_; }
    int event_fd() const override { return control_.get(); }
    int exit_status() const override { return status_; }
    const std::optional<stats::StatsReport>& stats() const override { return stats_; }

    WorkerEvent next_event() override {
        if (reaped_) return WorkerEvent::kExited;
        char buf[kMaxWorkerMessage];
        // MSG_TRUNC: a longer message reports its whole length and is ignored.
        const ssize_t n = ::recv(control_.get(), buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
        if (n > static_cast<ssize_t>(sizeof buf)) return WorkerEvent::kNone;
        if (n > 0) {
            const std::string_view message(buf, static_cast<std::size_t>(n));
            if (message == kWorkerReadyMessage) return WorkerEvent::kReady;
            if (message.starts_with(kWorkerStatsPrefix)) {
                // The worker serves a guest: only what parses strictly is kept.
                if (auto parsed = stats::parse_stats(message.substr(kWorkerStatsPrefix.size())))
                    stats_ = std::move(*parsed);
            }
            return WorkerEvent::kNone;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return WorkerEvent::kNone;
        // EOF or error: the worker is gone (or going); collect it.
        reap(/*block=*/true);
        return WorkerEvent::kExited;
    }

    void stop() override {
        if (reaped_) return;
        ::kill(pid_, SIGTERM);
        // A worker unmaps and unbinds on SIGTERM within milliseconds; one that
        // does not within 2 s is killed.
        for (int i = 0; i < 200 && !reap(/*block=*/false); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!reaped_) {
            ::kill(pid_, SIGKILL);
            reap(/*block=*/true);
        }
        control_.reset();
    }

  private:
    bool reap(bool block) {
        if (reaped_) return true;
        int status = 0;
        pid_t r;
        do {
            r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == pid_) {
            status_ = status;
            reaped_ = true;
        }
        return reaped_;
    }

    pid_t pid_;
    UniqueFd control_;
    int status_ = 0;
    bool reaped_ = false;
    std::optional<stats::StatsReport> stats_;
};

}  // namespace

ProcessWorkerLauncher::ProcessWorkerLauncher(std::filesystem::path program, std::string name,
                                             std::vector<std::string> arguments)
    : program_(std::move(program)), name_(std::move(name)), arguments_(std::move(arguments)) {}

Result<std::unique_ptr<Worker>> ProcessWorkerLauncher::launch(const WorkerParams& params) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return fail_errno();
    UniqueFd ours(pair[0]);
    UniqueFd theirs(pair[1]);

    const auto text = serialize(params);
    if (text.size() > kMaxParamsSize) return fail(E2BIG);
    // Queue the parameters before the child exists: it reads them first thing.
    if (::send(ours.get(), text.data(), text.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(text.size()))
        return fail_errno();

    // Everything exec needs is prepared before fork: the child only calls
    // async-signal-safe functions.
    std::vector<std::string> args;
    args.push_back(name_);
    args.insert(args.end(), arguments_.begin(), arguments_.end());
    args.push_back("--control-fd");
    args.push_back(std::to_string(theirs.get()));
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) return fail_errno();
    if (pid == 0) {
        // Only the control socket crosses exec.
        ::fcntl(theirs.get(), F_SETFD, 0);
        ::execv(program_.c_str(), argv.data());
        ::_exit(127);
    }
    theirs.reset();
    return std::unique_ptr<Worker>(std::make_unique<ProcessWorker>(pid, std::move(ours)));
}

Result<WorkerParams> receive_worker_params(int control_fd) {
    std::string buf(kMaxParamsSize, '\0');
    ssize_t n;
    do {
        n = ::recv(control_fd, buf.data(), buf.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail_errno();
    if (n == 0) return fail(ECONNRESET);
    buf.resize(static_cast<std::size_t>(n));
    return parse_worker_params(buf);
}

Status report_worker_ready(int control_fd) {
    if (::send(control_fd, kWorkerReadyMessage.data(), kWorkerReadyMessage.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(kWorkerReadyMessage.size()))
        return fail_errno();
    return {};
}

}  // namespace xen9p::daemon
