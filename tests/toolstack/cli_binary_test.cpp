// The real `xen9pd attach` and `xen9pd detach` binaries against the
// xen9p-sim process (guests made by `xen9p-sim toolstack`), with a fake
// backend and with `xen9pd run` itself as the backend.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>

#include "tests/toolstack/toolstack_fixture.hpp"

namespace xen9p::test {
namespace {

// Kills and reaps the child on every path out of the test.
class Child {
  public:
    explicit Child(pid_t pid) : pid_(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }

  private:
    pid_t pid_;
};

struct Ran {
    int status = -1;
    std::string output;
};

// Runs `argv` to completion, stdout and stderr together.
Ran run(const std::vector<std::string>& argv) {
    int out[2];
    BOOST_REQUIRE(::pipe(out) == 0);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(out[1], STDERR_FILENO);
        std::vector<char*> args;
        for (const auto& arg : argv)
            args.push_back(const_cast<char*>(arg.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(out[1]);
    Ran ran;
    char buf[512];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;)
        ran.output.append(buf, static_cast<std::size_t>(n));
    ::close(out[0]);
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    ran.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return ran;
}

// Starts `xen9p-sim run --dir DIR` and waits for its "ready" line.
pid_t start_sim(const std::string& dir) {
    int out[2];
    BOOST_REQUIRE(::pipe(out) == 0);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out[1], STDOUT_FILENO);
        ::execl(XEN9P_SIM_BINARY, XEN9P_SIM_BINARY, "run", "--dir", dir.c_str(), nullptr);
        ::_exit(127);
    }
    ::close(out[1]);
    FILE* lines = ::fdopen(out[0], "r");
    if (lines == nullptr) ::close(out[0]);
    char line[256] = {};
    const bool ready = lines != nullptr && std::fgets(line, sizeof(line), lines) != nullptr &&
                       std::string(line).starts_with("ready ");
    if (lines != nullptr) std::fclose(lines);
    if (!ready) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        BOOST_FAIL("xen9p-sim did not start");
    }
    return pid;
}

}  // namespace

BOOST_AUTO_TEST_CASE(xen9pd_attach_and_detach_a_device_of_a_running_guest_in_xen9p_sim) {
    ExportDirs exports;
    const std::string dir = exports.base + "/sim";
    Child sim(start_sim(dir));
    BOOST_REQUIRE(run({XEN9P_SIM_BINARY, "toolstack", "--dir", dir, "create-domain", "3", "--name",
                       "restricted-hvm"})
                      .status == 0);

    auto xs = Xenstore::open_socket(dir + "/xenstored.sock");
    BOOST_REQUIRE(xs.has_value());
    // The guest's xenbus watches its device directory before the device exists.
    auto guest = Xenstore::open_socket(dir + "/domains/3/xenstored.sock");
    BOOST_REQUIRE(guest.has_value());
    BOOST_REQUIRE(guest->watch("/local/domain/3/device", "xenbus").has_value());
    drain_events(*guest);

    const auto attached =
        run({XEN9PD_BINARY, "attach", "restricted-hvm", "--tag", "share", "--path",
             exports.root + "/share", "--xen", "sim:" + dir, "--config", exports.config});
    BOOST_TEST(attached.status == 0, attached.output);
    BOOST_TEST(attached.output ==
               "attached: domain 3 devid 0 kind 9pfs tag share path " + exports.root + "/share\n");
    bool hotplugged = false;
    for (const auto& event : drain_events(*guest))
        hotplugged = hotplugged || event.path == "/local/domain/3/device/9pfs/0";
    BOOST_TEST(hotplugged);
    BOOST_TEST(guest->read("/local/domain/3/device/9pfs/0/tag").value() == "share");
    const std::string be = "/local/domain/0/backend/9pfs/3/0";
    BOOST_TEST(xs->read(be + "/path").value() == exports.root + "/share");
    BOOST_TEST((xs->permissions(be).value() == std::vector<XsPermission>{{0, 'n'}, {3, 'r'}}));

    const auto refused = run({XEN9PD_BINARY, "attach", "3", "--tag", "share", "--path",
                              exports.root, "--xen", "sim:" + dir, "--config", exports.config});
    BOOST_TEST(refused.status == 1);
    BOOST_TEST(refused.output.find("already used") != std::string::npos, refused.output);

    // A backend that answers Closing with Closed, on the sim's xenstored.
    auto backend = Xenstore::open_socket(dir + "/xenstored.sock");
    BOOST_REQUIRE(backend.has_value());
    BOOST_REQUIRE(backend->watch(be + "/state", "be").has_value());
    std::string online_seen;
    std::thread answer([&] {
        while (wait_event(*backend)) {
            if (backend->read(be + "/state").value_or("") == "5") {
                online_seen = backend->read(be + "/online").value_or("?");
                (void)backend->write(be + "/state", "6");
                return;
            }
        }
    });
    const auto detached = run({XEN9PD_BINARY, "detach", "restricted-hvm", "--tag", "share", "--xen",
                               "sim:" + dir, "--config", exports.config});
    answer.join();
    BOOST_TEST(detached.status == 0, detached.output);
    BOOST_TEST(detached.output == "detached: domain 3 devid 0\n");
    BOOST_TEST(online_seen == "0");
    BOOST_TEST(error_of(xs->read(be)) == ENOENT);
    BOOST_TEST(error_of(xs->read("/local/domain/3/device/9pfs/0")) == ENOENT);
    BOOST_TEST(error_of(xs->read("/libxl/3/device/9pfs/0")) == ENOENT);
}

// The whole path on the simulated platform: the daemon claims the device
// attach hot-adds (InitWait), and answers detach's Closing with Closed.
BOOST_AUTO_TEST_CASE(xen9pd_run_serves_an_attached_device_and_lets_detach_remove_it) {
    ExportDirs exports;
    const std::string dir = exports.base + "/sim";
    Child sim(start_sim(dir));
    BOOST_REQUIRE(
        run({XEN9P_SIM_BINARY, "toolstack", "--dir", dir, "create-domain", "4", "--name", "web"})
            .status == 0);
    const pid_t daemon_pid = ::fork();
    BOOST_REQUIRE(daemon_pid >= 0);
    if (daemon_pid == 0) {
        const int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, STDERR_FILENO);
        ::dup2(null, STDOUT_FILENO);
        ::execl(XEN9PD_BINARY, XEN9PD_BINARY, "run", "--config", exports.config.c_str(), "--xen",
                ("sim:" + dir).c_str(), "--uid-range-base", "200000", "--control-socket",
                (exports.base + "/control.sock").c_str(), nullptr);
        ::_exit(127);
    }
    Child daemon(daemon_pid);

    auto xs = Xenstore::open_socket(dir + "/xenstored.sock");
    BOOST_REQUIRE(xs.has_value());
    const std::string be = "/local/domain/0/backend/9pfs/4/0";
    BOOST_REQUIRE(xs->watch(be + "/state", "be").has_value());
    // attach refuses the memory budget the daemon would refuse, and writes
    // the largest one the daemon accepts.
    const auto too_big =
        run({XEN9PD_BINARY, "attach", "web", "--tag", "share", "--path", exports.root + "/share",
             "--max-memory", "65537", "--xen", "sim:" + dir, "--config", exports.config});
    BOOST_TEST(too_big.status == 2);
    BOOST_TEST(too_big.output.starts_with("xen9pd attach: --max-memory: "), too_big.output);
    BOOST_TEST(error_of(xs->read(be)) == ENOENT);
    const auto attached =
        run({XEN9PD_BINARY, "attach", "web", "--tag", "share", "--path", exports.root + "/share",
             "--max-memory", "65536", "--xen", "sim:" + dir, "--config", exports.config});
    BOOST_REQUIRE(attached.status == 0);
    while (xs->read(be + "/state").value_or("") != "2")
        BOOST_REQUIRE_MESSAGE(wait_event(*xs), "the daemon never reached InitWait");
    BOOST_TEST(xs->read(be + "/versions").value() == "1");
    BOOST_TEST(xs->read(be + "/max-memory").value() == "65536");

    const auto detached =
        run({XEN9PD_BINARY, "detach", "web", "--xen", "sim:" + dir, "--config", exports.config});
    BOOST_TEST(detached.status == 0, detached.output);
    BOOST_TEST(detached.output == "detached: domain 4 devid 0\n");
    BOOST_TEST(error_of(xs->read(be)) == ENOENT);
    BOOST_TEST(error_of(xs->read("/local/domain/4/device/9pfs/0")) == ENOENT);
}

}  // namespace xen9p::test
