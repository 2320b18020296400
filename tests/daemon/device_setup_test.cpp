// A new device's first step in the supervisor: what it takes from the keys
// libxl writes (the worker's parameters, then InitWait with the backend's
// features), and the reason it leaves in hotplug-error for a device it
// refuses.
#define BOOST_TEST_MODULE device_setup

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "backend/supervisor/device.hpp"
#include "backend/supervisor/worker_uid.hpp"
#include "tests/sim_xenstored/fixture.hpp"

namespace xen9p::test {
namespace {

using worker_channel::WorkerParams;

constexpr uid_t kRangeBase = 200000;

// Setting a device up launches nothing.
struct NoLauncher : supervisor::WorkerLauncher {
    Result<std::unique_ptr<supervisor::Worker>> launch(const WorkerParams&) override {
        return fail(ENOSYS);
    }
    Result<std::unique_ptr<supervisor::Worker>> adopt(const supervisor::WorkerDescriptors&,
                                                      const worker_channel::DeviceId&) override {
        return fail(ENOSYS);
    }
};

// Guest 5's device 0 of kind 9pfs, its backend keys as libxl writes them,
// and an export root to resolve its path under.
struct DeviceSetupFixture : XenstoreFixture {
    DeviceSetupFixture() {
        char pattern[] = "/tmp/device-setup-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(pattern) != nullptr);
        roots = pattern;
        std::filesystem::create_directories(roots / "share");
        std::filesystem::create_directories(roots / "outside");
        config.allowed_roots = {roots / "share"};
        config.uid_range_base = kRangeBase;
        config.gid = kRangeBase;
        config.max_rings = 3;
        config.max_ring_order = 7;
        config.platform = "sim:/tmp/sim";
        keys = {{"frontend", frontend},
                {"frontend-id", "5"},
                {"path", (roots / "share").string()},
                {"security_model", "mapped-xattr"}};
    }
    ~DeviceSetupFixture() {
        std::error_code ignored;
        std::filesystem::remove_all(roots, ignored);
    }

    // Writes `keys` (a key whose value is kAbsent is left out), the
    // frontend's tag and the state libxl creates a device in, then lets a
    // device of the supervisor take it: its parameters, or the reason it
    // refused the device.
    std::expected<WorkerParams, std::string> set_up() {
        for (const auto& [key, value] : keys) {
            if (value != kAbsent) BOOST_REQUIRE(xs.write(backend + "/" + key, value).has_value());
        }
        BOOST_REQUIRE(xs.write(backend + "/state", "1").has_value());
        BOOST_REQUIRE(xs.write(frontend + "/tag", "share0").has_value());
        supervisor::Device device(id, backend, xs, config, launcher);
        BOOST_REQUIRE(device.refresh());
        if (device.params()) {
            BOOST_TEST(device.last_error() == "");
            return *device.params();
        }
        return std::unexpected(device.last_error());
    }
    std::string backend_key(std::string_view name) {
        return xs.try_read(backend + "/" + std::string(name))
            .value()
            .value_or(std::string(kAbsent));
    }

    static constexpr std::string_view kAbsent = "<absent>";
    Xenstore xs = dom0();
    std::filesystem::path roots;
    supervisor::SupervisorConfig config;
    const worker_channel::DeviceId id{"9pfs", 5, 0};
    const std::string backend = "/local/domain/0/backend/9pfs/5/0";
    const std::string frontend = "/local/domain/5/device/9pfs/0";
    std::map<std::string, std::string> keys;
    NoLauncher launcher;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(device_setup, DeviceSetupFixture)

BOOST_AUTO_TEST_CASE(a_device_as_libxl_writes_it_gets_the_defaults_and_the_guests_uid) {
    const auto params = set_up();
    if (!params) BOOST_FAIL(params.error());
    BOOST_TEST(params->device.to_string() == id.to_string());
    BOOST_TEST(params->export_path == roots / "share");
    BOOST_TEST(params->security_model == "mapped-xattr");
    BOOST_TEST(params->tag == "share0");
    BOOST_TEST((params->limits == config.default_limits));
    BOOST_TEST(params->max_ring_order == 7u);
    BOOST_TEST(params->rings.empty());
    BOOST_TEST(params->uid == kRangeBase + 5);
    BOOST_TEST(params->gid == kRangeBase);
    BOOST_TEST(params->platform == "sim:/tmp/sim");
    BOOST_TEST(backend_key("versions") == "1");
    BOOST_TEST(backend_key("max-rings") == "3");
    BOOST_TEST(backend_key("max-ring-page-order") == "7");
    BOOST_TEST(backend_key("state") == "2");
    BOOST_TEST(backend_key("hotplug-error") == kAbsent);
}

BOOST_AUTO_TEST_CASE(limits_and_a_fixed_uid_override_the_defaults_where_written) {
    keys.erase("security_model");
    keys.insert({{"max-files", "10"},
                 {"max-open-files", "0"},
                 {"max-space", "5"},
                 {"max-memory", "128"},
                 {"auto-delete", "1"},
                 {"xen9pd-worker-uid", std::to_string(kRangeBase + 40000)}});
    const auto params = set_up();
    if (!params) BOOST_FAIL(params.error());
    BOOST_TEST(params->security_model == "none");
    BOOST_TEST(params->limits.max_files == 10u);
    // 0 is the backend's default for max-open-files.
    BOOST_TEST(params->limits.max_open_files == config.default_limits.max_open_files);
    BOOST_TEST(params->limits.max_space_mib == 5u);
    BOOST_TEST(params->limits.max_memory_mib == 128u);
    BOOST_TEST(params->limits.auto_delete);
    BOOST_TEST(params->uid == kRangeBase + 40000);
}

BOOST_AUTO_TEST_CASE(each_key_that_is_not_libxls_refuses_the_device_with_its_reason) {
    const std::string outside = (roots / "outside").string();
    const std::vector<std::tuple<std::string, std::map<std::string, std::string>, std::string>>
        cases{
            {"no frontend",
             {{"frontend", std::string(kAbsent)}},
             "frontend key does not match the device"},
            {"another frontend",
             {{"frontend", "/local/domain/6/device/9pfs/0"}},
             "frontend key does not match the device"},
            {"another frontend-id",
             {{"frontend-id", "6"}},
             "frontend-id does not match the device"},
            {"no path", {{"path", std::string(kAbsent)}}, "no path"},
            {"a path outside the roots", {{"path", outside}}, "path " + outside + ": "},
            {"an unknown model",
             {{"security_model", "mapped"}},
             "unsupported security_model mapped"},
            {"a negative limit", {{"max-files", "-1"}}, "malformed limit"},
            {"a limit past 32 bits", {{"max-space", "4294967296"}}, "malformed limit"},
            {"a memory budget past the bound", {{"max-memory", "65537"}}, "malformed limit"},
            {"a uid that is not a number",
             {{"xen9pd-worker-uid", "root"}},
             "malformed xen9pd-worker-uid"},
            {"a uid a device model has",
             {{"xen9pd-worker-uid", std::to_string(kRangeBase + 5)}},
             supervisor::fixed_worker_uid_error(kRangeBase + 5, kRangeBase).value()},
            // The first check that fails gives the reason.
            {"a wrong frontend-id and model",
             {{"frontend-id", "6"}, {"security_model", "x"}},
             "frontend-id does not match the device"},
            {"a path outside and a wrong model",
             {{"path", outside}, {"security_model", "x"}},
             "path " + outside + ": "},
            {"a wrong model and limit",
             {{"security_model", "x"}, {"max-files", "x"}},
             "unsupported security_model x"},
            {"a malformed limit and uid",
             {{"max-files", "x"}, {"xen9pd-worker-uid", "x"}},
             "malformed limit"},
        };
    const auto good = keys;
    for (const auto& [what, changes, reason] : cases) {
        BOOST_TEST_CONTEXT(what) {
            (void)xs.remove(backend);  // absent the first time
            keys = good;
            for (const auto& [key, value] : changes)
                keys[key] = value;
            const auto params = set_up();
            BOOST_REQUIRE(!params.has_value());
            BOOST_TEST(params.error().starts_with(reason), params.error());
            if (!reason.ends_with(": ")) BOOST_TEST(params.error() == reason);
            // Refused for good, before anything was advertised.
            BOOST_TEST(backend_key("hotplug-error") == params.error());
            BOOST_TEST(backend_key("state") == "6");
            BOOST_TEST(backend_key("versions") == kAbsent);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
