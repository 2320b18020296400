// The event loop's polling: news a Poller finds in memory is taken without a
// completion and without sleeping, pollers are told before every sleep, and
// an idle loop stops polling. Deferred work runs once the batch that
// deferred it is handled, in the same round, never waiting.
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

// A loop with one CountingPoller and a timer to wait for.
struct PollingLoop {
    EventLoop loop;
    CountingPoller poller;
    Timer timer;

    explicit PollingLoop(std::chrono::nanoseconds window) : loop(make_loop()) {
        loop.set_poll_window(window);
        loop.add_poller(poller);
    }
    ~PollingLoop() { loop.remove_poller(poller); }

    static EventLoop make_loop() {
        auto made = EventLoop::create();
        BOOST_REQUIRE(made.has_value());
        return std::move(*made);
    }

    // Runs the loop until a timer of `after`, its only completion, fired.
    void wait(std::chrono::nanoseconds after) {
        __kernel_timespec ts{0, after.count()};
        loop.timeout(ts, &timer);
        while (loop.pending() != 0)
            BOOST_REQUIRE(loop.run_once().has_value());
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(without_a_window_pollers_are_told_before_each_sleep_but_never_asked) {
    PollingLoop p(0ns);
    p.wait(1ms);
    BOOST_TEST(p.timer.fired == 1);
    BOOST_TEST(p.poller.looked == 0);
    BOOST_TEST(p.poller.slept >= 1);
}

BOOST_AUTO_TEST_CASE(news_found_while_polling_is_taken_without_sleeping) {
    PollingLoop p(1ms);
    // Short waits grow the window (a wait of 20 us ends well within 1 ms,
    // unless the machine is very busy: then it takes a few more).
    for (int i = 0; i < 1000 && p.loop.poll_window().current() == 0ns; ++i)
        p.wait(20us);
    BOOST_REQUIRE(p.loop.poll_window().current() > 0ns);
    // Work a peer leaves in memory: the loop takes it while polling and
    // returns without a completion and without telling the poller it sleeps.
    p.poller.news = true;
    const int slept = p.poller.slept;
    BOOST_REQUIRE(p.loop.run_once().has_value());
    BOOST_TEST(p.poller.taken == 1);
    BOOST_TEST(p.poller.slept == slept);
}

BOOST_AUTO_TEST_CASE(an_idle_loop_stops_polling) {
    PollingLoop p(50us);
    for (int i = 0; i < 12; ++i)
        p.wait(10us);
    // Nothing for a while: every wait is far longer than the largest window.
    for (int i = 0; i < 8; ++i)
        p.wait(5ms);
    BOOST_TEST(p.loop.poll_window().current().count() == 0);
    const int looked = p.poller.looked;
    p.wait(5ms);
    BOOST_TEST(p.poller.looked == looked);  // slept at once, looked at nothing
}

BOOST_AUTO_TEST_CASE(a_removed_poller_is_not_asked_or_told) {
    PollingLoop p(1ms);
    p.loop.add_poller(p.poller);  // once only
    p.loop.remove_poller(p.poller);
    for (int i = 0; i < 5; ++i)
        p.wait(20us);
    BOOST_TEST(p.poller.looked == 0);
    BOOST_TEST(p.poller.slept == 0);
}

// A completion that defers `next` when it completes, and says in which round.
struct Deferring final : Completion {
    EventLoop* loop = nullptr;
    Completion* next = nullptr;
    int* round = nullptr;
    int ran_in = -1;
    void on_complete(int result) override {
        BOOST_TEST(result == 0);
        ran_in = *round;
        if (next != nullptr) loop->defer(next);
    }
};

BOOST_AUTO_TEST_CASE(deferred_work_runs_after_the_batch_that_deferred_it_in_the_same_round) {
    PollingLoop p(0ns);
    int round = 0;
    Deferring flush;
    flush.round = &round;
    // The timer's handler defers `flush`, as a transport defers publishing the
    // replies its handlers produced.
    struct DeferOnFire final : Completion {
        EventLoop* loop;
        Completion* work;
        int fired = 0;
        DeferOnFire(EventLoop* l, Completion* w) : loop(l), work(w) {}
        void on_complete(int) override {
            ++fired;
            loop->defer(work);
        }
    } timer(&p.loop, &flush);
    __kernel_timespec ts{0, 100'000};
    p.loop.timeout(ts, &timer);
    BOOST_REQUIRE(p.loop.run_once().has_value());
    BOOST_TEST(timer.fired == 1);
    BOOST_TEST(flush.ran_in == 0);
    BOOST_TEST(p.loop.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(work_deferred_outside_a_round_runs_at_the_next_without_sleeping) {
    PollingLoop p(0ns);
    int round = 0;
    Deferring second;
    second.round = &round;
    Deferring first;
    first.round = &round;
    first.loop = &p.loop;
    first.next = &second;
    p.loop.defer(&first);
    BOOST_TEST(p.loop.pending() == 1u);
    // Nothing else is pending: a loop that slept here would never wake.
    const int slept = p.poller.slept;
    BOOST_REQUIRE(p.loop.run_once().has_value());
    BOOST_TEST(first.ran_in == 0);
    // Deferred by deferred work: the next round, again without sleeping.
    BOOST_TEST(second.ran_in == -1);
    round = 1;
    BOOST_REQUIRE(p.loop.run_once().has_value());
    BOOST_TEST(second.ran_in == 1);
    BOOST_TEST(p.poller.slept == slept);
    BOOST_TEST(p.loop.pending() == 0u);
}

}  // namespace xen9p::io::test
