// The worker's statistics line: the histogram's percentiles, and the strict
// parse the supervisor applies to what a (possibly compromised) worker sends.
#define BOOST_TEST_MODULE stats
#include <boost/test/unit_test.hpp>

#include "backend/stats/op_stats.hpp"
#include "backend/stats/stats_report.hpp"

namespace xen9p::stats::test {

using namespace std::chrono_literals;
using p9proto::MsgType;

BOOST_AUTO_TEST_CASE(percentiles_are_bucket_upper_bounds_and_max_is_exact) {
    OpStats ops;
    BOOST_TEST(ops.report(0, 0).p50_us == 0u);
    for (int i = 0; i < 98; ++i)
        ops.record(MsgType::Tgetattr, 5us, false);  // bucket [4, 8)
    ops.record(MsgType::Tread, 300us, false);       // [256, 512)
    ops.record(MsgType::Twalk, 1500us, true);       // [1024, 2048)
    const auto r = ops.report(3, 0);
    BOOST_TEST(r.requests == 100u);
    BOOST_TEST(r.errors == 1u);
    BOOST_TEST(r.open_fids == 3u);
    BOOST_TEST(r.p50_us == 8u);
    BOOST_TEST(r.p99_us == 512u);
    BOOST_TEST(r.max_us == 1500u);
    BOOST_TEST(r.ops.at("getattr") == 98u);
    BOOST_TEST(r.ops.at("walk") == 1u);
    BOOST_TEST(r.ops.size() == 3u);
}

BOOST_AUTO_TEST_CASE(undecodable_messages_count_as_requests_but_not_as_an_op) {
    OpStats ops;
    ops.record(MsgType::Tlerror, 1us, true);
    const auto r = ops.report(0, 0);
    BOOST_TEST(r.requests == 1u);
    BOOST_TEST(r.errors == 1u);
    BOOST_TEST(r.ops.empty());
}

BOOST_AUTO_TEST_CASE(a_watcher_is_told_of_the_next_request_once_and_can_be_forgotten) {
    struct Counting final : RequestWatcher {
        int told = 0;
        void on_request_done() override { ++told; }
    } watcher;
    OpStats ops;
    ops.watch_next(&watcher);
    ops.record(MsgType::Tgetattr, 1us, false);
    ops.record(MsgType::Tgetattr, 1us, false);
    BOOST_TEST(watcher.told == 1);
    ops.watch_next(&watcher);
    ops.watch_next(nullptr);
    ops.record(MsgType::Tgetattr, 1us, false);
    BOOST_TEST(watcher.told == 1);
}

BOOST_AUTO_TEST_CASE(a_report_survives_format_and_parse) {
    StatsReport r;
    r.open_fids = 4;
    r.requests = 1234567890123;
    r.errors = 2;
    r.max_in_flight = 31;
    r.bytes_read = 1 << 30;
    r.bytes_written = 77;
    r.p50_us = 16;
    r.p99_us = 1024;
    r.max_us = 5000;
    r.restarts = 2;
    r.last_signal = 9;
    r.ops = {{"walk", 10}, {"read", 1000}, {"lopen", 3}};
    const auto text = format_stats(r);
    BOOST_TEST(text ==
               "open_fids=4 requests=1234567890123 errors=2 max_in_flight=31 bytes_read=1073741824 "
               "bytes_written=77 p50_us=16 p99_us=1024 max_us=5000 restarts=2 last_signal=9 "
               "ops=lopen:3,read:1000,walk:10");
    BOOST_TEST((parse_stats(text) == r));
    BOOST_TEST((parse_stats(format_stats(StatsReport{})) == StatsReport{}));
}

BOOST_AUTO_TEST_CASE(anything_but_the_exact_format_is_refused) {
    const std::string good =
        "open_fids=1 requests=2 errors=0 max_in_flight=1 bytes_read=0 bytes_written=0 p50_us=1 "
        "p99_us=1 "
        "max_us=0 restarts=0 last_signal=0 ops=walk:2";
    BOOST_REQUIRE(parse_stats(good).has_value());
    for (const std::string& bad : std::vector<std::string>{
             std::string{},
             good + " ",
             good + ",",
             good + " extra=1",
             "requests=2 open_fids=1 errors=0 max_in_flight=1 bytes_read=0 bytes_written=0 "
             "p50_us=1 p99_us=1 "
             "max_us=0 restarts=0 last_signal=0 ops=walk:2",
             "open_fids=01 requests=2 errors=0 max_in_flight=1 bytes_read=0 bytes_written=0 "
             "p50_us=1 p99_us=1 "
             "max_us=0 restarts=0 last_signal=0 ops=walk:2",
             "open_fids=-1 requests=2 errors=0 max_in_flight=1 bytes_read=0 bytes_written=0 "
             "p50_us=1 p99_us=1 "
             "max_us=0 restarts=0 last_signal=0 ops=walk:2",
             "open_fids=18446744073709551616 requests=2 errors=0 max_in_flight=1 bytes_read=0 "
             "bytes_written=0 "
             "p50_us=1 p99_us=1 max_us=0 restarts=0 last_signal=0 ops=walk:2",
             "open_fids=1 requests=2 errors=0 max_in_flight=1 bytes_read=0 bytes_written=0 "
             "p50_us=1 p99_us=1 "
             "max_us=0 restarts=0 last_signal=0",
             "open_fids=1 requests=2 errors=0 max_in_flight=1 bytes_read=0 bytes_written=0 "
             "p50_us=1 p99_us=1 "
             "max_us=0 restarts=0 last_signal=0 ops=rm:2",
             "open_fids=1 requests=2 errors=0 max_in_flight=1 bytes_read=0 bytes_written=0 "
             "p50_us=1 p99_us=1 "
             "max_us=0 restarts=0 last_signal=0 ops=walk:2,walk:3",
             "open_fids=1 requests=2 errors=0 max_in_flight=1 bytes_read=0 bytes_written=0 "
             "p50_us=1 p99_us=1 "
             "max_us=0 restarts=0 last_signal=0 ops=walk:0",
             "open_fids=1 requests=2 errors=0 max_in_flight=1 bytes_read=0 bytes_written=0 "
             "p50_us=1 p99_us=1 "
             "max_us=0 restarts=0 last_signal=0 ops=walk:2\nstate=Connected",
         }) {
        BOOST_TEST(!parse_stats(bad).has_value(), bad);
    }
}

}  // namespace xen9p::stats::test
