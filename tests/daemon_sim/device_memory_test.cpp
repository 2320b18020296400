// The per-device memory budget as the toolstack sets it: the backend key
// max-memory (MiB, next to max-files) reaches the device's worker, whose
// sessions cap msize at a quarter of the budget; a malformed value refuses
// the device with a hotplug error, as the other limits do.
#include <boost/test/unit_test.hpp>
#include <string>

#include "tests/daemon_sim/daemon_fixture.hpp"

namespace xen9p::test {
namespace {

constexpr std::uint32_t kQuarterOfOneMib = 256 * 1024;

// The devices are in place with their keys before the daemon starts, so it
// reads max-memory with the rest of the backend directory.
struct PresetDevicesFixture : DaemonFixture {
    PresetDevicesFixture() : DaemonFixture(StartLater{}) {}

    void add_guest_with_max_memory(DomId domid, const std::string& mib) {
        add_guest(domid);
        must(sim->xs().write(backend_path(domid) + "/max-memory", mib));
    }

    struct Msize {
        std::uint32_t asked;  // the most the guest's rings carry
        std::uint32_t granted;
    };
    // What the device's worker grants a guest asking for the most its rings
    // carry; the guest then uses the share.
    Msize negotiate(DomId domid) {
        auto c = std::make_unique<client::Client>(must(sim->connect(domid)));
        const std::uint32_t asked = c->transport().max_msize();
        BOOST_REQUIRE(asked > kQuarterOfOneMib);
        const auto msize = must(c->negotiate(asked));
        must(client::attach(*c, 0, "root", "", 0));
        write_file(*c, "f", "served");
        BOOST_TEST(must(read_file(*c, "f")) == "served");
        return {asked, msize};
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(device_memory, PresetDevicesFixture)

BOOST_AUTO_TEST_CASE(max_memory_key_caps_the_msize_at_a_quarter_of_the_budget) {
    add_guest_with_max_memory(1, "1");
    add_guest_with_max_memory(2, "0");  // the daemon's default, as for max-open-files
    add_guest(3);                       // no key: the default
    start_daemon();
    BOOST_TEST(negotiate(1).granted == kQuarterOfOneMib);
    // The default budget (64 MiB) leaves the rings' own limit.
    for (const DomId domid : {2, 3}) {
        const auto msize = negotiate(domid);
        BOOST_TEST(msize.granted == msize.asked, "domain " << domid);
    }
}

BOOST_AUTO_TEST_CASE(malformed_max_memory_refuses_the_device_with_a_hotplug_error) {
    // Above the 64 GiB maximum, not a number, negative, not whole.
    const std::vector<std::pair<DomId, std::string>> devices{
        {1, "65537"}, {2, "lots"}, {3, "-1"}, {4, "1.5"}};
    for (const auto& [domid, mib] : devices)
        add_guest_with_max_memory(domid, mib);
    add_guest_with_max_memory(5, "65536");
    start_daemon();
    for (const auto& [domid, mib] : devices) {
        BOOST_TEST_CONTEXT("max-memory " << mib) {
            BOOST_TEST(wait_backend_state(domid, {"6"}));
            auto error = sim->xs().try_read(backend_path(domid) + "/hotplug-error");
            BOOST_REQUIRE(error.has_value());
            BOOST_TEST(error->value_or("") == "malformed limit");
            BOOST_TEST(!worker(domid).has_value());
        }
    }
    BOOST_TEST(daemon_log().find("reason=\"malformed limit\"") != std::string::npos);
    // The largest budget allowed is taken, and the device served.
    BOOST_TEST(wait_backend_state(5, {"2"}));
    const auto msize = negotiate(5);
    BOOST_TEST(msize.granted == msize.asked);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
