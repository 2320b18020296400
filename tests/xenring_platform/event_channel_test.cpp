#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <cerrno>

#include "tests/xenring_platform/fixture.hpp"
#include "xenring/platform/platform.hpp"

using namespace xen9p;
using namespace xen9p::platform;
using xen9p::test::ChildProcess;
using xen9p::test::kGuest;
using xen9p::test::recv_value;
using xen9p::test::send_value;
using xen9p::test::SimFixture;

namespace {

// The errno of a failed call, 0 when it succeeded.
template <class T>
int error_of(const Result<T>& r) {
    return r ? 0 : r.error().value;
}

// Waits (bounded, so a lost event fails instead of hanging) for the handle's fd.
bool wait_readable(int fd) {
    pollfd pfd{fd, POLLIN, 0};
    return ::poll(&pfd, 1, 10'000) == 1;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(event_channels, SimFixture)

BOOST_AUTO_TEST_CASE(notifications_cross_processes_in_both_directions) {
    const std::string sim = spec();
    ChildProcess guest([&](int control) {
        auto evtchn = open_event_channel(sim, kGuest);
        if (!evtchn) return 10;
        auto port = (*evtchn)->bind_unbound(0);
        if (!port) return 11;
        if (!send_value(control, port->port())) return 12;
        if (!wait_readable((*evtchn)->fd())) return 13;
        auto fired = (*evtchn)->pending();
        if (!fired || *fired != port->port()) return 14;
        if (!(*evtchn)->unmask(port->port())) return 15;
        if (!(*evtchn)->notify(port->port())) return 16;
        char done = 0;
        return recv_value(control, done) ? 0 : 17;
    });
    Port remote = 0;
    BOOST_REQUIRE(recv_value(guest.control(), remote));
    auto evtchn = open_event_channel(spec());
    BOOST_REQUIRE(evtchn);
    auto port = (*evtchn)->bind_interdomain(kGuest, remote);
    BOOST_REQUIRE(port);
    BOOST_TEST(!*(*evtchn)->pending());
    BOOST_REQUIRE((*evtchn)->notify(port->port()));
    BOOST_REQUIRE(wait_readable((*evtchn)->fd()));
    auto fired = (*evtchn)->pending();
    BOOST_REQUIRE(fired);
    BOOST_TEST(**fired == port->port());
    BOOST_TEST(!*(*evtchn)->pending());
    BOOST_REQUIRE(send_value(guest.control(), char{1}));
    BOOST_TEST(guest.wait() == 0);
}

BOOST_AUTO_TEST_CASE(only_the_domain_a_port_was_allocated_for_may_bind_it_once) {
    BOOST_REQUIRE(hv->create_domain(6));
    auto guest = open_event_channel(spec(), kGuest);
    BOOST_REQUIRE(guest);
    auto for_dom6 = (*guest)->bind_unbound(6);
    auto for_dom0 = (*guest)->bind_unbound(0);
    BOOST_REQUIRE(for_dom6);
    BOOST_REQUIRE(for_dom0);
    auto dom0 = open_event_channel(spec());
    BOOST_REQUIRE(dom0);
    BOOST_TEST((*dom0)->bind_interdomain(kGuest, for_dom6->port()).error().value == EPERM);
    BOOST_TEST((*dom0)->bind_interdomain(kGuest, 999).error().value == EINVAL);
    BOOST_TEST((*dom0)->bind_interdomain(6, for_dom0->port()).error().value == EINVAL);
    auto bound = (*dom0)->bind_interdomain(kGuest, for_dom0->port());
    BOOST_REQUIRE(bound);
    BOOST_TEST((*dom0)->bind_interdomain(kGuest, for_dom0->port()).error().value == EINVAL);
    BOOST_TEST((*dom0)->notify(bound->port() + 100).error().value == EINVAL);
}

BOOST_AUTO_TEST_CASE(a_port_that_fired_stays_masked_until_unmasked) {
    auto guest = open_event_channel(spec(), kGuest);
    BOOST_REQUIRE(guest);
    auto theirs = (*guest)->bind_unbound(0);
    BOOST_REQUIRE(theirs);
    auto dom0 = open_event_channel(spec());
    BOOST_REQUIRE(dom0);
    auto bound = (*dom0)->bind_interdomain(kGuest, theirs->port());
    BOOST_REQUIRE(bound);
    BOOST_REQUIRE((*guest)->notify(theirs->port()));
    BOOST_REQUIRE(wait_readable((*dom0)->fd()));
    auto fired = (*dom0)->pending();
    BOOST_REQUIRE(fired);
    BOOST_TEST(**fired == bound->port());
    // Masked, as Xen masks a delivered port: further notifications wake nobody...
    BOOST_REQUIRE((*guest)->notify(theirs->port()));
    pollfd pfd{(*dom0)->fd(), POLLIN, 0};
    BOOST_TEST(::poll(&pfd, 1, 50) == 0);
    BOOST_TEST(!*(*dom0)->pending());
    // ...and are not lost: the port fires as soon as it is unmasked.
    BOOST_REQUIRE((*dom0)->unmask(bound->port()));
    BOOST_REQUIRE(wait_readable((*dom0)->fd()));
    fired = (*dom0)->pending();
    BOOST_REQUIRE(fired);
    BOOST_TEST(**fired == bound->port());
    BOOST_REQUIRE((*dom0)->unmask(bound->port()));
    BOOST_TEST(::poll(&pfd, 1, 0) == 0);
}

BOOST_AUTO_TEST_CASE(a_restricted_handle_binds_only_the_ports_of_its_domain) {
    BOOST_REQUIRE(hv->create_domain(6));
    auto guest = open_event_channel(spec(), kGuest);
    auto other = open_event_channel(spec(), 6);
    BOOST_REQUIRE(guest);
    BOOST_REQUIRE(other);
    auto first = (*guest)->bind_unbound(0);
    auto second = (*guest)->bind_unbound(0);
    auto theirs = (*other)->bind_unbound(0);
    BOOST_REQUIRE(first);
    BOOST_REQUIRE(second);
    BOOST_REQUIRE(theirs);
    auto dom0 = open_event_channel(spec());
    BOOST_REQUIRE(dom0);
    auto bound = (*dom0)->bind_interdomain(kGuest, first->port());
    BOOST_REQUIRE(bound);
    BOOST_REQUIRE((*dom0)->restrict_to(kGuest));

    // EACCES, as Linux's evtchn driver answers a restricted handle.
    BOOST_TEST(error_of((*dom0)->bind_interdomain(6, theirs->port())) == EACCES);
    BOOST_TEST(error_of((*dom0)->bind_unbound(6)) == EACCES);
    BOOST_TEST(error_of((*dom0)->bind_unbound(kGuest)) == EACCES);
    // Once only: the restriction cannot be moved to another domain.
    BOOST_TEST(error_of((*dom0)->restrict_to(6)) == EACCES);
    BOOST_TEST(error_of((*dom0)->bind_interdomain(6, theirs->port())) == EACCES);

    // Its own domain's ports still bind, and the port bound before fires.
    BOOST_TEST((*dom0)->bind_interdomain(kGuest, second->port()).has_value());
    BOOST_REQUIRE((*dom0)->notify(bound->port()));
    BOOST_REQUIRE(wait_readable((*guest)->fd()));
    auto fired = (*guest)->pending();
    BOOST_REQUIRE(fired);
    BOOST_TEST(**fired == first->port());
    // The restriction is the handle's: another dom0 handle may bind domain 6's port.
    auto unrestricted = open_event_channel(spec());
    BOOST_REQUIRE(unrestricted);
    BOOST_TEST((*unrestricted)->bind_interdomain(6, theirs->port()).has_value());
}

BOOST_AUTO_TEST_CASE(restricting_to_dom0_or_a_reserved_domid_is_refused) {
    auto dom0 = open_event_channel(spec());
    BOOST_REQUIRE(dom0);
    BOOST_TEST(error_of((*dom0)->restrict_to(0)) == EINVAL);
    BOOST_TEST(error_of((*dom0)->restrict_to(0x7FF0)) == EINVAL);
    BOOST_TEST(error_of((*dom0)->restrict_to(0xFFFF)) == EINVAL);
    BOOST_TEST((*dom0)->restrict_to(kGuest).has_value());
}

BOOST_AUTO_TEST_CASE(unbound_ports_stop_firing_and_are_released) {
    auto guest = open_event_channel(spec(), kGuest);
    BOOST_REQUIRE(guest);
    auto port = (*guest)->bind_unbound(0);
    BOOST_REQUIRE(port);
    auto dom0 = open_event_channel(spec());
    BOOST_REQUIRE(dom0);
    auto bound = (*dom0)->bind_interdomain(kGuest, port->port());
    BOOST_REQUIRE(bound);
    const Port local = bound->port();
    bound->reset();
    BOOST_TEST((*dom0)->notify(local).error().value == EINVAL);
    BOOST_REQUIRE((*guest)->notify(port->port()));
    BOOST_TEST(!*(*dom0)->pending());
    BOOST_TEST((*dom0)->unbind(local).error().value == EINVAL);
}

BOOST_AUTO_TEST_CASE(destroying_a_domain_closes_its_ports) {
    auto guest = open_event_channel(spec(), kGuest);
    BOOST_REQUIRE(guest);
    auto port = (*guest)->bind_unbound(0);
    BOOST_REQUIRE(port);
    BOOST_REQUIRE(hv->destroy_domain(kGuest));
    auto dom0 = open_event_channel(spec());
    BOOST_REQUIRE(dom0);
    BOOST_TEST((*dom0)->bind_interdomain(kGuest, port->port()).error().value == EINVAL);
    BOOST_TEST(!(*guest)->bind_unbound(0));
    BOOST_REQUIRE(hv->create_domain(kGuest));
}

BOOST_AUTO_TEST_SUITE_END()
