#include "tests/simxen/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

namespace xen9p::simxen {

Result<ChildProcess> ChildProcess::start(const std::vector<std::string>& argv,
                                         const std::filesystem::path& log) {
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) return fail_errno();
    std::vector<std::string> args = argv;
    std::vector<char*> raw;
    for (auto& a : args)
        raw.push_back(a.data());
    raw.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        const int err = errno;
        ::close(out);
        return fail(err);
    }
    if (pid == 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
        ::execv(raw[0], raw.data());
        ::_exit(127);
    }
    ::close(out);
    return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        stop();
        pid_ = std::exchange(other.pid_, -1);
        status_ = other.status_;
    }
    return *this;
}

std::optional<int> ChildProcess::poll_exit() {
    if (pid_ < 0 || status_) return status_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return status_;
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
    if (pid_ < 0) return 0;
    if (!poll_exit()) {
        ::kill(pid_, SIGTERM);
        if (!wait_until([this] { return poll_exit().has_value(); }, grace)) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            status_ = status;
        }
    }
    pid_ = -1;
    return *status_;
}

}  // namespace xen9p::simxen
