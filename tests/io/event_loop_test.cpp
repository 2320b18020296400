// The event loop's polling: news a Poller finds in memory is taken without a
// completion and without sleeping, pollers are told before every sleep, and
// an idle loop stops polling.
#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <thread>

#include "backend/io/event_loop.hpp"

namespace xen9p::io::test {
namespace {

using namespace std::chrono_literals;

struct CountingPoller final : Poller {
    bool news = false;
    int looked = 0;
    int taken = 0;
    int slept = 0;
    bool has_news() override {
        ++looked;
        return news;
    }
    void take_news() override {
        news = false;
        ++taken;
    }
    void before_sleep() override { ++slept; }
};

struct Timer final : Completion {
    int fired = 0;
    void on_complete(int) override { ++fired; }
};

EventLoop make_loop() {
    auto loop = EventLoop::create();
    BOOST_REQUIRE(loop.has_value());
    return std::move(*loop);
}

// Runs the loop once with a timer of `after` pending as the only completion.
void run_with_timer(EventLoop& loop, std::chrono::nanoseconds after, Timer& timer) {
    __kernel_timespec ts{0, after.count()};
    loop.timeout(ts, &timer);
    BOOST_REQUIRE(loop.run_once().has_value());
    while (loop.pending() != 0)
        BOOST_REQUIRE(loop.run_once().has_value());
}

}  // namespace

BOOST_AUTO_TEST_CASE(without_a_window_pollers_are_told_before_each_sleep_but_never_asked) {
    EventLoop loop = make_loop();
    CountingPoller poller;
    loop.add_poller(poller);
    Timer timer;
    run_with_timer(loop, 1ms, timer);
    BOOST_TEST(timer.fired == 1);
    BOOST_TEST(poller.looked == 0);
    BOOST_TEST(poller.slept >= 1);
    loop.remove_poller(poller);
}

BOOST_AUTO_TEST_CASE(news_found_while_polling_is_taken_without_sleeping) {
    EventLoop loop = make_loop();
    loop.set_poll_window(1ms);
    CountingPoller poller;
    loop.add_poller(poller);
    Timer timer;
    // Short waits grow the window (each ends well within 1 ms).
    for (int i = 0; i < 12; ++i)
        run_with_timer(loop, 20us, timer);
    BOOST_REQUIRE(loop.poll_window().current() > 0ns);
    // Work a peer leaves in memory: the loop takes it while polling and
    // returns without a completion and without telling the poller it sleeps.
    poller.news = true;
    const int slept = poller.slept;
    BOOST_REQUIRE(loop.run_once().has_value());
    BOOST_TEST(poller.taken == 1);
    BOOST_TEST(poller.slept == slept);
    loop.remove_poller(poller);
}

BOOST_AUTO_TEST_CASE(an_idle_loop_stops_polling) {
    EventLoop loop = make_loop();
    loop.set_poll_window(50us);
    CountingPoller poller;
    loop.add_poller(poller);
    Timer timer;
    for (int i = 0; i < 12; ++i)
        run_with_timer(loop, 10us, timer);
    // Nothing for a while: every wait is far longer than the largest window.
    for (int i = 0; i < 8; ++i)
        run_with_timer(loop, 5ms, timer);
    BOOST_TEST(loop.poll_window().current().count() == 0);
    const int looked = poller.looked;
    run_with_timer(loop, 5ms, timer);
    BOOST_TEST(poller.looked == looked);  // slept at once, looked at nothing
    loop.remove_poller(poller);
}

BOOST_AUTO_TEST_CASE(a_removed_poller_is_not_asked_or_told) {
    EventLoop loop = make_loop();
    loop.set_poll_window(1ms);
    CountingPoller poller;
    loop.add_poller(poller);
    loop.add_poller(poller);  // once only
    loop.remove_poller(poller);
    Timer timer;
    for (int i = 0; i < 5; ++i)
        run_with_timer(loop, 20us, timer);
    BOOST_TEST(poller.looked == 0);
    BOOST_TEST(poller.slept == 0);
}

}  // namespace xen9p::io::test
