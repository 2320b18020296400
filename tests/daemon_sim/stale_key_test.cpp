// libxl's xen-9pfs/{state,pid} key across daemon deaths: a key left by a
// daemon killed with SIGKILL is taken over even when its pid now belongs to
// an unrelated process, a live daemon's key is respected, and a stopping
// xen9pd removes the key only while it is still its own.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>

#include "tests/daemon_sim/daemon_fixture.hpp"

extern char** environ;

namespace xen9p::test {

namespace {

const std::string kKey = "/local/domain/0/libxl/xen-9pfs";

// `program -c "sleep 60"`, killed and reaped at the end of the scope.
struct Sleeper {
    explicit Sleeper(const std::string& program) {
        std::string argv0 = program, c = "-c", script = "sleep 60";
        char* argv[] = {argv0.data(), c.data(), script.data(), nullptr};
        BOOST_REQUIRE(::posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv, environ) == 0);
        BOOST_REQUIRE(simxen::wait_until([&] {
            std::error_code ec;
            return std::filesystem::equivalent("/proc/" + std::to_string(pid) + "/exe", program,
                                               ec);
        }));
    }
    ~Sleeper() {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    pid_t pid = -1;
};

struct StaleKeyFixture : DaemonFixture {
    StaleKeyFixture() : DaemonFixture(StartLater{}) {}
    void leave_key(pid_t pid) {
        must(sim->xs().write(kKey + "/state", "running"));
        must(sim->xs().write(kKey + "/pid", std::to_string(pid)));
    }
    // A node of the key, "" when absent (or unreadable): none is ever empty.
    std::string key(const std::string& node) {
        auto value = sim->xs().try_read(kKey + "/" + node);
        return value ? value->value_or("") : "";
    }
    std::string key_pid() { return key("pid"); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(stale_key, StaleKeyFixture)

BOOST_AUTO_TEST_CASE(a_key_naming_an_unrelated_live_process_is_taken_over) {
    Sleeper unrelated("/bin/sh");
    leave_key(unrelated.pid);
    start_daemon();
    BOOST_TEST(key_pid() == std::to_string(sim->daemon()->pid()));
    BOOST_TEST(daemon_log().find("took over a stale key") != std::string::npos);
    add_guest(1);
    auto c = mount(1);
    write_file(*c, "served", "after the takeover");
    BOOST_TEST(must(read_file(*c, "served")) == "after the takeover");
}

BOOST_AUTO_TEST_CASE(a_key_left_by_a_killed_xen9pd_is_taken_over_by_the_next) {
    start_daemon();
    const pid_t killed = sim->daemon()->pid();
    BOOST_REQUIRE(key_pid() == std::to_string(killed));
    ::kill(killed, SIGKILL);
    sim->daemon()->stop();
    BOOST_REQUIRE(key_pid() == std::to_string(killed));  // nothing ran to remove it
    // The killed daemon's control socket is still there: start_daemon does
    // not wait for the new one to be up.
    start_daemon();
    const auto restarted = std::to_string(sim->daemon()->pid());
    BOOST_TEST(simxen::wait_until([&] { return key_pid() == restarted; }));
    add_guest(1);
    auto c = mount(1);
    write_file(*c, "served", "by the restarted daemon");
}

BOOST_AUTO_TEST_CASE(a_live_stock_xen_9pfsd_keeps_its_key_and_xen9pd_says_why_it_stops) {
    const auto stock = sim->dir() / "xen-9pfsd";
    std::filesystem::copy_file("/bin/sh", stock);
    Sleeper daemon(stock.string());
    leave_key(daemon.pid);
    BOOST_TEST(sim->start_daemon().error().value == ECHILD);  // it exits at once
    BOOST_TEST(key_pid() == std::to_string(daemon.pid));
    BOOST_TEST(daemon_log().find("another 9pfs daemon is running") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_stopping_xen9pd_removes_its_key) {
    start_daemon();
    BOOST_REQUIRE(key_pid() != "");
    sim->daemon()->stop();
    BOOST_TEST(key("state") == "");
    BOOST_TEST(key_pid() == "");
}

BOOST_AUTO_TEST_CASE(a_stopping_xen9pd_leaves_a_key_another_daemon_took) {
    start_daemon();
    Sleeper other("/bin/sh");
    must(sim->xs().write(kKey + "/pid", std::to_string(other.pid)));
    sim->daemon()->stop();
    BOOST_TEST(key_pid() == std::to_string(other.pid));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
