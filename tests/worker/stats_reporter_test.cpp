// The worker's statistics reports: a change goes out at the next interval, an
// idle server's unchanged numbers only every kResendUnchanged intervals (so
// the supervisor of many idle guests is not woken each second per guest), and
// a report the socket dropped is sent again.
#define BOOST_TEST_MODULE stats_reporter
#include "backend/worker/stats_reporter.hpp"

#include <sys/socket.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "backend/worker_channel/messages.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::worker::test {
namespace {

constexpr __kernel_timespec kInterval{.tv_sec = 0, .tv_nsec = 1'000'000};

struct Reporting {
    io::EventLoop loop = make_loop();
    UniqueFd supervisor;
    UniqueFd worker;
    stats::StatsReport numbers;
    StatsReporter reporter{loop, [this] { return numbers; }, open_channel(), 2, 9, kInterval};

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
    // One interval: the timer is the loop's only completion.
    void next_interval() { BOOST_REQUIRE(loop.run_once().has_value()); }
    // The reports queued on the supervisor's side, parsed (a failed parse fails).
    std::vector<stats::StatsReport> received() {
        std::vector<stats::StatsReport> reports;
        std::string buf(worker_channel::kMaxWorkerMessageSize, '\0');
        for (;;) {
            const ssize_t n = ::recv(supervisor.get(), buf.data(), buf.size(), MSG_DONTWAIT);
            if (n < 0) break;
            auto parsed =
                worker_channel::parse_stats_message(std::string_view(buf.data(), std::size_t(n)));
            BOOST_REQUIRE(parsed.has_value());
            reports.push_back(*parsed);
        }
        return reports;
    }
};

BOOST_AUTO_TEST_CASE(an_idle_server_is_reported_at_start_then_only_every_resend_interval) {
    Reporting r;
    r.numbers.requests = 5;
    r.reporter.start();
    auto first = r.received();
    BOOST_REQUIRE_EQUAL(first.size(), 1u);
    BOOST_TEST(first[0].requests == 5u);
    BOOST_TEST(first[0].restarts == 2u);
    BOOST_TEST(first[0].last_signal == 9u);
    for (unsigned i = 1; i < StatsReporter::kResendUnchanged; ++i)
        r.next_interval();
    BOOST_TEST(r.received().empty());
    r.next_interval();
    auto again = r.received();
    BOOST_REQUIRE_EQUAL(again.size(), 1u);
    BOOST_TEST(again[0].requests == 5u);
}

BOOST_AUTO_TEST_CASE(a_change_is_reported_at_the_next_interval) {
    Reporting r;
    r.reporter.start();
    BOOST_TEST(r.received().size() == 1u);
    r.numbers.requests = 1;
    r.numbers.ops = {{"walk", 1}};
    r.next_interval();
    auto changed = r.received();
    BOOST_REQUIRE_EQUAL(changed.size(), 1u);
    BOOST_TEST(changed[0].requests == 1u);
    BOOST_TEST(changed[0].ops.at("walk") == 1u);
    r.next_interval();
    BOOST_TEST(r.received().empty());
}

BOOST_AUTO_TEST_CASE(a_report_the_full_socket_dropped_is_sent_at_the_next_interval) {
    Reporting r;
    while (worker_channel::report_stats(r.worker.get(), stats::StatsReport{})) {
    }
    r.numbers.requests = 7;
    r.reporter.start();  // dropped: the socket is full
    r.received();        // drained, the fillers with it
    r.next_interval();
    auto resent = r.received();
    BOOST_REQUIRE_EQUAL(resent.size(), 1u);
    BOOST_TEST(resent[0].requests == 7u);
}

}  // namespace
}  // namespace xen9p::worker::test
