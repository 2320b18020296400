#include <boost/test/unit_test.hpp>

#include "tests/sim_xenstored/fixture.hpp"

namespace xen9p::test {
namespace {

std::vector<std::string> paths_of(const std::vector<xenstore::WatchEvent>& events) {
    std::vector<std::string> paths;
    for (const auto& event : events)
        paths.push_back(event.path);
    return paths;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(watches, XenstoreFixture)

BOOST_AUTO_TEST_CASE(a_new_watch_fires_once_up_front_with_its_token) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.watch("/w/never-written", "tok-1").has_value());
    auto event = wait_event(xs);
    BOOST_REQUIRE(event.has_value());
    BOOST_TEST(event->path == "/w/never-written");
    BOOST_TEST(event->token == "tok-1");
    BOOST_TEST(drain_events(xs).empty());
}

BOOST_AUTO_TEST_CASE(a_watch_fires_for_its_node_and_every_descendant) {
    auto watcher = dom0();
    auto writer = dom0();
    BOOST_REQUIRE(watcher.watch("/w", "t").has_value());
    BOOST_REQUIRE(wait_event(watcher).has_value());
    BOOST_REQUIRE(writer.write("/w", "1").has_value());
    BOOST_REQUIRE(writer.write("/w/a/b", "2").has_value());
    BOOST_REQUIRE(writer.write("/wx", "not below /w").has_value());
    BOOST_TEST(paths_of(drain_events(watcher)) == (std::vector<std::string>{"/w", "/w/a/b"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(removing_a_subtree_notifies_watches_inside_it) {
    auto watcher = dom0();
    auto writer = dom0();
    BOOST_REQUIRE(writer.write("/s/a/b/c", "x").has_value());
    BOOST_REQUIRE(watcher.watch("/s/a/b/c", "deep").has_value());
    BOOST_REQUIRE(watcher.watch("/s", "top").has_value());
    drain_events(watcher);
    BOOST_REQUIRE(writer.remove("/s/a").has_value());
    const auto events = drain_events(watcher);
    BOOST_REQUIRE(events.size() == 2u);
    BOOST_TEST(events[0].path == "/s/a");
    BOOST_TEST(events[0].token == "top");
    BOOST_TEST(events[1].path == "/s/a/b/c");
    BOOST_TEST(events[1].token == "deep");
}

BOOST_AUTO_TEST_CASE(a_relative_watch_reports_relative_paths) {
    auto admin = dom0();
    BOOST_REQUIRE(admin.mkdir("/local/domain/4").has_value());
    BOOST_REQUIRE(admin.set_permissions("/local/domain/4", {{4, 'n'}}).has_value());
    auto guest = this->guest(4);
    BOOST_REQUIRE(guest.watch("device", "dev").has_value());
    BOOST_TEST(wait_event(guest)->path == "device");
    BOOST_REQUIRE(admin.write("/local/domain/4/device/9pfs/0/state", "1").has_value());
    BOOST_TEST(paths_of(drain_events(guest)) == std::vector<std::string>{"device/9pfs/0/state"},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(unwatch_stops_the_events) {
    auto watcher = dom0();
    auto writer = dom0();
    BOOST_REQUIRE(watcher.watch("/u", "t").has_value());
    drain_events(watcher);
    BOOST_REQUIRE(watcher.unwatch("/u", "t").has_value());
    BOOST_REQUIRE(writer.write("/u/x", "1").has_value());
    BOOST_TEST(drain_events(watcher).empty());
    BOOST_TEST(error_of(watcher.unwatch("/u", "t")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(the_same_path_and_token_cannot_be_watched_twice) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.watch("/dup", "t").has_value());
    BOOST_TEST(error_of(xs.watch("/dup", "t")) == EEXIST);
    BOOST_TEST(xs.watch("/dup", "other").has_value());
}

BOOST_AUTO_TEST_CASE(transaction_changes_fire_only_when_committed) {
    auto watcher = dom0();
    auto writer = dom0();
    BOOST_REQUIRE(watcher.watch("/tx", "t").has_value());
    drain_events(watcher);
    auto t = writer.transaction_start().value();
    BOOST_REQUIRE(writer.write("/tx/a", "1", t).has_value());
    BOOST_TEST(drain_events(watcher).empty());
    BOOST_REQUIRE(writer.transaction_end(t).has_value());
    BOOST_TEST(paths_of(drain_events(watcher)) == std::vector<std::string>{"/tx/a"},
               boost::test_tools::per_element());

    auto aborted = writer.transaction_start().value();
    BOOST_REQUIRE(writer.write("/tx/b", "1", aborted).has_value());
    BOOST_REQUIRE(writer.transaction_end(aborted, /*abort=*/true).has_value());
    BOOST_TEST(drain_events(watcher).empty());
}

BOOST_AUTO_TEST_CASE(a_guest_hears_nothing_of_nodes_it_cannot_read) {
    auto admin = dom0();
    auto guest = this->guest(6);
    BOOST_REQUIRE(admin.mkdir("/secret").has_value());
    BOOST_REQUIRE(guest.watch("/secret", "t").has_value());
    drain_events(guest);
    BOOST_REQUIRE(admin.write("/secret/key", "x").has_value());
    BOOST_TEST(drain_events(guest).empty());
    BOOST_REQUIRE(admin.set_permissions("/secret/key", {{0, 'n'}, {6, 'r'}}).has_value());
    BOOST_TEST(paths_of(drain_events(guest)) == std::vector<std::string>{"/secret/key"},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(domains, XenstoreFixture)

BOOST_AUTO_TEST_CASE(introduce_opens_the_domain_socket_and_fires_introduce_domain) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.watch("@introduceDomain", "intro").has_value());
    BOOST_TEST(wait_event(xs)->path == "@introduceDomain");
    BOOST_TEST(xs.domain_introduced(9).value() == false);
    BOOST_REQUIRE(xs.introduce_domain(9, 100, 2).has_value());
    const auto events = drain_events(xs);
    BOOST_REQUIRE(events.size() == 1u);
    BOOST_TEST(events[0].path == "@introduceDomain");
    BOOST_TEST(events[0].token == "intro");
    BOOST_TEST(xs.domain_introduced(9).value() == true);
    BOOST_TEST(xs.domain_introduced(0).value() == true);
    BOOST_TEST(std::filesystem::exists(server->server().domain_socket_path(9)));
    BOOST_TEST(introduced_copy() == std::vector<DomId>{9}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(release_closes_the_guest_and_fires_release_domain) {
    auto xs = dom0();
    auto guest = this->guest(8);
    BOOST_REQUIRE(guest.domain_path(8).has_value());
    BOOST_REQUIRE(xs.watch("@releaseDomain", "rel").has_value());
    drain_events(xs);
    BOOST_REQUIRE(xs.release_domain(8).has_value());
    const auto events = drain_events(xs);
    BOOST_REQUIRE(events.size() == 1u);
    BOOST_TEST(events[0].path == "@releaseDomain");
    BOOST_TEST(events[0].token == "rel");
    BOOST_TEST(xs.domain_introduced(8).value() == false);
    BOOST_TEST(!std::filesystem::exists(server->server().domain_socket_path(8)));
    BOOST_TEST(!guest.domain_path(8).has_value());
    BOOST_TEST(released_copy() == std::vector<DomId>{8}, boost::test_tools::per_element());
    BOOST_TEST(error_of(xs.release_domain(8)) == ENOENT);
}

BOOST_AUTO_TEST_CASE(guests_do_not_hear_of_domains_coming_and_going) {
    auto guest = this->guest(3);
    BOOST_REQUIRE(guest.watch("@releaseDomain", "rel").has_value());
    drain_events(guest);
    auto xs = dom0();
    BOOST_REQUIRE(xs.introduce_domain(11, 1, 1).has_value());
    BOOST_REQUIRE(xs.release_domain(11).has_value());
    BOOST_TEST(drain_events(guest).empty());
}

BOOST_AUTO_TEST_CASE(a_guest_granted_read_on_release_domain_hears_of_releases) {
    auto guest = this->guest(3);
    BOOST_REQUIRE(guest.watch("@releaseDomain", "rel").has_value());
    drain_events(guest);
    auto xs = dom0();
    BOOST_TEST(error_of(guest.set_permissions("@releaseDomain", {{3, 'r'}})) == EACCES);
    BOOST_REQUIRE(xs.set_permissions("@releaseDomain", {{0, 'n'}, {3, 'r'}}).has_value());
    BOOST_TEST((guest.permissions("@releaseDomain").value() ==
                std::vector<XsPermission>{{0, 'n'}, {3, 'r'}}));
    BOOST_REQUIRE(xs.introduce_domain(11, 1, 1).has_value());
    BOOST_REQUIRE(xs.release_domain(11).has_value());
    const auto events = drain_events(guest);
    BOOST_REQUIRE(events.size() == 1u);
    BOOST_TEST(events[0].path == "@releaseDomain");
    BOOST_TEST(error_of(guest.permissions("@introduceDomain")) == EACCES);
}

BOOST_AUTO_TEST_CASE(only_dom0_may_introduce_or_release) {
    auto guest = this->guest(3);
    BOOST_TEST(error_of(guest.introduce_domain(12, 1, 1)) == EACCES);
    BOOST_TEST(error_of(guest.release_domain(3)) == EACCES);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
