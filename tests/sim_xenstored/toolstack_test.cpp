#include <boost/test/unit_test.hpp>
#include <thread>

#include "sim/toolstack.hpp"
#include "tests/sim_xenstored/fixture.hpp"

namespace xen9p::test {
namespace {

using sim::P9Device;
using sim::P9Kind;

struct Key {
    std::string name;
    std::string value;
};

// Every key of `dir`, in order, with its value; and that each carries `perms`.
void expect_dir(Xenstore& xs, const std::string& dir, const std::vector<Key>& keys,
                const std::vector<XsPermission>& perms) {
    BOOST_TEST_CONTEXT(dir) {
        BOOST_TEST((xs.permissions(dir).value() == perms));
        std::vector<std::string> names;
        for (const auto& key : keys) {
            names.push_back(key.name);
            BOOST_TEST_CONTEXT(key.name) {
                BOOST_TEST(xs.read(dir + "/" + key.name).value() == key.value);
                BOOST_TEST((xs.permissions(dir + "/" + key.name).value() == perms));
            }
        }
        BOOST_TEST(xs.directory(dir).value() == names, boost::test_tools::per_element());
    }
}

P9Device device(P9Kind kind) {
    P9Device d;
    d.domid = 5;
    d.devid = 1;
    d.tag = "share";
    d.path = "/srv/share";
    d.kind = kind;
    return d;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(toolstack, XenstoreFixture)

BOOST_AUTO_TEST_CASE(create_domain_writes_the_home_and_introduces_the_domain) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.watch("@introduceDomain", "i").has_value());
    drain_events(xs);
    sim::Toolstack tools(xs, dom0());
    BOOST_REQUIRE(tools.create_domain(5, "guest-five").has_value());
    BOOST_TEST(xs.read("/local/domain/5/name").value() == "guest-five");
    BOOST_TEST(xs.read("/local/domain/5/domid").value() == "5");
    BOOST_TEST((xs.permissions("/local/domain/5").value() ==
                std::vector<XsPermission>{{0, 'n'}, {5, 'r'}}));
    BOOST_TEST((xs.permissions("/local/domain/5/device").value() ==
                std::vector<XsPermission>{{0, 'n'}, {5, 'r'}}));
    BOOST_TEST(
        (xs.permissions("/local/domain/5/data").value() == std::vector<XsPermission>{{5, 'n'}}));
    BOOST_TEST(xs.domain_introduced(5).value());
    BOOST_TEST(drain_events(xs).size() == 1u);
    auto guest = this->guest(5);
    BOOST_TEST(guest.write("data/x", "1").has_value());
    BOOST_TEST(error_of(guest.write("name", "renamed")) == EACCES);
}

BOOST_AUTO_TEST_CASE(add_9pfs_of_type_qemu_writes_what_libxl_writes) {
    auto xs = dom0();
    sim::Toolstack tools(xs, dom0());
    BOOST_REQUIRE(tools.create_domain(5, "g").has_value());
    BOOST_REQUIRE(tools.add_9pfs(device(P9Kind::k9pfs)).has_value());
    const std::string be = "/local/domain/0/backend/9pfs/5/1";
    const std::string fe = "/local/domain/5/device/9pfs/1";
    BOOST_TEST(sim::p9_backend_path(device(P9Kind::k9pfs)) == be);
    expect_dir(xs, be,
               {{"frontend", fe},
                {"frontend-id", "5"},
                {"online", "1"},
                {"state", "1"},
                {"path", "/srv/share"},
                {"security_model", "none"}},
               {{0, 'n'}, {5, 'r'}});
    expect_dir(xs, fe, {{"backend", be}, {"backend-id", "0"}, {"state", "1"}, {"tag", "share"}},
               {{5, 'n'}, {0, 'r'}});
    BOOST_TEST(tools.list_9pfs(5).value() == std::vector<unsigned>{1},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(add_9pfs_of_type_xen_9pfsd_adds_the_limits) {
    auto xs = dom0();
    sim::Toolstack tools(xs, dom0());
    BOOST_REQUIRE(tools.create_domain(5, "g").has_value());
    auto d = device(P9Kind::kXen9pfs);
    d.max_files = 7;
    d.max_open_files = 3;
    d.max_space = 64;
    d.auto_delete = true;
    BOOST_REQUIRE(tools.add_9pfs(d).has_value());
    const std::string be = "/local/domain/0/backend/xen_9pfs/5/1";
    expect_dir(xs, be,
               {{"frontend", "/local/domain/5/device/9pfs/1"},
                {"frontend-id", "5"},
                {"online", "1"},
                {"state", "1"},
                {"path", "/srv/share"},
                {"security_model", "none"},
                {"max-space", "64"},
                {"max-files", "7"},
                {"max-open-files", "3"},
                {"auto-delete", "1"}},
               {{0, 'n'}, {5, 'r'}});
    BOOST_TEST(xs.read("/local/domain/5/device/9pfs/1/backend").value() == be);
}

BOOST_AUTO_TEST_CASE(the_guest_reads_its_device_and_writes_only_its_frontend) {
    auto xs = dom0();
    sim::Toolstack tools(xs, dom0());
    BOOST_REQUIRE(tools.create_domain(5, "g").has_value());
    BOOST_REQUIRE(tools.add_9pfs(device(P9Kind::k9pfs)).has_value());
    auto guest = this->guest(5);
    BOOST_TEST(guest.read("device/9pfs/1/tag").value() == "share");
    BOOST_TEST(guest.read("/local/domain/0/backend/9pfs/5/1/path").value() == "/srv/share");
    BOOST_TEST(guest.write("device/9pfs/1/state", "3").has_value());
    BOOST_TEST(guest.write("device/9pfs/1/ring-ref0", "8").has_value());
    BOOST_TEST(error_of(guest.write("/local/domain/0/backend/9pfs/5/1/state", "4")) == EACCES);
    auto other = this->guest(6);
    BOOST_TEST(error_of(other.read("/local/domain/5/device/9pfs/1/tag")) == EACCES);
    BOOST_TEST(error_of(other.read("/local/domain/0/backend/9pfs/5/1/path")) == EACCES);
}

BOOST_AUTO_TEST_CASE(remove_9pfs_closes_waits_for_the_backend_and_removes_both_dirs) {
    auto xs = dom0();
    sim::Toolstack tools(xs, dom0());
    BOOST_REQUIRE(tools.create_domain(5, "g").has_value());
    BOOST_REQUIRE(tools.add_9pfs(device(P9Kind::k9pfs)).has_value());
    const std::string be = "/local/domain/0/backend/9pfs/5/1";
    // A backend that answers Closing with Closed, as the supervisor does.
    std::string online_seen;
    std::thread backend([&] {
        auto b = dom0();
        BOOST_REQUIRE(b.watch(be + "/state", "be").has_value());
        while (wait_event(b)) {
            auto state = b.read(be + "/state");
            if (state && *state == "5") {
                online_seen = b.read(be + "/online").value_or("?");
                BOOST_REQUIRE(b.write(be + "/state", "6").has_value());
                return;
            }
        }
    });
    const Status removed = tools.remove_9pfs(5, 1);
    backend.join();
    BOOST_TEST(removed.has_value());
    BOOST_TEST(online_seen == "0");
    BOOST_TEST(error_of(xs.read(be)) == ENOENT);
    BOOST_TEST(error_of(xs.read("/local/domain/5/device/9pfs/1")) == ENOENT);
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/9pfs")) == ENOENT);
    BOOST_TEST(tools.list_9pfs(5).value().empty());
}

BOOST_AUTO_TEST_CASE(remove_9pfs_without_a_backend_times_out_and_still_removes) {
    auto xs = dom0();
    sim::Toolstack tools(xs, dom0());
    BOOST_REQUIRE(tools.create_domain(5, "g").has_value());
    BOOST_REQUIRE(tools.add_9pfs(device(P9Kind::k9pfs)).has_value());
    BOOST_TEST(error_of(tools.remove_9pfs(5, 1, std::chrono::milliseconds(100))) == ETIMEDOUT);
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/9pfs/5/1")) == ENOENT);
    BOOST_TEST(error_of(xs.read("/local/domain/5/device/9pfs/1")) == ENOENT);
    BOOST_TEST(error_of(tools.remove_9pfs(5, 1)) == ENOENT);
}

BOOST_AUTO_TEST_CASE(destroy_domain_removes_everything_and_fires_release_domain) {
    auto xs = dom0();
    sim::Toolstack tools(xs, dom0());
    BOOST_REQUIRE(tools.create_domain(5, "g").has_value());
    BOOST_REQUIRE(tools.add_9pfs(device(P9Kind::kXen9pfs)).has_value());
    BOOST_REQUIRE(xs.watch("@releaseDomain", "r").has_value());
    drain_events(xs);
    BOOST_REQUIRE(tools.destroy_domain(5, std::chrono::milliseconds(0)).has_value());
    const auto events = drain_events(xs);
    BOOST_REQUIRE(events.size() == 1u);
    BOOST_TEST(events[0].path == "@releaseDomain");
    BOOST_TEST(xs.domain_introduced(5).value() == false);
    BOOST_TEST(error_of(xs.read("/local/domain/5")) == ENOENT);
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/xen_9pfs/5/1")) == ENOENT);
    BOOST_TEST(error_of(xs.read("/libxl/5")) == ENOENT);
    BOOST_TEST(released_copy() == std::vector<DomId>{5}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
