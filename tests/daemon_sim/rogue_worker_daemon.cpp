// xen9pd for the tests of workers that misbehave: `run` is the real
// supervisor, and its workers (this binary again, through /proc/self/exe)
// are the real worker except for devices whose tag names a misbehaviour.
// Such a worker speaks the protocol (reads its parameters, reports ready),
// waits until the test creates the file kMisbehaveNow in the export, then
// misbehaves. Whatever happens, it is gone within a minute. Every worker
// notes its start beside its export (kLaunchesSuffix).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "backend/daemon/run_command.hpp"
#include "backend/worker/worker_command.hpp"
#include "backend/worker_channel/messages.hpp"
#include "base/parse_number.hpp"
#include "tests/daemon_sim/rogue_worker.hpp"

namespace {

using namespace xen9p;
using namespace std::chrono_literals;

// The control fd from the worker's `--control-fd N` arguments, -1 if none.
int control_fd_of(std::span<const std::string> args) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] != "--control-fd") continue;
        if (const auto fd = parse_number<int>(args[i + 1])) return *fd;
    }
    return -1;
}

// The parameters the supervisor queued, left in place for the real worker.
Result<worker_channel::WorkerParams> peek_params(int control_fd) {
    std::string buf(worker_channel::kMaxParamsSize, '\0');
    const ssize_t n = ::recv(control_fd, buf.data(), buf.size(), MSG_PEEK);
    if (n <= 0) return fail(EPROTO);
    buf.resize(static_cast<std::size_t>(n));
    return worker_channel::parse_worker_params(buf);
}

void note_launch(const std::filesystem::path& export_path) {
    const auto path = export_path.string() + std::string(test::kLaunchesSuffix);
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    (void)!::write(fd, "1\n", 2);
    ::close(fd);
}

int export_fd = -1;

// Says that SIGTERM came, and does nothing else about it.
void note_sigterm(int) {
    const int fd =
        ::openat(export_fd, test::kGotSigterm.data(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
}

int misbehave(test::RogueWorker kind, int control_fd) {
    // Bounded life even where nobody kills it: gone with the supervisor, or
    // after a minute.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const auto end = std::chrono::steady_clock::now() + 60s;
    auto params = worker_channel::receive_params(control_fd);
    if (!params) return 1;
    export_fd = ::open(params->export_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    // A handler, not SIG_IGN: the test must see the signal arrive. The
    // supervisor's mask (SIGTERM blocked for its signalfd) came across exec.
    if (kind == test::RogueWorker::kIgnoresSigterm) {
        ::signal(SIGTERM, note_sigterm);
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        ::sigprocmask(SIG_UNBLOCK, &term, nullptr);
    }
    if (!worker_channel::report_ready(control_fd)) return 1;
    const auto trigger = params->export_path / test::kMisbehaveNow;
    while (!std::filesystem::exists(trigger) && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(10ms);
    // Acknowledged first: a worker that closes its control socket is killed.
    std::error_code ignored;
    std::filesystem::remove(trigger, ignored);
    if (kind == test::RogueWorker::kClosesControl) ::close(control_fd);
    // Each flood ends when the supervisor closes its end, or never reads
    // again: the writes block once the socket or the pipe is full.
    if (kind == test::RogueWorker::kFloodsControl) {
        while (std::chrono::steady_clock::now() < end &&
               ::send(control_fd, "x", 1, MSG_NOSIGNAL) == 1) {
        }
    }
    if (kind == test::RogueWorker::kFloodsOutput) {
        (void)!::write(STDERR_FILENO, test::kForgedLine.data(), test::kForgedLine.size());
        for (int i = 0; i < test::kFloodLines; ++i)
            if (::write(STDERR_FILENO, test::kFloodLine.data(), test::kFloodLine.size()) < 0) break;
    }
    while (std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(100ms);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::span<const std::string> rest(args);
    if (!args.empty() && args[0] == "worker") {
        const int control_fd = control_fd_of(rest.subspan(1));
        if (auto params = peek_params(control_fd)) {
            note_launch(params->export_path);
            if (auto kind = test::rogue_worker_of_tag(params->tag))
                return misbehave(*kind, control_fd);
        }
        return worker::worker_command(rest.subspan(1));
    }
    if (!args.empty() && args[0] == "run") return daemon::run_command(rest.subspan(1));
    return 2;
}
