// The restart back-off's schedule: a device's first restart is immediate,
// the next ones wait 100 ms doubling up to 5 s, and a worker that served for
// a while starts the schedule over.
#define BOOST_TEST_MODULE restart_backoff
#include <boost/test/unit_test.hpp>

#include "backend/supervisor/restart_backoff.hpp"

using namespace xen9p::supervisor;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(delays_double_from_100_ms_to_5_s_after_an_immediate_first_restart) {
    RestartBackoff backoff;
    const WorkerClock::time_point start{};
    BOOST_TEST((backoff.next_launch() == start));  // nothing ended yet: no wait
    const std::chrono::milliseconds expected[] = {0ms,    100ms,  200ms,  400ms, 800ms,
                                                  1600ms, 3200ms, 5000ms, 5000ms};
    auto now = start + 1s;
    for (const auto delay : expected) {
        backoff.worker_ended(now, 0s);
        BOOST_TEST((backoff.next_launch() - now == WorkerClock::duration(delay)));
        now = backoff.next_launch() + 10ms;
    }
}

BOOST_AUTO_TEST_CASE(a_worker_connected_for_a_while_makes_the_next_restart_immediate) {
    RestartBackoff backoff;
    auto now = WorkerClock::time_point{} + 1s;
    for (int i = 0; i < 5; ++i)
        backoff.worker_ended(now, 1s);
    BOOST_TEST((backoff.next_launch() > now));
    now += 1min;
    backoff.worker_ended(now, RestartBackoff::kStableConnection);
    BOOST_TEST((backoff.next_launch() == now));
    backoff.worker_ended(now, 0s);
    BOOST_TEST((backoff.next_launch() - now == WorkerClock::duration(100ms)));
}

BOOST_AUTO_TEST_CASE(a_held_back_launch_is_reported_once_per_episode) {
    RestartBackoff backoff;
    auto now = WorkerClock::time_point{} + 1s;
    backoff.worker_ended(now, 0s);
    BOOST_TEST(backoff.first_hold());
    BOOST_TEST(!backoff.first_hold());
    backoff.worker_ended(now, 0s);
    BOOST_TEST(!backoff.first_hold());
    backoff.worker_ended(now + 1min, RestartBackoff::kStableConnection);
    BOOST_TEST(backoff.first_hold());
}
