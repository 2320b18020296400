#define BOOST_TEST_MODULE sandbox
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdint.h>  // for xen/xen.h
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
// Before the ioctl headers: evtchn.h uses domid_t without including it.
#include <xen/xen.h>

#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "backend/sandbox/sandbox.hpp"
#include "base/unique_fd.hpp"

namespace fs = std::filesystem;
using xen9p::UniqueFd;
using xen9p::sandbox::SandboxPolicy;

namespace {

constexpr uid_t kUid = 131072 + 7;
constexpr gid_t kGid = 131072;

struct TempDir {
    fs::path path;
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "xen9p-sandbox-XXXXXX").string();
        BOOST_REQUIRE(::mkdtemp(templ.data()) != nullptr);
        path = templ;
        // The worker's uid must be able to search its export.
        fs::permissions(path,
                        fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    }
    ~TempDir() { fs::remove_all(path); }
};

// A child that enters the sandbox, reports what it sees through `report`,
// then waits on `go` (so the parent can read its /proc status) and exits.
struct SandboxedChild {
    pid_t pid = -1;
    UniqueFd report;
    UniqueFd go;

    explicit SandboxedChild(const SandboxPolicy& policy) {
        int report_pipe[2], go_pipe[2];
        BOOST_REQUIRE(::pipe2(report_pipe, O_CLOEXEC) == 0);
        BOOST_REQUIRE(::pipe2(go_pipe, O_CLOEXEC) == 0);
        pid = ::fork();
        BOOST_REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(report_pipe[0]);
            ::close(go_pipe[1]);
            std::string seen;
            if (auto r = xen9p::sandbox::enter_sandbox(policy); !r) {
                seen = "error " + std::to_string(r.error().value);
            } else {
                // Only syscalls of the worker's allow-list may be used from here on.
                seen += ::open("/marker", O_PATH) >= 0 ? "marker=yes " : "marker=no ";
                seen += ::open("/etc/passwd", O_RDONLY) < 0 ? "passwd=no " : "passwd=yes ";
                seen += "uid=" + std::to_string(::getuid());
            }
            (void)!::write(report_pipe[1], seen.data(), seen.size());
            ::close(report_pipe[1]);
            char c;
            (void)!::read(go_pipe[0], &c, 1);
            ::_exit(0);
        }
        ::close(report_pipe[1]);
        ::close(go_pipe[0]);
        report.reset(report_pipe[0]);
        go.reset(go_pipe[1]);
    }

    std::string read_report() {
        std::string out;
        char buf[256];
        ssize_t n;
        while ((n = ::read(report.get(), buf, sizeof buf)) > 0)
            out.append(buf, n);
        return out;
    }

    std::map<std::string, std::string> proc_status() const {
        std::ifstream in("/proc/" + std::to_string(pid) + "/status");
        std::map<std::string, std::string> fields;
        std::string line;
        while (std::getline(in, line)) {
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            auto value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            fields[line.substr(0, colon)] = value;
        }
        return fields;
    }

    int finish() {
        go.reset();
        int status = 0;
        BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
        pid = -1;
        return status;
    }

    ~SandboxedChild() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
};

SandboxPolicy policy_for(const fs::path& root) {
    SandboxPolicy policy;
    policy.uid = kUid;
    policy.gid = kGid;
    policy.root = root;
    policy.max_open_files = 64;
    return policy;
}

}  // namespace

BOOST_AUTO_TEST_CASE(worker_is_confined_to_the_export_with_no_privilege) {
    TempDir export_dir;
    std::ofstream(export_dir.path / "marker") << "x";
    SandboxedChild child(policy_for(export_dir.path));
    const auto seen = child.read_report();
    BOOST_TEST(seen == "marker=yes passwd=no uid=" + std::to_string(kUid));

    auto status = child.proc_status();
    const auto uid = std::to_string(kUid);
    const auto gid = std::to_string(kGid);
    BOOST_TEST(status["Uid"] == uid + "\t" + uid + "\t" + uid + "\t" + uid);
    BOOST_TEST(status["Gid"] == gid + "\t" + gid + "\t" + gid + "\t" + gid);
    BOOST_TEST(status["Groups"] == "");
    BOOST_TEST(status["CapEff"] == "0000000000000000");
    BOOST_TEST(status["CapPrm"] == "0000000000000000");
    BOOST_TEST(status["NoNewPrivs"] == "1");
    BOOST_TEST(status["Seccomp"] == "2");
    BOOST_TEST(WIFEXITED(child.finish()));
}

BOOST_AUTO_TEST_CASE(passthrough_keeps_only_its_named_capabilities) {
    TempDir export_dir;
    auto policy = policy_for(export_dir.path);
    policy.keep_capabilities = xen9p::sandbox::capabilities_for_security_model("passthrough");
    SandboxedChild child(policy);
    BOOST_TEST(child.read_report().starts_with("marker=no passwd=no"));
    auto status = child.proc_status();
    unsigned long long expected = 0;
    for (int cap : policy.keep_capabilities)
        expected |= 1ULL << cap;
    BOOST_TEST(std::stoull(status["CapEff"], nullptr, 16) == expected);
    BOOST_TEST(std::stoull(status["CapPrm"], nullptr, 16) == expected);
    BOOST_TEST(status["CapInh"] == "0000000000000000");
    BOOST_TEST(WIFEXITED(child.finish()));
}

BOOST_AUTO_TEST_CASE(security_models_none_and_mapped_need_no_capability) {
    BOOST_TEST(xen9p::sandbox::capabilities_for_security_model("none").empty());
    BOOST_TEST(xen9p::sandbox::capabilities_for_security_model("mapped-xattr").empty());
}

BOOST_AUTO_TEST_CASE(uid_zero_is_refused) {
    TempDir export_dir;
    auto policy = policy_for(export_dir.path);
    policy.uid = 0;
    SandboxedChild child(policy);
    BOOST_TEST(child.read_report() == "error " + std::to_string(EPERM));
    child.finish();
}

BOOST_AUTO_TEST_CASE(a_syscall_outside_the_allow_list_kills_the_worker) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        if (!xen9p::sandbox::install_seccomp_allow_list()) ::_exit(3);
        // A worker has no business opening sockets.
        ::syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
        ::_exit(0);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST(WIFSIGNALED(status));
    BOOST_TEST(WTERMSIG(status) == SIGSYS);
}

namespace {

// Runs `request` as an ioctl on a fd that is not a device (so an allowed
// request fails with an errno instead of acting) under the worker's filter.
int ioctl_under_the_allow_list(unsigned long request) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        int fds[2];
        if (::pipe(fds) != 0) ::_exit(4);
        if (!xen9p::sandbox::install_seccomp_allow_list()) ::_exit(3);
        char arg[64] = {};
        ::ioctl(fds[0], request, arg);
        ::_exit(0);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

}  // namespace

// A compromised worker must not bind other guests' ports, map their grants or
// lift its event-channel restriction: ioctl is allowed only with the requests
// the data path issues.
BOOST_AUTO_TEST_CASE(only_the_data_path_ioctls_pass_the_filter) {
    for (const unsigned long request : std::initializer_list<unsigned long>{
             IOCTL_EVTCHN_BIND_INTERDOMAIN, IOCTL_EVTCHN_BIND_UNBOUND_PORT, IOCTL_EVTCHN_BIND_VIRQ,
             IOCTL_EVTCHN_RESTRICT_DOMID, IOCTL_EVTCHN_RESET, IOCTL_GNTDEV_MAP_GRANT_REF,
             IOCTL_GNTDEV_SET_MAX_GRANTS, IOCTL_GNTDEV_GRANT_COPY, IOCTL_GNTDEV_UNMAP_GRANT_REF,
             IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, TIOCSTI, TCGETS}) {
        BOOST_TEST_CONTEXT("ioctl " << std::hex << request) {
            const int status = ioctl_under_the_allow_list(request);
            BOOST_TEST(WIFSIGNALED(status));
            BOOST_TEST((WIFSIGNALED(status) ? WTERMSIG(status) : 0) == SIGSYS);
        }
    }
    // The kernel reads the request as 32 bits: high bits set do not sneak past.
    BOOST_TEST(WIFSIGNALED(ioctl_under_the_allow_list(0xffffffff00000000UL | TIOCSTI)));
    for (const unsigned long request : {IOCTL_EVTCHN_NOTIFY, IOCTL_EVTCHN_UNBIND}) {
        BOOST_TEST_CONTEXT("ioctl " << std::hex << request) {
            const int status = ioctl_under_the_allow_list(request);
            BOOST_TEST(WIFEXITED(status));
        }
    }
}

// A blocking call such as poll() that a stop, or io_uring's task-work
// notification, interrupts is resumed by the kernel through restart_syscall:
// killing the worker there killed it mid-session on real Xen.
BOOST_AUTO_TEST_CASE(an_interrupted_poll_is_restarted_not_killed) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        if (!xen9p::sandbox::install_seccomp_allow_list()) ::_exit(3);
        ::poll(nullptr, 0, 1500);
        ::_exit(0);
    }
    // Stop the child while it sleeps in poll (syscall 7 in /proc/<pid>/syscall), then continue it.
    bool in_poll = false;
    for (int i = 0; i < 500 && !in_poll; ++i) {
        std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
        std::string nr;
        in >> nr;
        in_poll = nr == std::to_string(SYS_poll);
        if (!in_poll) ::usleep(1000);
    }
    BOOST_REQUIRE(in_poll);
    int status = 0;
    BOOST_REQUIRE(::kill(pid, SIGSTOP) == 0);
    BOOST_REQUIRE(::waitpid(pid, &status, WUNTRACED) == pid);
    BOOST_REQUIRE(WIFSTOPPED(status));
    BOOST_REQUIRE(::kill(pid, SIGCONT) == 0);
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST((WIFSIGNALED(status) ? WTERMSIG(status) : 0) == 0);
}

namespace {

// Runs `call` in a child under the worker's filter, with a target process
// (a second child, sleeping) it may name; the waitpid status of the first.
int under_the_allow_list_with_a_target(int (*call)(pid_t target)) {
    const pid_t target = ::fork();
    BOOST_REQUIRE(target >= 0);
    if (target == 0) {
        ::pause();
        ::_exit(0);
    }
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        if (!xen9p::sandbox::install_seccomp_allow_list()) ::_exit(3);
        (void)call(target);
        ::_exit(0);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    ::kill(target, SIGKILL);
    ::waitpid(target, nullptr, 0);
    return status;
}

bool killed_by_seccomp(int status) {
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

}  // namespace

// A compromised worker or serve may signal, and read or change the limits of,
// itself only: tgkill with another process's pid and prlimit64 of another pid
// are killed, the forms raise(), abort() and getrlimit() use pass.
BOOST_AUTO_TEST_CASE(tgkill_and_prlimit_reach_only_the_process_itself) {
    BOOST_TEST(killed_by_seccomp(under_the_allow_list_with_a_target(
        [](pid_t target) { return static_cast<int>(::syscall(SYS_tgkill, target, target, 0)); })));
    BOOST_TEST(killed_by_seccomp(under_the_allow_list_with_a_target([](pid_t target) {
        rlimit limit{};
        return static_cast<int>(::syscall(SYS_prlimit64, target, RLIMIT_NOFILE, nullptr, &limit));
    })));
    // High bits that the kernel would drop do not turn another pid into ours.
    BOOST_TEST(killed_by_seccomp(under_the_allow_list_with_a_target([](pid_t) {
        return static_cast<int>(
            ::syscall(SYS_tgkill, (1L << 32) | ::getpid(), static_cast<long>(::gettid()), 0L));
    })));
    const int self_signal = under_the_allow_list_with_a_target(
        [](pid_t) { return static_cast<int>(::syscall(SYS_tgkill, ::getpid(), ::gettid(), 0)); });
    BOOST_TEST(WIFEXITED(self_signal));
    const int self_limit = under_the_allow_list_with_a_target([](pid_t) {
        rlimit limit{};
        return ::getrlimit(RLIMIT_NOFILE, &limit);
    });
    BOOST_TEST(WIFEXITED(self_limit));
    // abort() signals the process itself: it dies of SIGABRT, not SIGSYS.
    const int aborted = under_the_allow_list_with_a_target([](pid_t) -> int {
        ::signal(SIGABRT, SIG_DFL);  // not Boost.Test's handler, inherited by the fork
        ::abort();
    });
    BOOST_TEST(WIFSIGNALED(aborted));
    BOOST_TEST((WIFSIGNALED(aborted) ? WTERMSIG(aborted) : 0) == SIGABRT);
}
