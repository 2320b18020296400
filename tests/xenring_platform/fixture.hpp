// A simulated hypervisor serving a fresh temp dir in a thread, with domain 5
// created, plus a forked-child helper that is always reaped.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "base/unique_fd.hpp"
#include "sim/sim_hypervisor.hpp"

namespace xen9p::test {

inline constexpr std::uint16_t kGuest = 5;

struct SimFixture {
    SimFixture() {
        char tmpl[] = "/tmp/xrpXXXXXX";
        if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
        dir = tmpl;
        auto created = sim::SimHypervisor::create(dir);
        if (!created)
            throw std::runtime_error("SimHypervisor::create: " + created.error().message());
        hv = std::move(*created);
        hv->start_thread();
        if (!hv->create_domain(kGuest)) throw std::runtime_error("create_domain");
    }
    ~SimFixture() {
        hv.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string spec() const { return "sim:" + dir.string(); }

    std::filesystem::path dir;
    std::unique_ptr<sim::SimHypervisor> hv;
};

// A child process running `body` (its return value is the exit code), with a
// control socket to the parent. Killed and reaped if the test ends early.
class ChildProcess {
  public:
    explicit ChildProcess(const std::function<int(int control)>& body) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            throw std::runtime_error("socketpair");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            ::close(sv[0]);
            ::_exit(body(sv[1]));
        }
        ::close(sv[1]);
        control_.reset(sv[0]);
    }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess() { kill(); }
    // SIGKILL and reap (no-op once reaped).
    void kill() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    int control() const { return control_.get(); }
    // The child's exit code, or -1 if it did not exit normally.
    int wait() {
        int status = 0;
        if (::waitpid(pid_, &status, 0) != pid_) return -1;
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

  private:
    pid_t pid_ = -1;
    UniqueFd control_;
};

// Fixed-size values over the control socket.
template <class T>
bool send_value(int fd, const T& value) {
    return ::write(fd, &value, sizeof(T)) == static_cast<ssize_t>(sizeof(T));
}

template <class T>
bool recv_value(int fd, T& value) {
    std::size_t got = 0;
    auto* p = reinterpret_cast<char*>(&value);
    while (got < sizeof(T)) {
        const ssize_t n = ::read(fd, p + got, sizeof(T) - got);
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace xen9p::test
