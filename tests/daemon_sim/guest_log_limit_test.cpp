// What a guest writes in its frontend directory makes the supervisor log (a
// refused key, each state it answers). Those lines go through one rate
// limiter per device, kept for the device's life, so however often a guest
// repeats itself dom0's log grows by a bounded number of lines.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "frontend/frontend.hpp"
#include "tests/daemon_sim/daemon_fixture.hpp"

namespace xen9p::test {
namespace {

using namespace std::chrono_literals;

// log::RateLimiter's defaults, which each device's limiter uses.
constexpr double kBurst = 20;
constexpr double kPerSecond = 5;
constexpr std::string_view kDevice = "device=9pfs/1/0";
constexpr std::string_view kDropped = "log lines dropped by the rate limit";

std::size_t count_lines(const std::string& text, std::string_view a, std::string_view b = {}) {
    std::istringstream lines(text);
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line);)
        n += line.find(a) != std::string::npos && line.find(b) != std::string::npos;
    return n;
}

struct GuestLogFixture : DaemonFixture {
    // Polls every millisecond: the test waits for hundreds of answers.
    bool wait_state(DomId domid, std::string_view want) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (backend_state(domid).value_or("") != want) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(1ms);
        }
        return true;
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(guest_log_limit, GuestLogFixture)

BOOST_AUTO_TEST_CASE(a_guest_refused_500_times_grows_the_log_by_a_bounded_number_of_lines) {
    add_guest(1);
    BOOST_REQUIRE(wait_backend_state(1, {"2"}));
    auto xs = must(
        xenstore::Xenstore::open_socket(frontend::sim_xenstore_socket(sim->dir().string(), 1)));
    const std::string fe = "/local/domain/1/device/9pfs/0/";
    // Each refused at Initialised before a worker starts, so no restart
    // back-off holds the guest: it may start over at once, as often as it likes.
    const std::vector<std::pair<std::string, std::string>> malformed{
        {"version", "2"}, {"num-rings", "0"}, {"num-rings", "many"}, {"ring-ref0", "-1"}};
    constexpr int kCycles = 500;
    const auto before = count_lines(daemon_log(), kDevice);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCycles; ++i) {
        const auto& [bad_key, bad_value] = malformed[i % malformed.size()];
        auto value = [&](const std::string& key, const std::string& good) {
            return key == bad_key ? bad_value : good;
        };
        must(xs.write(fe + "version", value("version", "1")));
        must(xs.write(fe + "num-rings", value("num-rings", "1")));
        must(xs.write(fe + "ring-ref0", value("ring-ref0", "8")));
        must(xs.write(fe + "event-channel-0", "5"));
        must(xs.write(fe + "state", "3"));
        BOOST_REQUIRE_MESSAGE(wait_state(1, "6"), "refused (Closed) in cycle " << i);
        must(xs.write(fe + "state", "1"));
        BOOST_REQUIRE_MESSAGE(wait_state(1, "2"), "InitWait again in cycle " << i);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto written = count_lines(daemon_log(), kDevice) - before;
    // Each line let through may be preceded by one saying how many were dropped.
    const double bound = 2 * (kBurst + kPerSecond * seconds) + 1;
    BOOST_TEST_MESSAGE(kCycles << " refusals in " << seconds << " s: " << written
                               << " log lines (bound " << bound << ")");
    BOOST_TEST(written <= bound);
    BOOST_TEST(count_lines(daemon_log(), kDevice, "closing device") < std::size_t{kCycles});

    // The lines dropped are counted and reported with the next line written.
    BOOST_TEST(simxen::wait_until(
        [&] {
            must(xs.write(fe + "state", "3"));
            BOOST_REQUIRE(wait_state(1, "6"));
            must(xs.write(fe + "state", "1"));
            BOOST_REQUIRE(wait_state(1, "2"));
            return count_lines(daemon_log(), kDevice, kDropped) != 0;
        },
        5s));
    BOOST_TEST(!sim->daemon()->poll_exit().has_value());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
