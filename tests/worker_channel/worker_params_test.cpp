#define BOOST_TEST_MODULE worker_params
#include <boost/test/unit_test.hpp>

#include "backend/worker_channel/device_id.hpp"
#include "backend/worker_channel/worker_params.hpp"
#include "tests/worker_channel/sample_params.hpp"

using namespace xen9p::worker_channel;
using xen9p::worker_channel::test::sample_params;

BOOST_AUTO_TEST_CASE(params_survive_serialization) {
    const auto p = sample_params();
    auto parsed = parse_worker_params(serialize(p));
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST((*parsed == p));
}

BOOST_AUTO_TEST_CASE(params_with_unknown_missing_or_duplicate_keys_are_refused) {
    const auto text = serialize(sample_params());
    BOOST_TEST(!parse_worker_params(text + "extra=1\n").has_value());
    BOOST_TEST(!parse_worker_params(text + "uid=0\n").has_value());
    const auto without_uid = text.substr(0, text.find("uid=")) + text.substr(text.find("gid="));
    BOOST_TEST(!parse_worker_params(without_uid).has_value());
    BOOST_TEST(!parse_worker_params(text.substr(0, text.size() - 1)).has_value());
}

BOOST_AUTO_TEST_CASE(params_with_out_of_range_numbers_are_refused) {
    auto text = serialize(sample_params());
    auto replace = [&](std::string from, std::string to) {
        auto copy = text;
        copy.replace(copy.find(from), from.size(), to);
        return copy;
    };
    BOOST_TEST(!parse_worker_params(replace("max_ring_order=9", "max_ring_order=10")).has_value());
    BOOST_TEST(!parse_worker_params(replace("domid=7", "domid=65535")).has_value());
    BOOST_TEST(!parse_worker_params(replace("ring_ref0=8", "ring_ref0=-8")).has_value());
    BOOST_TEST(!parse_worker_params(replace("read_only=1", "read_only=yes")).has_value());
    // A worker without a memory budget would refuse every request.
    BOOST_TEST(!parse_worker_params(replace("max_memory_mib=48", "max_memory_mib=0")).has_value());
    BOOST_TEST(
        !parse_worker_params(replace("max_memory_mib=48", "max_memory_mib=65537")).has_value());
    BOOST_TEST(parse_worker_params(replace("max_memory_mib=48", "max_memory_mib=1")).has_value());
    BOOST_TEST(
        !parse_worker_params(replace("poll_window_us=120", "poll_window_us=1001")).has_value());
    BOOST_TEST(!parse_worker_params(replace("poll_window_us=120", "poll_window_us=")).has_value());
}

BOOST_AUTO_TEST_CASE(params_of_a_daemon_that_predates_the_poll_window_get_the_default) {
    auto text = serialize(sample_params());
    text.erase(text.find("poll_window_us="), std::string("poll_window_us=120\n").size());
    auto parsed = parse_worker_params(text);
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST(parsed->poll_window_us == WorkerParams::kDefaultPollWindowUs);
}

BOOST_AUTO_TEST_CASE(device_paths_are_parsed_strictly) {
    const std::string root = "/local/domain/0/backend/9pfs";
    auto id = device_of_path(root, "9pfs", root + "/5/0/state");
    BOOST_REQUIRE(id.has_value());
    BOOST_TEST(id->domid == 5);
    BOOST_TEST(id->devid == 0u);
    BOOST_TEST(device_of_path(root, "9pfs", root + "/5/0")->devid == 0u);
    BOOST_TEST(!device_of_path(root, "9pfs", root).has_value());
    BOOST_TEST(!device_of_path(root, "9pfs", root + "/5").has_value());
    BOOST_TEST(!device_of_path(root, "9pfs", root + "x/5/0").has_value());
    BOOST_TEST(!device_of_path(root, "9pfs", root + "/32752/0").has_value());  // reserved domids
    BOOST_TEST(!device_of_path(root, "9pfs", root + "/5/zero").has_value());
}
