// The worker's statistics reports: a change goes out a second later; numbers
// that stopped moving put the reporter to sleep for the idle interval (so the
// supervisor of many idle guests is not woken each second per guest), after
// which it sends them again; a request done wakes it; a report the socket
// dropped is sent again.
#define BOOST_TEST_MODULE stats_reporter
#include "backend/worker/stats_reporter.hpp"

#include <sys/socket.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "backend/worker_channel/messages.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::worker::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr __kernel_timespec kInterval{.tv_sec = 0, .tv_nsec = 1'000'000};
constexpr __kernel_timespec kIdle{.tv_sec = 0, .tv_nsec = 40'000'000};
constexpr __kernel_timespec kHour{.tv_sec = 3600, .tv_nsec = 0};

// The server's side: numbers the test sets, and the watcher the reporter left.
struct FakeServer final : stats::StatsSource {
    stats::StatsReport numbers;
    stats::RequestWatcher* watcher = nullptr;

    stats::StatsReport report() const override { return numbers; }
    void watch_next_request(stats::RequestWatcher* w) override { watcher = w; }
    // A request done, as OpStats::record tells it.
    void request_done() {
        ++numbers.requests;
        if (watcher != nullptr) std::exchange(watcher, nullptr)->on_request_done();
    }
};

struct Reporting {
    io::EventLoop loop = make_loop();
    UniqueFd supervisor;
    UniqueFd worker;
    FakeServer server;
    StatsReporter reporter;

    explicit Reporting(__kernel_timespec idle = kIdle)
        : reporter(loop, server, open_channel(), 2, 9, kInterval, idle) {}

    static io::EventLoop make_loop() {
        auto made = io::EventLoop::create();
        BOOST_REQUIRE(made.has_value());
        return std::move(*made);
    }
    int open_channel() {
        int pair[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
        supervisor = UniqueFd(pair[0]);
        worker = UniqueFd(pair[1]);
        return worker.get();
    }
    // One wake-up: the reporter's timer is the loop's only operation.
    void next_wakeup() { BOOST_REQUIRE(loop.run_once().has_value()); }
    // The reports queued on the supervisor's side, parsed (a failed parse fails).
    std::vector<stats::StatsReport> received() {
        std::vector<stats::StatsReport> reports;
        std::string buf(worker_channel::kMaxWorkerMessageSize, '\0');
        for (;;) {
            const ssize_t n = ::recv(supervisor.get(), buf.data(), buf.size(), MSG_DONTWAIT);
            if (n < 0) break;
            auto parsed = worker_channel::parse_stats_message(
                std::string_view(buf.data(), static_cast<std::size_t>(n)));
            BOOST_REQUIRE(parsed.has_value());
            reports.push_back(*parsed);
        }
        return reports;
    }
};

BOOST_AUTO_TEST_CASE(idle_numbers_are_sent_at_start_then_again_after_the_idle_interval) {
    Reporting r;
    r.server.numbers.requests = 5;
    r.reporter.start();
    auto first = r.received();
    BOOST_REQUIRE_EQUAL(first.size(), 1u);
    BOOST_TEST(first[0].requests == 5u);
    BOOST_TEST(first[0].restarts == 2u);
    BOOST_TEST(first[0].last_signal == 9u);
    r.next_wakeup();  // a second on: nothing moved, so nothing sent; asleep now
    BOOST_TEST(r.received().empty());
    BOOST_TEST(r.server.watcher != nullptr);
    const auto asleep = Clock::now();
    r.next_wakeup();  // the idle interval on: the same numbers again
    BOOST_TEST((Clock::now() - asleep >= std::chrono::milliseconds(40)));
    auto again = r.received();
    BOOST_REQUIRE_EQUAL(again.size(), 1u);
    BOOST_TEST(again[0].requests == 5u);
}

BOOST_AUTO_TEST_CASE(a_change_is_sent_at_the_next_wakeup_and_only_once) {
    Reporting r;
    r.reporter.start();
    BOOST_TEST(r.received().size() == 1u);
    r.server.numbers.requests = 1;
    r.server.numbers.ops = {{"walk", 1}};
    r.next_wakeup();
    auto changed = r.received();
    BOOST_REQUIRE_EQUAL(changed.size(), 1u);
    BOOST_TEST(changed[0].requests == 1u);
    BOOST_TEST(changed[0].ops.at("walk") == 1u);
    r.next_wakeup();
    BOOST_TEST(r.received().empty());
}

BOOST_AUTO_TEST_CASE(a_request_wakes_a_sleeping_reporter_which_reports_a_second_later) {
    Reporting r(kHour);
    r.reporter.start();
    r.next_wakeup();  // asleep for an hour
    BOOST_TEST(r.received().size() == 1u);
    BOOST_REQUIRE(r.server.watcher != nullptr);
    const auto woken = Clock::now();
    r.server.request_done();
    r.next_wakeup();  // the hour's timer cancelled
    r.next_wakeup();  // a second (here 1 ms) after the request
    BOOST_TEST((Clock::now() - woken < std::chrono::minutes(1)));
    auto reports = r.received();
    BOOST_REQUIRE_EQUAL(reports.size(), 1u);
    BOOST_TEST(reports[0].requests == 1u);
}

BOOST_AUTO_TEST_CASE(a_report_the_full_socket_dropped_is_sent_at_the_next_wakeup) {
    Reporting r;
    while (worker_channel::report_stats(r.worker.get(), stats::StatsReport{})) {
    }
    r.server.numbers.requests = 7;
    r.reporter.start();  // dropped: the socket is full
    r.received();        // drained, the fillers with it
    r.next_wakeup();
    auto resent = r.received();
    BOOST_REQUIRE_EQUAL(resent.size(), 1u);
    BOOST_TEST(resent[0].requests == 7u);
}

BOOST_AUTO_TEST_CASE(a_reporter_gone_leaves_no_watcher_behind) {
    FakeServer server;
    auto loop = Reporting::make_loop();
    int pair[2];
    BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
    UniqueFd supervisor(pair[0]);
    UniqueFd worker(pair[1]);
    {
        StatsReporter reporter(loop, server, worker.get(), 0, 0, kInterval, kIdle);
        reporter.start();
        BOOST_REQUIRE(loop.run_once().has_value());  // asleep, watching
        BOOST_REQUIRE(server.watcher != nullptr);
    }
    // The server outlives it: its next request must not call into it.
    BOOST_TEST(server.watcher == nullptr);
}

}  // namespace
}  // namespace xen9p::worker::test
