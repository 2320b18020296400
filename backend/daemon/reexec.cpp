#include "backend/daemon/reexec.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backend/log/log.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::daemon {
namespace {

constexpr std::string_view kComponent = "xen9pd";

// The previous supervisor's handover, read from memory file `fd`: every
// descriptor it names must be open in this process (they are ours from here
// on), before this process opens any of its own.
Result<supervisor::Handover> read_handover(int fd) {
    if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) return fail(EBADF);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(text.size()))) > 0)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    if (n < 0) return fail_errno();
    auto handover = supervisor::parse_handover(text);
    if (!handover) return std::unexpected(handover.error());
    for (int named : supervisor::descriptors_of(*handover))
        if (::fcntl(named, F_GETFD) < 0) return fail(EBADF);
    return handover;
}

// Kills and collects the children this process inherited: the previous
// supervisor's workers, when its handover is refused (the process has
// started none of its own yet). A wait of at most a few seconds each for
// processes already killed, at start-up, when nothing is served yet.
void end_inherited_workers() {
    std::vector<pid_t> children;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
        std::ifstream list(task.path() / "children");
        pid_t pid = 0;
        while (list >> pid)
            children.push_back(pid);
    }
    for (const pid_t pid : children) {
        // Our unreaped child: its pid cannot have been given to another process.
        UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
        if (!pidfd) continue;
        (void)::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
        pollfd gone{pidfd.get(), POLLIN, 0};
        (void)::poll(&gone, 1, 5000);
        siginfo_t info{};
        (void)::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
    }
}

}  // namespace

std::optional<supervisor::Handover> take_handover(int handover_fd) {
    if (handover_fd == -1) return std::nullopt;
    auto handover = read_handover(handover_fd);
    if (handover) return std::move(*handover);
    log::error(kComponent, "",
               "cannot read the previous supervisor's handover: its devices are lost",
               {{"error", handover.error().message()}});
    end_inherited_workers();
    (void)::syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, 0);
    return std::nullopt;
}

Status reexecute(const std::filesystem::path& program, std::span<const std::string> args,
                 const supervisor::Supervisor& supervisor, int reply) {
    auto handover = supervisor.hand_over();
    handover.reply_fd = reply;
    const auto text = supervisor::serialize(handover);
    UniqueFd memfd(::memfd_create("xen9pd-handover", MFD_CLOEXEC));
    if (!memfd) return fail_errno();
    for (std::size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(memfd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail_errno();
        done += static_cast<std::size_t>(n);
    }
    auto keep = supervisor::descriptors_of(handover);
    keep.push_back(memfd.get());
    // Nothing else crosses exec: not the xenstore connection (its watches
    // would fire into a descriptor nobody reads), nor the control socket.
    // Every descriptor here was close-on-exec; those kept are again if exec
    // fails.
    if (::syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        return fail_errno();
    auto close_on_exec = [&keep] {
        for (int fd : keep)
            (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
    };
    for (int fd : keep) {
        if (::fcntl(fd, F_SETFD, 0) != 0) {
            const Errno failed{errno};
            close_on_exec();
            return std::unexpected(failed);
        }
    }
    std::vector<std::string> words{"xen9pd", "run"};
    words.insert(words.end(), args.begin(), args.end());
    words.push_back(std::string(kHandoverOption));
    words.push_back(std::to_string(memfd.get()));
    std::vector<char*> argv;
    for (auto& w : words)
        argv.push_back(w.data());
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    const Errno failed{errno};
    close_on_exec();
    return std::unexpected(failed);
}

}  // namespace xen9p::daemon
