#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <filesystem>

#include "sim/grant_sharer.hpp"
#include "xenring/platform/platform.hpp"

using namespace xen9p::platform;
using xen9p::sim::GrantSharer;
using xen9p::sim::open_grant_sharer;

BOOST_AUTO_TEST_SUITE(platform_selection)

BOOST_AUTO_TEST_CASE(xen_platform_fails_with_a_clear_message_without_dev_xen) {
    if (std::filesystem::exists("/dev/xen/gntdev")) return;  // a real dom0: nothing to prove here
    auto mapper = open_grant_mapper("xen");
    BOOST_REQUIRE(!mapper);
    BOOST_TEST(mapper.error().message.find("/dev/xen") != std::string::npos);
    BOOST_TEST(mapper.error().message.find("xengnttab") != std::string::npos);
    auto evtchn = open_event_channel("xen");
    BOOST_REQUIRE(!evtchn);
    BOOST_TEST(evtchn.error().message.find("xenevtchn") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_specs_and_missing_sim_sockets_are_refused) {
    BOOST_TEST(open_grant_mapper("kvm").error().error.value == EINVAL);
    BOOST_TEST(open_event_channel("sim:").error().error.value == EINVAL);
    auto missing = open_event_channel("sim:/nonexistent-xen9p-dir");
    BOOST_REQUIRE(!missing);
    BOOST_TEST(missing.error().message.find("/nonexistent-xen9p-dir/hypervisor.sock") !=
               std::string::npos);
    BOOST_TEST(open_grant_sharer("xen", 5, 1).error().error.value == ENOTSUP);
}

BOOST_AUTO_TEST_SUITE_END()
