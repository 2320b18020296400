#include "backend/worker/device_keeper.hpp"

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "backend/worker_channel/messages.hpp"
#include "base/parse_number.hpp"

namespace xen9p::worker {
namespace {

std::string describe(const siginfo_t& info) {
    if (info.si_code == CLD_EXITED) return "exit " + std::to_string(info.si_status);
    return "signal " + std::to_string(info.si_status);
}

}  // namespace

bool CrashLoopGuard::allow(std::chrono::steady_clock::time_point now) {
    while (!deaths_.empty() && now - deaths_.front() >= kWindow)
        deaths_.pop_front();
    deaths_.push_back(now);
    return deaths_.size() <= kMaxDeaths;
}

std::vector<int> open_descriptors() {
    std::vector<int> fds;
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return fds;
    const int own = ::dirfd(dir);
    while (const dirent* entry = ::readdir(dir)) {
        const auto fd = parse_decimal(entry->d_name, 1u << 30);
        if (fd && static_cast<int>(*fd) != own) fds.push_back(static_cast<int>(*fd));
    }
    ::closedir(dir);
    return fds;
}

int keep_device(const std::function<int(const Incarnation&)>& serve) {
    sigset_t watched;
    sigemptyset(&watched);
    for (const int sig : {SIGCHLD, SIGTERM, SIGINT})
        sigaddset(&watched, sig);
    if (::sigprocmask(SIG_BLOCK, &watched, nullptr) != 0) return 1;

    CrashLoopGuard guard;
    Incarnation incarnation;
    for (;;) {
        // fork() with the descriptor table shared; glibc has no wrapper for that.
        const long pid =
            ::syscall(SYS_clone, CLONE_FILES | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
        if (pid < 0) return 1;
        if (pid == 0) ::_exit(serve(incarnation));

        bool stopping = false;
        siginfo_t ended{};
        for (;;) {
            siginfo_t info{};
            if (::sigwaitinfo(&watched, &info) < 0) {
                if (errno == EINTR) continue;
                ::kill(static_cast<pid_t>(pid), SIGKILL);
                stopping = true;
                continue;
            }
            if (info.si_signo != SIGCHLD) {
                stopping = true;
                ::kill(static_cast<pid_t>(pid), SIGTERM);
                continue;
            }
            ended = {};
            if (::waitid(P_PID, static_cast<id_t>(pid), &ended, WEXITED | WNOHANG) == 0 &&
                ended.si_pid == static_cast<pid_t>(pid))
                break;
        }
        const bool exited = ended.si_code == CLD_EXITED;
        if (exited && (ended.si_status == 0 || ended.si_status == 1)) return ended.si_status;
        if (stopping) return 0;
        // waitid returned only once every thread of the server, io_uring's
        // workers included, had exited: nothing it started can still land.
        if (!guard.allow(std::chrono::steady_clock::now())) return worker_channel::kExitCrashLoop;
        ++incarnation.number;
        incarnation.last_signal = exited ? 0 : ended.si_status;
        incarnation.last_cause = describe(ended);
    }
}

}  // namespace xen9p::worker
