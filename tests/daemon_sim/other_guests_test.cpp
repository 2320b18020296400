// What a compromised worker could reach of other guests through the Xen
// handles it holds once it serves: nothing. Its descriptors are taken out of
// the running worker and used as it would use them.
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>

#include "sim/handle_probe.hpp"
#include "tests/daemon_sim/daemon_fixture.hpp"
#include "xenring/platform/platform.hpp"
#include "xenring/platform/sim_platform.hpp"

namespace xen9p::test {
namespace {

// Guest `domid`'s offer to dom0, as it would make it for a device of its own:
// a granted page and an unbound port.
struct Offer {
    std::unique_ptr<sim::GrantSharer> sharer;
    std::unique_ptr<platform::EventChannel> events;
    platform::GrantRef ref = 0;
    platform::BoundPort port;
};

Offer offer_to_dom0(simxen::SimXen& sim, DomId domid) {
    const std::string spec = "sim:" + sim.dir().string();
    Offer offer;
    auto sharer = sim::open_grant_sharer(spec, domid, 1);
    BOOST_REQUIRE(sharer.has_value());
    offer.sharer = std::move(*sharer);
    auto events = platform::open_event_channel(spec, domid);
    BOOST_REQUIRE(events.has_value());
    offer.events = std::move(*events);
    offer.ref = must(offer.sharer->grant(0, 0, /*writable=*/true));
    offer.port = must(offer.events->bind_unbound(0));
    return offer;
}

platform::sim_protocol::Request map_request(DomId domid, platform::GrantRef ref) {
    platform::sim_protocol::Request req;
    req.op = platform::sim_protocol::Op::map;
    req.domid = domid;
    req.count = 1;
    req.refs[0] = ref;
    return req;
}

platform::sim_protocol::Request offer_request(DomId domid) {
    platform::sim_protocol::Request req;
    req.op = platform::sim_protocol::Op::alloc_unbound;
    req.domid = domid;
    return req;
}

platform::sim_protocol::Request bind_request(DomId domid, platform::Port port) {
    platform::sim_protocol::Request req;
    req.op = platform::sim_protocol::Op::bind_interdomain;
    req.domid = domid;
    req.arg = port;
    return req;
}

// A fresh dom0 connection opened as `device`, as the worker opened its own.
UniqueFd dom0_connection(simxen::SimXen& sim, platform::sim_protocol::Device device) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = platform::sim_socket(sim.dir(), 0).string();
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    BOOST_REQUIRE(fd);
    BOOST_REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    platform::sim_protocol::Request open;
    open.op = platform::sim_protocol::Op::open;
    open.arg = static_cast<std::uint32_t>(device);
    BOOST_REQUIRE_EQUAL(must(sim::call_raw(fd.get(), open)), 0);
    return fd;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(other_guests, DaemonFixture)

BOOST_AUTO_TEST_CASE(a_serving_worker_can_map_no_grant_and_bind_no_port_of_another_guest) {
    add_guest(1);
    auto c = mount(1);
    const auto worker_pid = wait_worker(1);
    BOOST_REQUIRE(worker_pid);
    must(sim->toolstack().create_domain(2, "guest2"));
    Offer other = offer_to_dom0(*sim, 2);

    // The requests are good ones: an unrestricted dom0 handle does each (on a
    // second offer, so that the worker's attempts meet fresh ones).
    Offer control = offer_to_dom0(*sim, 2);
    auto mapper = dom0_connection(*sim, platform::sim_protocol::Device::grant_mapper);
    BOOST_TEST(must(sim::call_raw(mapper.get(), map_request(2, control.ref))) == 0);
    auto events = dom0_connection(*sim, platform::sim_protocol::Device::event_channel);
    BOOST_TEST(must(sim::call_raw(events.get(), bind_request(2, control.port.port()))) == 0);
    BOOST_TEST(must(sim::call_raw(events.get(), offer_request(2))) == 0);

    // Every descriptor the worker holds to the hypervisor, used as it could.
    auto held = must(sim::connections_of(*worker_pid, platform::sim_socket(sim->dir(), 0)));
    BOOST_TEST_MESSAGE("worker " << *worker_pid << " holds " << held.size()
                                 << " hypervisor connections");
    BOOST_REQUIRE(!held.empty());
    for (const auto& fd : held) {
        const int mapped = must(sim::call_raw(fd.get(), map_request(2, other.ref)));
        BOOST_TEST(mapped != 0, "the worker mapped guest 2's grant");
        const int bound = must(sim::call_raw(fd.get(), bind_request(2, other.port.port())));
        BOOST_TEST(bound != 0, "the worker bound guest 2's port");
        const int offered = must(sim::call_raw(fd.get(), offer_request(2)));
        BOOST_TEST(offered != 0, "the worker offered guest 2 a port");
    }
    BOOST_TEST(daemon_log().find("event channels restricted to the guest") != std::string::npos);

    // Its own guest is served as before.
    write_file(*c, "after", "still served");
    BOOST_TEST(must(read_file(*c, "after")) == "still served");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
