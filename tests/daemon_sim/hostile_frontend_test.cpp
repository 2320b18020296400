// Frontends that write keys Linux never would: each device is refused or
// closed with a logged reason, the daemon carries on, and another guest is
// still served afterwards.
#include <boost/test/unit_test.hpp>
#include <cstring>

#include "frontend/frontend.hpp"
#include "tests/daemon_sim/daemon_fixture.hpp"
#include "xenring/platform/platform.hpp"
#include "xenring/ring/data_intf.hpp"

namespace xen9p::test {
namespace {

// A guest that drives the xenbus handshake by hand: its own xenstore
// connection, shareable pages and event channels, and whatever keys a test
// chooses to write.
struct RawFrontend {
    RawFrontend(simxen::SimXen& sim, DomId domid, std::size_t pages = 8)
        : xs(must(xenstore::Xenstore::open_socket(
              frontend::sim_xenstore_socket(sim.dir().string(), domid)))),
          path("/local/domain/" + std::to_string(domid) + "/device/9pfs/0") {
        const std::string spec = "sim:" + sim.dir().string();
        auto sharer_opened = sim::open_grant_sharer(spec, domid, pages);
        BOOST_REQUIRE(sharer_opened.has_value());
        sharer = std::move(*sharer_opened);
        auto events_opened = platform::open_event_channel(spec, domid);
        BOOST_REQUIRE(events_opened.has_value());
        events = std::move(*events_opened);
    }

    // An interface page at `page` with ring_order `order` (the smallest Linux
    // uses is 1), its first two data pages granted after it.
    platform::GrantRef grant_ring(std::size_t page, std::uint32_t order = 1) {
        constexpr unsigned data_pages = 2;
        auto* intf =
            reinterpret_cast<ring::DataIntf*>(sharer->memory().data() + page * ring::kXenPageSize);
        std::memset(static_cast<void*>(intf), 0, ring::kXenPageSize);
        intf->ring_order = order;
        for (unsigned i = 0; i < data_pages; ++i)
            intf->ref[i] = must(sharer->grant(0, page + 1 + i, true));
        return must(sharer->grant(0, page, true));
    }

    platform::Port port() {
        ports.push_back(must(events->bind_unbound(0)));
        return ports.back().port();
    }

    void write(const std::string& key, const std::string& value) {
        must(xs.write(path + "/" + key, value));
    }

    // The keys of each ring and the common ones, then Initialised.
    void publish(std::initializer_list<std::pair<platform::GrantRef, platform::Port>> rings) {
        write("version", "1");
        write("num-rings", std::to_string(rings.size()));
        unsigned n = 0;
        for (auto [ref, p] : rings) {
            write("ring-ref" + std::to_string(n), std::to_string(ref));
            write("event-channel-" + std::to_string(n), std::to_string(p));
            ++n;
        }
        write("state", "3");
    }

    xenstore::Xenstore xs;
    std::string path;
    std::unique_ptr<sim::GrantSharer> sharer;
    std::unique_ptr<platform::EventChannel> events;
    std::vector<platform::BoundPort> ports;
};

struct HostileFixture : DaemonFixture {
    // The device of `domid` reached InitWait, ready for the frontend's keys.
    void expect_init_wait(DomId domid) { BOOST_REQUIRE(wait_backend_state(domid, {"2"})); }

    // The device closed with `reason` logged; no worker is left for it; the
    // daemon runs on and serves a fresh guest `other`.
    void expect_refused(DomId domid, std::string_view reason, DomId other) {
        BOOST_TEST(wait_backend_state(domid, {"5", "6"}));
        BOOST_TEST(simxen::wait_until([&] { return !worker(domid).has_value(); }));
        BOOST_TEST(
            simxen::wait_until([&] { return daemon_log().find(reason) != std::string::npos; }),
            "log names: " << reason);
        BOOST_TEST(!sim->daemon()->poll_exit().has_value());
        add_guest(other);
        auto c = mount(other);
        write_file(*c, "alive", "served after the attack");
        BOOST_TEST(must(read_file(*c, "alive")) == "served after the attack");
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(hostile_frontend, HostileFixture)

BOOST_AUTO_TEST_CASE(num_rings_above_max_rings_is_refused) {
    add_guest(1);
    expect_init_wait(1);
    const auto max_rings = std::stoul(must(sim->xs().read(backend_path(1) + "/max-rings")));
    RawFrontend fe(*sim, 1);
    const auto ref = fe.grant_ring(0);
    const auto port = fe.port();
    fe.write("num-rings", std::to_string(max_rings + 1));
    for (unsigned n = 0; n <= max_rings; ++n) {
        fe.write("ring-ref" + std::to_string(n), std::to_string(ref));
        fe.write("event-channel-" + std::to_string(n), std::to_string(port));
    }
    fe.write("version", "1");
    fe.write("state", "3");
    expect_refused(1, "num-rings is invalid", 2);
}

BOOST_AUTO_TEST_CASE(grant_ref_never_granted_closes_the_device) {
    add_guest(1);
    expect_init_wait(1);
    RawFrontend fe(*sim, 1);
    const auto ref = fe.grant_ring(0);
    fe.publish({{ref, fe.port()}, {ref + 1000, fe.port()}});
    expect_refused(1, "cannot set up ring", 2);
}

BOOST_AUTO_TEST_CASE(grant_ref_of_another_domain_closes_the_device) {
    add_guest(1);
    add_guest(2);
    expect_init_wait(1);
    // Domain 2 grants proper rings to dom0; domain 1 names one of those refs,
    // a number its own grant table does not hold (refs are per granter).
    RawFrontend victim(*sim, 2);
    victim.grant_ring(0);
    const auto foreign = victim.grant_ring(3);
    RawFrontend fe(*sim, 1);
    const auto own = fe.grant_ring(0);
    BOOST_REQUIRE(foreign > own);
    fe.publish({{own, fe.port()}, {foreign, fe.port()}});
    expect_refused(1, "cannot set up ring", 3);
}

BOOST_AUTO_TEST_CASE(event_channel_of_another_domain_closes_the_device) {
    add_guest(1);
    add_guest(2);
    expect_init_wait(1);
    RawFrontend victim(*sim, 2);
    const auto foreign_port = victim.port();
    RawFrontend fe(*sim, 1);
    const auto ref0 = fe.grant_ring(0);
    const auto ref1 = fe.grant_ring(3);
    fe.publish({{ref0, fe.port()}, {ref1, foreign_port}});
    expect_refused(1, "cannot set up ring", 3);
}

BOOST_AUTO_TEST_CASE(ring_order_above_the_advertised_maximum_closes_the_device) {
    add_guest(1);
    expect_init_wait(1);
    RawFrontend fe(*sim, 1);
    // ring_order 10 in the shared page: 1024 data pages, more than order 9 allows.
    const auto bad = fe.grant_ring(0, 10);
    const auto good = fe.grant_ring(3);
    fe.publish({{good, fe.port()}, {bad, fe.port()}});
    expect_refused(1, "step=\"ring order\"", 2);
}

BOOST_AUTO_TEST_CASE(keys_rewritten_after_initialised_change_nothing) {
    add_guest(1);
    auto c = mount(1);
    const auto pid = wait_worker(1);
    BOOST_REQUIRE(pid);
    auto xs = must(
        xenstore::Xenstore::open_socket(frontend::sim_xenstore_socket(sim->dir().string(), 1)));
    const std::string f = "/local/domain/1/device/9pfs/0/";
    must(xs.write(f + "num-rings", "9"));
    must(xs.write(f + "ring-ref0", "4242"));
    must(xs.write(f + "event-channel-1", "77"));
    must(xs.write(f + "state", "3"));
    must(xs.write(f + "state", "4"));
    // The rings mapped at connect keep working with the same worker.
    write_file(*c, "after", "the keys were read once");
    BOOST_TEST(must(read_file(*c, "after")) == "the keys were read once");
    BOOST_TEST((worker(1) == pid));
    BOOST_TEST(backend_state(1).value_or("") == "4");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
