// A device's server killed on the simulated Xen: the worker (its keeper)
// replaces it and the guest's session goes on (fids, open files, locks,
// requests still waiting in the ring or in flight: exactly_once_test.cpp
// kills it at every point of a request); servers that keep dying end their
// device and only it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <thread>

#include "frontend/frontend.hpp"
#include "tests/daemon_sim/daemon_fixture.hpp"

namespace xen9p::test {

BOOST_FIXTURE_TEST_SUITE(server_restart, DaemonFixture)

BOOST_AUTO_TEST_CASE(an_idle_server_killed_is_replaced_and_the_guest_sees_nothing) {
    const auto share = add_guest(1);
    auto c = mount(1, std::chrono::seconds(5));
    write_file(*c, "kept", "before");
    open_and_lock(*c, 20, "kept");
    BOOST_REQUIRE(locked_elsewhere(share / "kept"));
    const auto worker_pid = wait_worker(1);
    const auto first = wait_server(1);
    BOOST_REQUIRE(worker_pid);
    BOOST_REQUIRE(first);

    BOOST_REQUIRE(::kill(*first, SIGKILL) == 0);
    const auto second = wait_server(1, first);
    BOOST_REQUIRE(second);
    BOOST_TEST(*second != *first);

    // The open fid writes on, fid 0 walks on, the lock never went away.
    const std::string more = "+after";
    must(client::write_all(*c, 20, 6, std::as_bytes(std::span(more))));
    BOOST_TEST(must(read_file(*c, "kept")) == "before+after");
    BOOST_TEST(locked_elsewhere(share / "kept"));
    auto unlocked = must(
        c->call(p9proto::Tlock{20, p9proto::lock::kUnlock, 0, 0, 0, 42, p9proto::Text{"guest"}}));
    BOOST_TEST(must(client::expect<p9proto::Rlock>(unlocked))->status ==
               p9proto::lock::kStatusSuccess);
    BOOST_TEST(!locked_elsewhere(share / "kept"));
    must(client::clunk(*c, 20));

    BOOST_TEST(backend_state(1).value_or("") == "4");
    BOOST_TEST((worker(1) == worker_pid));
    BOOST_TEST(simxen::wait_until([&] {
        auto status = sim->daemon_status();
        return status && status->find(" restarts=1 last_signal=9 ") != std::string::npos;
    }));
    BOOST_TEST(daemon_log().find("server replaced; session carried over") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(xattr_fids_open_at_the_death_go_on_with_their_values) {
    const auto share = add_guest(1);
    auto c = mount(1, std::chrono::seconds(5));
    write_file(*c, "f", "data");
    std::string_view f[] = {"f"};
    using p9proto::XattrName;
    // Fid 20 sets user.k in two writes, fid 22 reads user.old, the death
    // comes between.
    ::setxattr((share / "f").c_str(), "user.old", "before", 6, 0);
    must(client::walk(*c, 0, 20, f));
    must(client::expect<p9proto::Rxattrcreate>(
        must(c->call(p9proto::Txattrcreate{20, XattrName{"user.k"}, 5, 0}))));
    const std::string first = "va", rest = "lue";
    must(client::write_all(*c, 20, 0, std::as_bytes(std::span(first))));
    must(client::walk(*c, 0, 21, f));
    auto walked = must(c->call(p9proto::Txattrwalk{21, 22, XattrName{"user.old"}}));
    BOOST_TEST(must(client::expect<p9proto::Rxattrwalk>(walked))->size == 6u);
    const auto server = wait_server(1);
    BOOST_REQUIRE(server);
    BOOST_REQUIRE(::kill(*server, SIGKILL) == 0);
    BOOST_REQUIRE(wait_server(1, server));

    must(client::write_all(*c, 20, 2, std::as_bytes(std::span(rest))));
    must(client::clunk(*c, 20));
    char value[16] = {};
    BOOST_TEST(::getxattr((share / "f").c_str(), "user.k", value, sizeof value) == 5);
    BOOST_TEST(std::string(value, 5) == "value");
    const auto data = must(client::read_all(*c, 22));
    BOOST_TEST(std::string(reinterpret_cast<const char*>(data.data()), data.size()) == "before");
    must(client::clunk(*c, 22));
    BOOST_TEST(backend_state(1).value_or("") == "4");
    BOOST_TEST(daemon_log().find("server replaced; session carried over") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(requests_waiting_in_the_ring_at_the_death_are_answered_by_the_next) {
    add_guest(1);
    auto c = mount(1, std::chrono::seconds(5));
    write_file(*c, "f", "waited for");
    const auto first = wait_server(1);
    BOOST_REQUIRE(first);
    // Stopped, it takes nothing from the ring: the requests wait there.
    BOOST_REQUIRE(::kill(*first, SIGSTOP) == 0);
    using p9proto::WalkName;
    const auto walk = must(c->send(p9proto::Twalk{0, 30, {{WalkName{"f"}}, 1}}));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    BOOST_REQUIRE(::kill(*first, SIGKILL) == 0);

    must(client::expect<p9proto::Rwalk>(must(c->await(walk))));
    must(client::lopen(*c, 30, p9proto::dotl::kRdonly));
    const auto data = must(client::read_all(*c, 30));
    BOOST_TEST(std::string(reinterpret_cast<const char*>(data.data()), data.size()) ==
               "waited for");
    BOOST_TEST(backend_state(1).value_or("") == "4");
}

BOOST_AUTO_TEST_CASE(reads_in_flight_at_the_death_are_each_answered_once) {
    add_guest(1);
    auto c = mount(1, std::chrono::seconds(2));
    // More replies than the ring holds, none consumed: the server keeps the
    // rest, so requests are in flight when it dies.
    const auto tags = send_reads(*c, 128, 32768);
    const auto server = wait_server(1);
    BOOST_REQUIRE(server);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    BOOST_REQUIRE(::kill(*server, SIGKILL) == 0);

    auto& frontend = dynamic_cast<frontend::Frontend&>(c->transport());
    frontend.bound_reply_waits(std::chrono::seconds(20));
    std::size_t answered = 0;
    for (const auto tag : tags) {
        auto reply = c->await(tag);
        BOOST_REQUIRE_MESSAGE(reply, reply.error().message());
        const auto* read = must(client::expect<p9proto::Rread>(*reply));
        BOOST_TEST(read->data.bytes.size() == 32768u);
        BOOST_TEST((std::ranges::all_of(read->data.bytes,
                                        [](std::byte b) { return b == std::byte{'v'}; })));
        ++answered;
    }
    BOOST_TEST(answered == 128u);
    BOOST_TEST(frontend.skipped_replies() == 0u);
    BOOST_TEST(simxen::wait_until([&] {
        return daemon_log().find("server replaced; session carried over") != std::string::npos;
    }));
}

BOOST_AUTO_TEST_CASE(servers_that_keep_dying_close_their_device_and_only_it) {
    add_guest(1);
    add_guest(2);
    auto c = mount(1, std::chrono::seconds(5));
    auto other = mount(2);
    auto server = wait_server(1);
    for (int death = 1; death <= 5; ++death) {
        BOOST_REQUIRE(server);
        UniqueFd dying(static_cast<int>(::syscall(SYS_pidfd_open, *server, 0)));
        BOOST_REQUIRE(dying);
        BOOST_REQUIRE(::kill(*server, SIGKILL) == 0);
        const auto killed = std::chrono::steady_clock::now();
        // Sent once it is dead (a request it took while dying would be in
        // flight), answered by the next server: the pause the guest sees.
        pollfd gone{dying.get(), POLLIN, 0};
        BOOST_REQUIRE(::poll(&gone, 1, 10000) == 1);
        must(client::expect<p9proto::Rgetattr>(
            must(c->call(p9proto::Tgetattr{0, p9proto::getattr::kAll}))));
        const std::chrono::duration<double, std::milli> pause =
            std::chrono::steady_clock::now() - killed;
        BOOST_TEST_MESSAGE("pause after death " << death << ": " << pause.count() << " ms");
        server = wait_server(1, server);
    }
    BOOST_REQUIRE(server);
    write_file(*c, "still", "served after five restarts");
    BOOST_REQUIRE(::kill(*server, SIGKILL) == 0);

    expect_only_device_lost(1, "its servers died more than 5 times within 60 s", *other);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
