// `xen9pd detach` in process against the simulated xenstored.
#include <boost/test/unit_test.hpp>

#include "backend/cli/commands.hpp"
#include "tests/toolstack/command_runner.hpp"
#include "tests/toolstack/toolstack_fixture.hpp"
#include "xenring/toolstack/device_nodes.hpp"

namespace xen9p::test {
namespace {

struct DetachFixture : GuestsFixture {
    DetachFixture() {
        toolstack::DeviceNodes nodes(xs, dom0());
        for (const auto& [devid, tag, kind] :
             {std::tuple{0u, "first", toolstack::BackendKind::k9pfs},
              std::tuple{1u, "second", toolstack::BackendKind::kXen9pfs}}) {
            toolstack::NinePfsDevice device;
            device.domid = 5;
            device.devid = devid;
            device.tag = tag;
            device.path = "/srv";
            device.kind = kind;
            BOOST_REQUIRE(nodes.add(device, toolstack::DevidChoice::kAsGiven).has_value());
        }
    }
    CommandResult detach(std::vector<std::string> args) {
        args.insert(args.end(), {"--xen", "sim:" + dir, "--config", exports.config});
        return run_command(cli::detach_command, args);
    }
    ExportDirs exports;
    const std::string be0 = "/local/domain/0/backend/9pfs/5/0";
    const std::string be1 = "/local/domain/0/backend/xen_9pfs/5/1";
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(detach_command, DetachFixture)

BOOST_AUTO_TEST_CASE(detach_closes_through_the_backend_then_removes_the_device) {
    ClosingBackend backend(*this, be1);
    const auto result = detach({"alpha", "--devid", "1"});
    backend.join();
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.err == "");
    BOOST_TEST(result.out == "detached: domain 5 devid 1\n");
    BOOST_TEST(backend.answered());
    BOOST_TEST(backend.online_seen() == "0");
    BOOST_TEST(error_of(xs.read(be1)) == ENOENT);
    BOOST_TEST(error_of(xs.read("/local/domain/5/device/9pfs/1")) == ENOENT);
    BOOST_TEST(error_of(xs.read("/libxl/5/device/9pfs/1")) == ENOENT);
    BOOST_TEST(xs.read("/local/domain/5/device/9pfs/0/tag").value() == "first");
}

BOOST_AUTO_TEST_CASE(detach_finds_the_device_by_tag) {
    ClosingBackend backend(*this, be0);
    const auto result = detach({"5", "--tag", "first", "--kind", "9pfs"});
    backend.join();
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out == "detached: domain 5 devid 0\n");
    BOOST_TEST(error_of(xs.read(be0)) == ENOENT);
}

BOOST_AUTO_TEST_CASE(a_silent_backend_keeps_the_device_unless_forced) {
    auto result = detach({"5", "--devid", "0", "--timeout", "0.2"});
    BOOST_TEST(result.status == 1);
    BOOST_TEST(result.out == "");
    BOOST_TEST(result.err ==
               "xen9pd detach: the backend did not close domain 5 devid 0 within 0.2 s; the "
               "device is left Closing (--force removes it anyway)\n");
    BOOST_TEST(xs.read(be0 + "/state").value() == "5");
    BOOST_TEST(xs.read(be0 + "/online").value() == "0");
    BOOST_TEST(xs.read("/local/domain/5/device/9pfs/0/tag").value() == "first");

    result = detach({"5", "--devid", "0", "--timeout", "0.2", "--force"});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.err.find("removed its nodes anyway (--force)") != std::string::npos);
    BOOST_TEST(result.out == "detached: domain 5 devid 0\n");
    BOOST_TEST(error_of(xs.read(be0)) == ENOENT);
    BOOST_TEST(error_of(xs.read("/local/domain/5/device/9pfs/0")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(a_device_left_alone_with_no_choice_made_is_the_one_detached) {
    BOOST_REQUIRE(detach({"5", "--devid", "1", "--timeout", "0", "--force"}).status == 0);
    ClosingBackend backend(*this, be0);
    const auto result = detach({"alpha"});
    backend.join();
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.out == "detached: domain 5 devid 0\n");
}

BOOST_AUTO_TEST_CASE(every_invalid_request_is_refused_with_one_line_and_nothing_changed) {
    const std::vector<std::tuple<std::string, std::vector<std::string>, int, std::string>> cases{
        {"no domain", {"--devid", "0"}, 2, "expected one DOMAIN"},
        {"unknown domain", {"gamma"}, 1, "no domain 'gamma'"},
        {"no device", {"beta"}, 1, "domain 6 has no 9pfs device"},
        {"unknown devid", {"5", "--devid", "7"}, 1, "domain 5 has no 9pfs device 7"},
        {"unknown tag", {"5", "--tag", "third"}, 1, "no 9pfs device tagged 'third'"},
        {"several devices", {"5"}, 1, "has 2 9pfs devices: choose one"},
        {"devid and tag", {"5", "--devid", "0", "--tag", "first"}, 2, "not both"},
        {"wrong kind", {"5", "--devid", "0", "--kind", "xen_9pfs"}, 1, "is not of kind xen_9pfs"},
        {"unknown kind", {"5", "--devid", "0", "--kind", "qemu"}, 2, "--kind"},
        {"bad timeout", {"5", "--devid", "0", "--timeout", "1.2345"}, 2, "--timeout"},
        {"negative timeout", {"5", "--devid", "0", "--timeout", "-1"}, 2, "--timeout"},
        {"force with a value", {"5", "--devid", "0", "--force=1"}, 2, "takes no value"},
    };
    for (const auto& [what, args, status, message] : cases) {
        BOOST_TEST_CONTEXT(what) {
            const auto result = detach(args);
            BOOST_TEST(result.status == status);
            BOOST_TEST(result.out == "");
            BOOST_TEST(result.err.starts_with("xen9pd detach: "));
            BOOST_TEST(result.err.find(message) != std::string::npos, result.err);
            BOOST_TEST(std::ranges::count(result.err, '\n') == 1);
        }
    }
    BOOST_TEST(xs.read(be0 + "/state").value() == "1");
    BOOST_TEST(xs.read(be1 + "/state").value() == "1");
    BOOST_TEST(xs.read(be0 + "/online").value() == "1");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
