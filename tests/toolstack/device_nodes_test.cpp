#include "xenring/toolstack/device_nodes.hpp"

#include <boost/test/unit_test.hpp>
#include <set>
#include <thread>

#include "tests/toolstack/toolstack_fixture.hpp"

namespace xen9p::test {
namespace {

using toolstack::AddFailure;
using toolstack::BackendKind;
using toolstack::DeviceNodes;
using toolstack::DevidChoice;
using toolstack::NinePfsDevice;
using toolstack::OnTimeout;
using namespace std::chrono_literals;

NinePfsDevice device(unsigned devid, std::string tag, BackendKind kind = BackendKind::k9pfs) {
    NinePfsDevice d;
    d.domid = 5;
    d.devid = devid;
    d.tag = std::move(tag);
    d.path = "/srv/share";
    d.kind = kind;
    return d;
}

// The nodes tests/e2e/dom0-lib.sh writes on Xen 4.17: no libxl copy.
void write_by_hand(Xenstore& xs, unsigned devid, const std::string& tag) {
    const std::string fe = "/local/domain/5/device/9pfs/" + std::to_string(devid);
    const std::string be = "/local/domain/0/backend/9pfs/5/" + std::to_string(devid);
    BOOST_REQUIRE(xs.write(fe + "/backend", be).has_value());
    BOOST_REQUIRE(xs.write(fe + "/tag", tag).has_value());
    BOOST_REQUIRE(xs.set_permissions(fe, {{5, 'n'}, {0, 'r'}}).has_value());
    BOOST_REQUIRE(xs.set_permissions(fe + "/backend", {{5, 'n'}, {0, 'r'}}).has_value());
    BOOST_REQUIRE(xs.write(be + "/frontend", fe).has_value());
    BOOST_REQUIRE(xs.write(be + "/state", "1").has_value());
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(device_nodes, GuestsFixture)

BOOST_AUTO_TEST_CASE(add_writes_libxls_layout_and_permissions) {
    DeviceNodes nodes(xs, dom0());
    BOOST_REQUIRE(nodes.add(device(1, "share"), DevidChoice::kAsGiven).value() == 1u);
    const std::string be = "/local/domain/0/backend/9pfs/5/1";
    const std::string fe = "/local/domain/5/device/9pfs/1";
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
    expect_dir(xs, "/libxl/5/device/9pfs/1", {{"frontend", fe}, {"backend", be}}, {{0, 'n'}});
}

BOOST_AUTO_TEST_CASE(add_of_kind_xen_9pfs_writes_the_limits_libxl_writes) {
    DeviceNodes nodes(xs, dom0());
    auto d = device(0, "share", BackendKind::kXen9pfs);
    d.max_files = 7;
    d.max_open_files = 3;
    d.max_space = 64;
    d.auto_delete = true;
    d.security_model = "mapped-xattr";
    BOOST_REQUIRE(nodes.add(d, DevidChoice::kAsGiven).has_value());
    expect_dir(xs, "/local/domain/0/backend/xen_9pfs/5/0",
               {{"frontend", "/local/domain/5/device/9pfs/0"},
                {"frontend-id", "5"},
                {"online", "1"},
                {"state", "1"},
                {"path", "/srv/share"},
                {"security_model", "mapped-xattr"},
                {"max-space", "64"},
                {"max-files", "7"},
                {"max-open-files", "3"},
                {"auto-delete", "1"}},
               {{0, 'n'}, {5, 'r'}});
    BOOST_TEST(xs.read("/local/domain/5/device/9pfs/0/backend").value() ==
               "/local/domain/0/backend/xen_9pfs/5/0");
}

BOOST_AUTO_TEST_CASE(add_writes_max_memory_for_either_kind_only_when_given) {
    DeviceNodes nodes(xs, dom0());
    auto plain = device(0, "plain");
    plain.max_memory_mib = 128;
    auto xen = device(1, "xen", BackendKind::kXen9pfs);
    xen.max_memory_mib = 0;
    BOOST_REQUIRE(nodes.add(plain, DevidChoice::kAsGiven).has_value());
    BOOST_REQUIRE(nodes.add(xen, DevidChoice::kAsGiven).has_value());
    BOOST_REQUIRE(nodes.add(device(2, "none"), DevidChoice::kAsGiven).has_value());
    expect_dir(xs, "/local/domain/0/backend/9pfs/5/0",
               {{"frontend", "/local/domain/5/device/9pfs/0"},
                {"frontend-id", "5"},
                {"online", "1"},
                {"state", "1"},
                {"path", "/srv/share"},
                {"security_model", "none"},
                {"max-memory", "128"}},
               {{0, 'n'}, {5, 'r'}});
    expect_dir(xs, "/local/domain/0/backend/xen_9pfs/5/1",
               {{"frontend", "/local/domain/5/device/9pfs/1"},
                {"frontend-id", "5"},
                {"online", "1"},
                {"state", "1"},
                {"path", "/srv/share"},
                {"security_model", "none"},
                {"max-space", "0"},
                {"max-files", "0"},
                {"max-open-files", "0"},
                {"auto-delete", "0"},
                {"max-memory", "0"}},
               {{0, 'n'}, {5, 'r'}});
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/9pfs/5/2/max-memory")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(lowest_free_devid_fills_the_first_gap) {
    DeviceNodes nodes(xs, dom0());
    BOOST_REQUIRE(nodes.add(device(0, "a"), DevidChoice::kAsGiven).has_value());
    BOOST_REQUIRE(nodes.add(device(2, "b"), DevidChoice::kAsGiven).has_value());
    BOOST_TEST(nodes.add(device(9, "c"), DevidChoice::kLowestFree).value() == 1u);
    BOOST_TEST(nodes.add(device(0, "d"), DevidChoice::kLowestFree).value() == 3u);
    BOOST_TEST(xs.read("/local/domain/5/device/9pfs/1/tag").value() == "c");
    BOOST_TEST(xs.read("/local/domain/5/device/9pfs/3/tag").value() == "d");
}

BOOST_AUTO_TEST_CASE(concurrent_adds_never_share_a_devid) {
    constexpr unsigned kPerThread = 10;
    std::vector<unsigned> got[2];
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            auto own = dom0();
            DeviceNodes nodes(own, dom0());
            for (unsigned i = 0; i < kPerThread; ++i) {
                auto devid = nodes.add(device(0, std::to_string(t) + "-" + std::to_string(i)),
                                       DevidChoice::kLowestFree);
                if (devid) got[t].push_back(*devid);
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    std::set<unsigned> all(got[0].begin(), got[0].end());
    all.insert(got[1].begin(), got[1].end());
    BOOST_TEST(got[0].size() + got[1].size() == 2 * kPerThread);
    BOOST_TEST(all.size() == 2 * kPerThread);
    BOOST_TEST(*all.rbegin() == 2 * kPerThread - 1);
    DeviceNodes nodes(xs, dom0());
    BOOST_TEST(nodes.list(5).value().size() == 2 * kPerThread);
}

BOOST_AUTO_TEST_CASE(a_backend_directory_left_without_frontend_still_holds_its_devid) {
    BOOST_REQUIRE(xs.write("/local/domain/0/backend/xen_9pfs/5/0/state", "6").has_value());
    DeviceNodes nodes(xs, dom0());
    BOOST_TEST(nodes.add(device(0, "a"), DevidChoice::kLowestFree).value() == 1u);
    auto refused = nodes.add(device(0, "b"), DevidChoice::kAsGiven);
    BOOST_REQUIRE(!refused.has_value());
    BOOST_TEST((refused.error().reason == AddFailure::Reason::kDevidTaken));
}

BOOST_AUTO_TEST_CASE(a_taken_devid_is_refused_and_the_device_left_alone) {
    DeviceNodes nodes(xs, dom0());
    BOOST_REQUIRE(nodes.add(device(1, "a"), DevidChoice::kAsGiven).has_value());
    auto refused = nodes.add(device(1, "b", BackendKind::kXen9pfs), DevidChoice::kAsGiven);
    BOOST_REQUIRE(!refused.has_value());
    BOOST_TEST((refused.error().reason == AddFailure::Reason::kDevidTaken));
    BOOST_TEST(refused.error().devid == 1u);
    BOOST_TEST(xs.read("/local/domain/5/device/9pfs/1/tag").value() == "a");
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/xen_9pfs/5/1")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(a_tag_in_use_is_refused_whatever_the_kind_or_who_wrote_it) {
    DeviceNodes nodes(xs, dom0());
    BOOST_REQUIRE(nodes.add(device(0, "share"), DevidChoice::kAsGiven).has_value());
    write_by_hand(xs, 4, "manual");
    for (const auto& [tag, holder] : {std::pair<std::string, unsigned>{"share", 0},
                                      std::pair<std::string, unsigned>{"manual", 4}}) {
        BOOST_TEST_CONTEXT(tag) {
            auto refused =
                nodes.add(device(0, tag, BackendKind::kXen9pfs), DevidChoice::kLowestFree);
            BOOST_REQUIRE(!refused.has_value());
            BOOST_TEST((refused.error().reason == AddFailure::Reason::kTagInUse));
            BOOST_TEST(refused.error().devid == holder);
        }
    }
    // Another guest may use the same tag.
    auto other = device(0, "share");
    other.domid = 6;
    BOOST_TEST(nodes.add(other, DevidChoice::kLowestFree).value() == 0u);
}

BOOST_AUTO_TEST_CASE(list_trusts_a_frontends_backend_key_only_when_the_backend_names_it_back) {
    write_by_hand(xs, 0, "manual");
    DeviceNodes nodes(xs, dom0());
    auto devices = nodes.list(5).value();
    BOOST_REQUIRE(devices.size() == 1u);
    BOOST_TEST(devices[0].tag == "manual");
    BOOST_TEST(devices[0].backend.value() == "/local/domain/0/backend/9pfs/5/0");
    BOOST_TEST((devices[0].kind == BackendKind::k9pfs));

    // The guest points its frontend at guest 6's backend directory.
    auto victim = device(0, "victim");
    victim.domid = 6;
    BOOST_REQUIRE(nodes.add(victim, DevidChoice::kAsGiven).has_value());
    auto guest = this->guest(5);
    BOOST_REQUIRE(
        guest.write("device/9pfs/0/backend", "/local/domain/0/backend/9pfs/6/0").has_value());
    devices = nodes.list(5).value();
    BOOST_REQUIRE(devices.size() == 1u);
    BOOST_TEST(!devices[0].backend.has_value());
    BOOST_REQUIRE(nodes.remove(5, 0, 0ms, OnTimeout::kKeepNodes).has_value());
    BOOST_TEST(xs.read("/local/domain/0/backend/9pfs/6/0/state").value() == "1");
    BOOST_TEST(xs.read("/local/domain/0/backend/9pfs/6/0/online").value() == "1");
    BOOST_TEST(error_of(xs.read("/local/domain/5/device/9pfs/0")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(remove_closes_waits_for_closed_then_removes_everything) {
    DeviceNodes nodes(xs, dom0());
    BOOST_REQUIRE(nodes.add(device(1, "share"), DevidChoice::kAsGiven).has_value());
    const std::string be = "/local/domain/0/backend/9pfs/5/1";
    ClosingBackend backend(*this, be);
    const Status removed = nodes.remove(5, 1, 10s, OnTimeout::kKeepNodes);
    backend.join();
    BOOST_TEST(removed.has_value());
    BOOST_TEST(backend.answered());
    BOOST_TEST(backend.online_seen() == "0");
    BOOST_TEST(error_of(xs.read(be)) == ENOENT);
    BOOST_TEST(error_of(xs.read("/local/domain/5/device/9pfs/1")) == ENOENT);
    BOOST_TEST(error_of(xs.read("/libxl/5/device/9pfs")) == ENOENT);
    // Parents left empty go too, as libxl__xs_path_cleanup does.
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/9pfs")) == ENOENT);
    BOOST_TEST(nodes.list(5).value().empty());
}

BOOST_AUTO_TEST_CASE(remove_without_an_answer_keeps_the_nodes_unless_told_otherwise) {
    DeviceNodes nodes(xs, dom0());
    BOOST_REQUIRE(nodes.add(device(1, "share"), DevidChoice::kAsGiven).has_value());
    const std::string be = "/local/domain/0/backend/9pfs/5/1";
    BOOST_TEST(error_of(nodes.remove(5, 1, 100ms, OnTimeout::kKeepNodes)) == ETIMEDOUT);
    BOOST_TEST(xs.read(be + "/state").value() == "5");
    BOOST_TEST(xs.read(be + "/online").value() == "0");
    BOOST_TEST(xs.read("/local/domain/5/device/9pfs/1/tag").value() == "share");
    BOOST_TEST(error_of(nodes.remove(5, 1, 100ms, OnTimeout::kRemoveNodes)) == ETIMEDOUT);
    BOOST_TEST(error_of(xs.read(be)) == ENOENT);
    BOOST_TEST(error_of(xs.read("/local/domain/5/device/9pfs/1")) == ENOENT);
    BOOST_TEST(error_of(nodes.remove(5, 1, 100ms, OnTimeout::kKeepNodes)) == ENOENT);
}

BOOST_AUTO_TEST_CASE(remove_does_not_wait_for_a_backend_already_closed_or_gone) {
    DeviceNodes nodes(xs, dom0());
    BOOST_REQUIRE(nodes.add(device(0, "closed"), DevidChoice::kAsGiven).has_value());
    BOOST_REQUIRE(nodes.add(device(1, "gone"), DevidChoice::kAsGiven).has_value());
    BOOST_REQUIRE(xs.write("/local/domain/0/backend/9pfs/5/0/state", "6").has_value());
    BOOST_REQUIRE(xs.remove("/local/domain/0/backend/9pfs/5/1").has_value());
    // No backend will answer: a wait of 0 would time out and keep the nodes.
    BOOST_TEST(nodes.remove(5, 0, 0ms, OnTimeout::kKeepNodes).has_value());
    BOOST_TEST(nodes.remove(5, 1, 0ms, OnTimeout::kKeepNodes).has_value());
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/9pfs/5/0")) == ENOENT);
    BOOST_TEST(nodes.list(5).value().empty());
}

BOOST_AUTO_TEST_CASE(the_frontend_of_a_running_guest_sees_the_device_appear) {
    auto guest = this->guest(5);
    BOOST_REQUIRE(guest.watch("/local/domain/5/device", "hotplug").has_value());
    drain_events(guest);
    DeviceNodes nodes(xs, dom0());
    BOOST_REQUIRE(nodes.add(device(0, "share"), DevidChoice::kAsGiven).has_value());
    bool saw_device = false;
    for (const auto& event : drain_events(guest))
        saw_device = saw_device || event.path == "/local/domain/5/device/9pfs/0";
    BOOST_TEST(saw_device);
    BOOST_TEST(guest.read("device/9pfs/0/tag").value() == "share");
    BOOST_TEST(guest.read("/local/domain/0/backend/9pfs/5/0/path").value() == "/srv/share");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
