// The supervisor never waits for a worker: one that closes its control
// socket and lives on, one that ignores SIGTERM, and a guest that cycles its
// frontend to make the supervisor start and stop workers in a loop each leave
// every other guest served (status, attach, detach within a second).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <thread>

#include "tests/daemon_sim/daemon_fixture.hpp"
#include "tests/daemon_sim/rogue_worker.hpp"

namespace xen9p::test {
namespace {

using namespace std::chrono_literals;

// How long the rogue guest's frontend waits for the backend when it closes
// (the backend may already be Closing, which it does not answer).
constexpr auto kRogueFrontendWait = 3s;

// xen9pd whose workers misbehave for the tags of rogue_worker.hpp.
struct RogueWorkerFixture : DaemonFixture {
    RogueWorkerFixture() : DaemonFixture(XEN9PD_ROGUE_BINARY) {}

    // The worker pid of `domid`, asked of a supervisor that must answer.
    std::optional<pid_t> worker_now(DomId domid) {
        auto status = status_within(1s);
        if (!status) return std::nullopt;
        return simxen::worker_pid(*status, domid);
    }
};

std::size_t count_lines(const std::string& text, std::string_view a, std::string_view b) {
    std::istringstream lines(text);
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line);)
        n += line.find(a) != std::string::npos && line.find(b) != std::string::npos;
    return n;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(misbehaving_workers, RogueWorkerFixture)

BOOST_AUTO_TEST_CASE(worker_closing_its_control_socket_is_killed_and_stalls_no_one) {
    const auto rogue_export = add_guest(1, std::string(kClosesControlTag));
    add_guest(2);
    auto other = mount(2);
    // Connected once the rogue worker says ready; it never answers 9P.
    auto rogue = must(sim->connect(1, 0, kRogueFrontendWait));
    const auto pid = worker_now(1);
    BOOST_REQUIRE(pid);

    std::ofstream(rogue_export / kMisbehaveNow).close();
    BOOST_REQUIRE(simxen::wait_until([&] { return !exists(rogue_export / kMisbehaveNow); }));
    check_other_guests_served(3, 2);

    // Lost: the device closes as on a worker's exit, and the process is killed.
    BOOST_TEST(wait_backend_state(1, {"5", "6"}));
    BOOST_TEST(process_gone(*pid));
    BOOST_TEST(daemon_log().find("worker closed its control socket") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(worker_ignoring_sigterm_is_killed_after_its_grace_and_stalls_no_one) {
    const auto rogue_export = add_guest(1, std::string(kIgnoresSigtermTag));
    add_guest(2);
    auto other = mount(2);
    auto rogue = must(sim->connect(1, 0, kRogueFrontendWait));
    const auto pid = worker_now(1);
    BOOST_REQUIRE(pid);

    // The guest closes its frontend: the supervisor asks the worker to stop.
    must(sim->xs().write(rogue->frontend_path() + "/state", "5"));
    BOOST_REQUIRE(simxen::wait_until([&] { return exists(rogue_export / kGotSigterm); }));
    check_other_guests_served(3, 2);

    BOOST_TEST(wait_backend_state(1, {"5", "6"}));
    BOOST_TEST(process_gone(*pid));
    BOOST_TEST(daemon_log().find("worker did not stop in time: killed") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(worker_restarts, DaemonFixture)

BOOST_AUTO_TEST_CASE(worker_is_init_of_its_own_pid_namespace_and_stops_on_sigterm) {
    add_guest(1);
    auto c = mount(1);
    const auto pid = wait_worker(1);
    BOOST_REQUIRE(pid);
    // NSpid: its pid here, then 1 in the namespace it and its server alone live in.
    const auto nspid = simxen::proc_status_field(*pid, "NSpid");
    BOOST_TEST(nspid == std::to_string(*pid) + "\t1");
    const auto server = wait_server(1);
    BOOST_REQUIRE(server);
    BOOST_TEST(simxen::proc_status_field(*server, "NSpid") == std::to_string(*server) + "\t2");

    c.reset();
    BOOST_TEST(wait_backend_state(1, {"6"}));
    BOOST_TEST(process_gone(*pid));
    const auto log = daemon_log();
    BOOST_TEST(count_lines(log, "msg=\"worker stopped\"", "how=\"exit 0\"") == 1u);
    BOOST_TEST(log.find("did not stop in time") == std::string::npos);
}

// The rogue binary's workers count their launches (rogue_worker.hpp).
BOOST_FIXTURE_TEST_CASE(guest_cycling_its_frontend_gets_workers_at_a_bounded_rate,
                        RogueWorkerFixture) {
    const auto share = add_guest(1);
    add_guest(2);
    auto other = mount(2);
    // The guest connects and closes as fast as the backend lets it; an
    // attempt the backend holds back times out (after 1 s: a worker of the
    // sanitizer build on a loaded machine can take 200 ms to serve).
    constexpr int kAttempts = 30;
    std::atomic<int> attempts = 0;
    std::thread guest([&] {
        for (; attempts < kAttempts; ++attempts)
            (void)sim->connect(1, 0, 1s);
    });
    simxen::wait_until([&] { return attempts >= 3; });
    check_other_guests_served(3, 2);
    guest.join();

    // Without a bound every attempt starts a worker; the back-off (0, then
    // 100 ms doubling) allows about ten in the time the attempts take.
    const auto log = daemon_log();
    // Counted by the workers: the supervisor's lines about them are rate-limited.
    std::ifstream noted(share.string() + std::string(kLaunchesSuffix));
    std::stringstream launched;
    launched << noted.rdbuf();
    const auto launches = static_cast<std::size_t>(std::ranges::count(launched.str(), '\n'));
    BOOST_TEST_MESSAGE("workers started for " << kAttempts << " attempts: " << launches);
    BOOST_TEST(launches >= 2u);
    BOOST_TEST(launches <= static_cast<std::size_t>(kAttempts / 2));
    BOOST_TEST(count_lines(log, "device=9pfs/1/0", "holding back its workers") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
