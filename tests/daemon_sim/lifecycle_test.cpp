// The device lifecycle through xen9pd on the simulated Xen: connect, use,
// disconnect, reconnect, toolstack removal, domain destruction with requests
// in flight, a worker killed mid-request.
#define BOOST_TEST_MODULE daemon_sim
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <sstream>
#include <string_view>
#include <vector>

#include "tests/daemon_sim/daemon_fixture.hpp"

namespace xen9p::test {

BOOST_FIXTURE_TEST_SUITE(lifecycle, DaemonFixture)

BOOST_AUTO_TEST_CASE(guest_disconnects_and_reconnects_to_a_fresh_worker) {
    const auto share = add_guest(1);
    auto c = mount(1);
    write_file(*c, "kept", "survives the reconnect");
    const auto first = wait_worker(1);
    BOOST_REQUIRE(first);
    BOOST_TEST(backend_state(1).value_or("") == "4");

    c.reset();  // the frontend closes, as on unmount and module unload
    BOOST_TEST(wait_backend_state(1, {"6"}));
    BOOST_TEST(process_gone(*first));

    c = mount(1);
    const auto second = wait_worker(1);
    BOOST_REQUIRE(second);
    BOOST_TEST(*second != *first);
    BOOST_TEST(must(read_file(*c, "kept")) == "survives the reconnect");
    BOOST_TEST(std::filesystem::file_size(share / "kept") == 22u);
}

// xenstore watches report a node's value when it is read, so the backend can
// see a frontend that closed and started over at once go from Closing straight
// to Initialising; it must still close and offer the device again.
BOOST_AUTO_TEST_CASE(frontend_seen_starting_over_while_closing_gets_the_device_again) {
    add_guest(1);
    auto c = mount(1, std::chrono::seconds(2));
    const auto first = wait_worker(1);
    BOOST_REQUIRE(first);
    const std::string frontend_state = "/local/domain/1/device/9pfs/0/state";
    must(sim->xs().write(frontend_state, "5"));
    BOOST_REQUIRE(wait_backend_state(1, {"5"}));
    must(sim->xs().write(frontend_state, "1"));
    BOOST_TEST(wait_backend_state(1, {"2"}));
    BOOST_TEST(process_gone(*first));
}

BOOST_AUTO_TEST_CASE(toolstack_removal_is_answered_with_closed_and_forgotten) {
    add_guest(1);
    auto c = mount(1);
    const auto pid = wait_worker(1);
    BOOST_REQUIRE(pid);
    // libxl's removal: online=0, state=5, wait for 6 (the toolstack returns
    // ETIMEDOUT if the backend does not answer within its 10 s).
    auto removed = sim->toolstack().remove_9pfs(1, 0);
    BOOST_TEST(removed.has_value());
    BOOST_TEST(process_gone(*pid));
    BOOST_TEST(simxen::wait_until([&] {
        auto status = sim->daemon_status();
        return status && status->find("domid=1 ") == std::string::npos;
    }));
}

BOOST_AUTO_TEST_CASE(domain_destroyed_with_requests_in_flight_stops_only_its_worker) {
    add_guest(1);
    add_guest(2);
    auto doomed = mount(1, std::chrono::seconds(2));
    auto other = mount(2);
    write_file(*doomed, "big", std::string(1 << 20, 'x'));
    const auto pid = wait_worker(1);
    BOOST_REQUIRE(pid);
    std::string_view big[] = {"big"};
    must(client::walk(*doomed, 0, 20, big));
    must(client::lopen(*doomed, 20, p9proto::dotl::kRdonly));
    for (std::uint64_t i = 0; i < 32; ++i)
        must(doomed->send(p9proto::Tread{20, i * 32768, 32768}));

    must(sim->toolstack().destroy_domain(1, std::chrono::seconds(10)));
    BOOST_TEST(process_gone(*pid));
    BOOST_TEST(simxen::wait_until([&] {
        auto status = sim->daemon_status();
        return status && status->find("domid=1 ") == std::string::npos;
    }));
    write_file(*other, "after", "still served");
    BOOST_TEST(must(read_file(*other, "after")) == "still served");
    BOOST_TEST(!sim->daemon()->poll_exit().has_value());
}

BOOST_AUTO_TEST_CASE(worker_killed_mid_request_closes_only_its_device) {
    add_guest(1);
    add_guest(2);
    auto victim = mount(1, std::chrono::seconds(2));
    auto other = mount(2);
    send_reads(*victim, 16, 16384);
    const auto pid = wait_worker(1);
    BOOST_REQUIRE(pid);
    BOOST_REQUIRE(::kill(*pid, SIGKILL) == 0);

    expect_only_device_lost(1, "worker ended", *other);
    const auto other_pid = worker(2);
    BOOST_TEST(other_pid.has_value());
}

BOOST_AUTO_TEST_CASE(status_shows_what_each_worker_did) {
    add_guest(1);
    add_guest(2);
    auto c1 = mount(1);
    auto c2 = mount(2);
    write_file(*c1, "a", std::string(5000, 'a'));
    BOOST_TEST(must(read_file(*c1, "a")).size() == 5000u);
    (void)read_file(*c2, "missing");
    // Workers report once a second; wait for the reports covering the work.
    std::string status;
    BOOST_TEST(simxen::wait_until([&] {
        status = must(sim->daemon_status());
        return status.find("bytes_written=5000 ") != std::string::npos &&
               status.find(" errors=1 ") != std::string::npos;
    }));
    std::istringstream lines(status);
    std::string line1, line2;
    std::getline(lines, line1);
    std::getline(lines, line2);
    BOOST_TEST_INFO(status);
    BOOST_TEST(line1.find("domid=1 ") != std::string::npos);
    BOOST_TEST(line1.find(" bytes_read=5000 bytes_written=5000 ") != std::string::npos);
    BOOST_TEST(line1.find(" errors=0 ") != std::string::npos);
    BOOST_TEST(line1.find(" open_fids=1 ") != std::string::npos);  // fid 0, the root
    BOOST_TEST(line1.find("lcreate:1") != std::string::npos);
    BOOST_TEST(line2.find("domid=2 ") != std::string::npos);
    BOOST_TEST(line2.find(" errors=1 ") != std::string::npos);
    BOOST_TEST(line2.find(" bytes_read=0 bytes_written=0 ") != std::string::npos);
    BOOST_TEST(line2.find("walk:1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(one_ring_carries_many_requests_in_flight) {
    add_guest(1);
    auto c = mount(1);
    write_file(*c, "big", std::string(4 << 20, 'r'));
    std::string_view big[] = {"big"};
    must(client::walk(*c, 0, 20, big));
    must(client::lopen(*c, 20, p9proto::dotl::kRdonly));
    constexpr std::uint32_t kReads = 64;
    std::vector<std::uint16_t> tags;
    for (std::uint64_t i = 0; i < kReads; ++i)
        tags.push_back(must(c->send(p9proto::Tread{20, i * 65536, 65536})));
    for (auto tag : tags) {
        auto reply = must(c->await(tag));
        BOOST_TEST(must(client::expect<p9proto::Rread>(reply))->data.bytes.size() == 65536u);
    }
    std::string status;
    BOOST_TEST(simxen::wait_until([&] {
        status = must(sim->daemon_status());
        return status.find(" requests=0 ") == std::string::npos &&
               status.find("read:64") != std::string::npos;
    }));
    const auto at = status.find(" max_in_flight=");
    BOOST_REQUIRE(at != std::string::npos);
    const auto in_flight = std::stoul(status.substr(at + 15));
    BOOST_TEST_MESSAGE("most requests in flight over one ring: " << in_flight);
    BOOST_TEST(in_flight > 1u);
}

// A Twrite's data stays in the ring until the write is answered, and the
// worker writes it from there: writes that straddle the ring's wrap, many in
// flight on both rings, land whole and where they were asked to.
BOOST_AUTO_TEST_CASE(writes_in_flight_across_the_ring_wrap_land_whole) {
    const auto share = add_guest(1);
    auto c = mount(1);
    must(client::walk(*c, 0, 20, {}));
    must(client::expect<p9proto::Rlcreate>(
        must(c->call(p9proto::Tlcreate{20, {"w"}, p9proto::dotl::kRdwr, 0644, 0}))));
    constexpr std::size_t kChunk = 100003;  // odd, so the ring wraps mid-message
    constexpr std::size_t kWrites = 48;     // about 2.3 times both rings' out halves
    std::string expected(kChunk * kWrites, '\0');
    for (std::size_t i = 0; i < expected.size(); ++i)
        expected[i] = static_cast<char>((i / kChunk) * 37 + i % 251);
    std::vector<std::uint16_t> tags;
    for (std::size_t i = 0; i < kWrites; ++i) {
        const auto piece = std::as_bytes(std::span(expected).subspan(i * kChunk, kChunk));
        tags.push_back(must(c->send(p9proto::Twrite{20, i * kChunk, {piece}})));
    }
    for (auto tag : tags)
        BOOST_TEST(must(client::expect<p9proto::Rwrite>(must(c->await(tag))))->count == kChunk);
    must(client::clunk(*c, 20));
    std::ifstream in(share / "w", std::ios::binary);
    const std::string written{std::istreambuf_iterator<char>(in), {}};
    BOOST_TEST(written.size() == expected.size());
    BOOST_TEST((written == expected));
}

// A Tread's data is read straight into its reply's room in the ring, and a
// reply shorter than its room has the replies behind it moved up: many reads
// in flight across the ring's wrap, whole, short at the end of the file,
// empty past it or failing, with other replies between them, all arrive
// whole and in their own bytes.
BOOST_AUTO_TEST_CASE(reads_in_flight_whole_short_and_failing_arrive_intact) {
    const auto share = add_guest(1);
    constexpr std::size_t kChunk = 100003;  // odd, so the ring wraps mid-reply
    constexpr std::size_t kSize = kChunk * 7 + 777;
    std::string contents(kSize, '\0');
    for (std::size_t i = 0; i < contents.size(); ++i)
        contents[i] = static_cast<char>((i / kChunk) * 37 + i % 251);
    std::ofstream(share / "r", std::ios::binary) << contents;
    // Made by root here; the worker serves as the export's owner.
    std::filesystem::permissions(share / "r", std::filesystem::perms::all);
    auto c = mount(1);
    std::string_view r[] = {"r"};
    must(client::walk(*c, 0, 20, r));
    must(client::lopen(*c, 20, p9proto::dotl::kRdonly));
    must(client::walk(*c, 0, 21, r));
    must(client::lopen(*c, 21, p9proto::dotl::kWronly));
    struct Sent {
        std::uint16_t tag;
        enum { kRead, kGetattr, kWriteOnly } kind;
        std::uint64_t offset;
    };
    for (int round = 0; round < 4; ++round) {
        std::vector<Sent> sent;
        for (std::uint64_t i = 0; i < 10; ++i) {
            sent.push_back(
                {must(c->send(p9proto::Tread{20, i * kChunk, kChunk})), Sent::kRead, i * kChunk});
            sent.push_back({must(c->send(p9proto::Tgetattr{20, p9proto::getattr::kBasic})),
                            Sent::kGetattr, 0});
            if (i % 4 == 1)
                sent.push_back({must(c->send(p9proto::Tread{21, 0, kChunk})), Sent::kWriteOnly, 0});
        }
        for (const auto& s : sent) {
            const auto reply = must(c->await(s.tag));
            if (s.kind == Sent::kGetattr) {
                BOOST_TEST(must(client::expect<p9proto::Rgetattr>(reply))->size == kSize);
            } else if (s.kind == Sent::kWriteOnly) {
                BOOST_TEST(client::expect<p9proto::Rread>(reply).error().value == EBADF);
            } else {
                const auto data = must(client::expect<p9proto::Rread>(reply))->data.bytes;
                const auto expected =
                    s.offset < kSize ? std::string_view(contents).substr(s.offset, kChunk) : "";
                BOOST_TEST(std::string_view(reinterpret_cast<const char*>(data.data()),
                                            data.size()) == expected);
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
