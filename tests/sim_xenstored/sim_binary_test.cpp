// xen9p-sim as a separate process: the "ready" line, the toolstack
// subcommands, domains appearing in both xenstored and the hypervisor.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <filesystem>

#include "tests/sim_xenstored/fixture.hpp"

namespace xen9p::test {
namespace {

// Kills and reaps the child on every path out of the test.
class Child {
  public:
    explicit Child(pid_t pid) : pid_(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    // Exit status after SIGTERM.
    int terminate() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return status;
    }

  private:
    pid_t pid_;
};

int run_tool(const std::string& args) {
    const std::string command = std::string(XEN9P_SIM_BINARY) + " " + args + " 2>/dev/null";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct TempDir {
    TempDir() {
        char pattern[] = "/tmp/xs-bin-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(pattern) != nullptr);
        path = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    std::string path;
};

}  // namespace

BOOST_AUTO_TEST_CASE(xen9p_sim_serves_domains_to_the_toolstack_commands) {
    TempDir tmp;
    const std::string dir = tmp.path + "/sim";
    int out[2];
    BOOST_REQUIRE(::pipe(out) == 0);
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out[1], STDOUT_FILENO);
        ::execl(XEN9P_SIM_BINARY, XEN9P_SIM_BINARY, "run", "--dir", dir.c_str(), nullptr);
        ::_exit(127);
    }
    Child child(pid);
    ::close(out[1]);
    FILE* lines = ::fdopen(out[0], "r");
    BOOST_REQUIRE(lines != nullptr);
    char line[256] = {};
    BOOST_REQUIRE(std::fgets(line, sizeof(line), lines) != nullptr);
    std::fclose(lines);
    BOOST_TEST(std::string(line).starts_with("ready "));

    BOOST_TEST(run_tool("toolstack --dir " + dir + " create-domain 5") == 0);
    BOOST_TEST(std::filesystem::exists(dir + "/domains/5/xenstored.sock"));
    BOOST_TEST(std::filesystem::exists(dir + "/domains/5/hypervisor.sock"));
    BOOST_TEST(run_tool("toolstack --dir " + dir +
                        " add-9pfs 5 --tag t --path /srv --kind xen_9pfs --devid 2") == 0);
    BOOST_TEST(run_tool("toolstack --dir " + dir + " add-9pfs 5 --tag t") != 0);

    auto xs = Xenstore::open_socket(dir + "/xenstored.sock");
    BOOST_REQUIRE(xs.has_value());
    BOOST_TEST(xs->read("/local/domain/0/backend/xen_9pfs/5/2/path").value() == "/srv");
    BOOST_TEST(xs->read("/local/domain/5/device/9pfs/2/tag").value() == "t");
    BOOST_REQUIRE(xs->watch("@releaseDomain", "r").has_value());
    drain_events(*xs);

    BOOST_TEST(run_tool("toolstack --dir " + dir + " destroy-domain 5 --timeout 0") == 0);
    BOOST_TEST(drain_events(*xs).size() == 1u);
    BOOST_TEST(!std::filesystem::exists(dir + "/domains/5/xenstored.sock"));
    BOOST_TEST(!std::filesystem::exists(dir + "/domains/5/hypervisor.sock"));
    BOOST_TEST(error_of(xs->read("/local/domain/5")) == ENOENT);

    const int status = child.terminate();
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    BOOST_TEST(!std::filesystem::exists(dir + "/xenstored.sock"));
}

}  // namespace xen9p::test
