#include "tests/sandbox/confined_child.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>

#include "base/unique_fd.hpp"

namespace xen9p::test {

ChildResult run_in_child(PidNamespace pid_ns, const std::function<int()>& body) {
    int pipe_fds[2];
    BOOST_REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
    UniqueFd read_end(pipe_fds[0]);
    UniqueFd write_end(pipe_fds[1]);
    const unsigned long flags = SIGCHLD | (pid_ns == PidNamespace::kOwn ? CLONE_NEWPID : 0);
    // Raw clone: glibc's fork() cannot put the child into a new PID namespace.
    const pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, 0));
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        // Only what a worker would hold: stdio (here the pipe) and what
        // `body` opens.
        for (int fd = 0; fd <= 2; ++fd) {
            if (::dup2(write_end.get(), fd) < 0) ::_exit(120);
        }
        if (::close_range(3, ~0U, 0) != 0) ::_exit(121);
        ::_exit(body());
    }
    write_end.reset();
    ChildResult result;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(read_end.get(), buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        result.output.append(buf, static_cast<std::size_t>(n));
    }
    if (::waitpid(pid, &result.status, 0) != pid) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &result.status, 0);
    }
    return result;
}

TempDir::TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "xen9p-confined-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(templ.data()) != nullptr);
    path = templ;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all |
                                           std::filesystem::perms::group_exec |
                                           std::filesystem::perms::others_exec);
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

}  // namespace xen9p::test
