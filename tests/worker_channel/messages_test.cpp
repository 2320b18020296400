// The bytes on a worker's control socket, as both sides send and read them.
// A supervisor and a worker are always the same binary, but these bytes are
// what a compromised worker gets to shape: they change only on purpose.
#define BOOST_TEST_MODULE worker_channel
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "backend/worker_channel/messages.hpp"
#include "base/unique_fd.hpp"
#include "tests/worker_channel/sample_params.hpp"

using namespace xen9p;
using namespace xen9p::worker_channel;
using xen9p::worker_channel::test::sample_params;

namespace {

// Two ends of a fresh control socket, as the supervisor makes it.
struct Channel {
    UniqueFd supervisor;
    UniqueFd worker;

    Channel() {
        int pair[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0);
        supervisor = UniqueFd(pair[0]);
        worker = UniqueFd(pair[1]);
    }
};

// The next datagram on `fd`, or "" if none is queued.
std::string next_datagram(int fd) {
    std::string buf(kMaxParamsSize, '\0');
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) return {};
    buf.resize(static_cast<std::size_t>(n));
    return buf;
}

}  // namespace

BOOST_AUTO_TEST_CASE(parameters_travel_as_one_datagram_of_key_value_lines) {
    Channel c;
    BOOST_REQUIRE(send_params(c.supervisor.get(), sample_params()).has_value());
    BOOST_TEST(next_datagram(c.worker.get()) ==
               "kind=xen_9pfs\ndomid=7\ndevid=3\ntag=share0\npath=/srv/export\n"
               "security_model=mapped-xattr\nread_only=1\nmax_files=100\nmax_open_files=5\n"
               "max_space_mib=64\nauto_delete=1\nmax_memory_mib=48\nmax_ring_order=9\n"
               "num_rings=2\nring_ref0=8\nevent_channel0=12\nring_ref1=521\nevent_channel1=13\n"
               "uid=131079\ngid=131072\nplatform=sim:/tmp/sim\npoll_window_us=120\n");
}

BOOST_AUTO_TEST_CASE(the_worker_receives_the_parameters_the_supervisor_sent) {
    Channel c;
    BOOST_REQUIRE(send_params(c.supervisor.get(), sample_params()).has_value());
    auto received = receive_params(c.worker.get());
    BOOST_REQUIRE(received.has_value());
    BOOST_TEST((*received == sample_params()));
}

BOOST_AUTO_TEST_CASE(parameters_too_long_for_one_datagram_are_not_sent) {
    Channel c;
    auto params = sample_params();
    params.tag.assign(kMaxParamsSize, 'x');
    auto sent = send_params(c.supervisor.get(), params);
    BOOST_REQUIRE(!sent.has_value());
    BOOST_TEST(sent.error().value == E2BIG);
    BOOST_TEST(next_datagram(c.worker.get()).empty());
}

BOOST_AUTO_TEST_CASE(a_supervisor_gone_before_sending_is_a_reset) {
    Channel c;
    c.supervisor.reset();
    auto received = receive_params(c.worker.get());
    BOOST_REQUIRE(!received.has_value());
    BOOST_TEST(received.error().value == ECONNRESET);
}

BOOST_AUTO_TEST_CASE(ready_is_the_five_bytes_ready_and_nothing_else) {
    Channel c;
    BOOST_REQUIRE(report_ready(c.worker.get()).has_value());
    const auto message = next_datagram(c.supervisor.get());
    BOOST_TEST(message == "ready");
    BOOST_TEST(is_ready_message(message));
    BOOST_TEST(!is_ready_message("ready\n"));
    BOOST_TEST(!is_ready_message("read"));
    BOOST_TEST(!parse_stats_message(message).has_value());
}

BOOST_AUTO_TEST_CASE(statistics_are_stats_and_a_space_before_the_formatted_report) {
    Channel c;
    stats::StatsReport report;
    report.open_fids = 2;
    report.requests = 9;
    report.ops = {{"walk", 3}};
    BOOST_TEST(report_stats(c.worker.get(), report));
    const auto message = next_datagram(c.supervisor.get());
    BOOST_TEST(message == "stats " + stats::format_stats(report));
    auto parsed = parse_stats_message(message);
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST((*parsed == report));
    BOOST_TEST(!is_ready_message(message));
}

BOOST_AUTO_TEST_CASE(statistics_without_the_prefix_or_with_junk_are_dropped) {
    const auto text = stats::format_stats(stats::StatsReport{});
    BOOST_TEST(parse_stats_message("stats " + text).has_value());
    BOOST_TEST(!parse_stats_message(text).has_value());
    BOOST_TEST(!parse_stats_message("stats  " + text).has_value());
    BOOST_TEST(!parse_stats_message("stats " + text + " extra=1").has_value());
    BOOST_TEST(!parse_stats_message("stats").has_value());
}

BOOST_AUTO_TEST_CASE(a_full_socket_loses_a_report_without_blocking_the_worker) {
    Channel c;
    int sent = 0;
    int accepted = 0;
    // Far more than the socket holds; each call must return at once, saying
    // whether the report was queued.
    for (; sent < 10000; ++sent)
        accepted += report_stats(c.worker.get(), stats::StatsReport{}) ? 1 : 0;
    int queued = 0;
    while (!next_datagram(c.supervisor.get()).empty())
        ++queued;
    BOOST_TEST(queued > 0);
    BOOST_TEST(queued < sent);
    BOOST_TEST(queued == accepted);
}
