#include "backend/serve/pid_namespace_init.hpp"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <utility>

#include "base/signal_fd.hpp"
#include "base/unique_fd.hpp"

#ifdef XEN9P_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif

namespace xen9p::serve {
namespace {

// waitid's P_PIDFD (Linux 5.4); glibc 2.36's headers do not name it yet.
constexpr auto kIdTypePidfd = static_cast<idtype_t>(3);

// Raw syscalls: glibc 2.36's <sys/pidfd.h> lacks extern "C".
UniqueFd pidfd_open(pid_t pid) {
    return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

// The parent's whole life after the fork: forward stop signals, collect the
// child. Nothing here reads anything the child controls but its exit status.
int supervise(int child, int signals) {
    std::array<pollfd, 2> fds{pollfd{child, POLLIN, 0}, pollfd{signals, POLLIN, 0}};
    for (;;) {
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info{};
            if (::read(signals, &info, sizeof info) == sizeof info)
                (void)::syscall(SYS_pidfd_send_signal, child, static_cast<int>(info.ssi_signo),
                                nullptr, 0);
        }
        if (fds[0].revents & POLLIN) break;
    }
    siginfo_t info{};
    int r;
    do {
        r = ::waitid(kIdTypePidfd, static_cast<id_t>(child), &info, WEXITED);
    } while (r < 0 && errno == EINTR);
    if (r != 0) return 1;
    return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

}  // namespace

Result<int> run_as_pid_namespace_init(const std::function<int(UniqueFd parent_pidfd)>& body) {
    const auto stop = block_signals({SIGINT, SIGTERM});
    if (!stop) return std::unexpected(stop.error());
    UniqueFd parent = pidfd_open(::getpid());
    if (!parent) return fail_errno();
#ifdef XEN9P_SANITIZE
    // Once its children's PID namespace differs from its own, a process can
    // start no thread, and LeakSanitizer's exit check needs one: check now.
    __lsan_do_leak_check();
#endif
    // The next child is PID 1 of a new namespace; this process stays where it
    // is. fork(), not a raw clone3: the child goes on running this program,
    // and glibc must know its new thread id and reset its own state.
    if (::unshare(CLONE_NEWPID) != 0) return fail_errno();
    const pid_t pid = ::fork();
    if (pid < 0) return fail_errno();
    if (pid == 0) return body(std::move(parent));
    parent.reset();
    // Unreaped, the child's pid cannot be reused: this pidfd is the child's.
    UniqueFd child = pidfd_open(pid);
    UniqueFd signals(::signalfd(-1, &*stop, SFD_CLOEXEC));
    if (!child || !signals) {
        const int error = errno;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return fail(error);
    }
    return supervise(child.get(), signals.get());
}

}  // namespace xen9p::serve
