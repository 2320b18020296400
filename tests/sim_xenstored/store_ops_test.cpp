#define BOOST_TEST_MODULE sim_xenstored
#include <boost/test/unit_test.hpp>

#include "tests/sim_xenstored/fixture.hpp"

namespace xen9p::test {

BOOST_FIXTURE_TEST_SUITE(store_ops, XenstoreFixture)

BOOST_AUTO_TEST_CASE(write_then_read_returns_the_value) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.write("/a/b", "hello").has_value());
    BOOST_TEST(xs.read("/a/b").value() == "hello");
    BOOST_TEST(xs.read("/a").value() == "");
}

BOOST_AUTO_TEST_CASE(read_of_a_missing_node_is_enoent) {
    auto xs = dom0();
    BOOST_TEST(error_of(xs.read("/nope")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(directory_lists_children_in_creation_order) {
    auto xs = dom0();
    for (const char* name : {"zeta", "alpha", "mid"})
        BOOST_REQUIRE(xs.write(std::string("/d/") + name, "x").has_value());
    BOOST_TEST(xs.directory("/d").value() == (std::vector<std::string>{"zeta", "alpha", "mid"}),
               boost::test_tools::per_element());
    BOOST_TEST(xs.directory("/d/zeta").value().empty());
}

BOOST_AUTO_TEST_CASE(a_directory_larger_than_one_message_arrives_in_parts) {
    auto xs = dom0();
    std::vector<std::string> names;
    for (int i = 0; i < 200; ++i) {
        names.push_back("child-with-a-rather-long-name-" + std::to_string(i));
        BOOST_REQUIRE(xs.mkdir("/big/" + names.back()).has_value());
    }
    BOOST_TEST(xs.directory("/big").value() == names, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(mkdir_of_an_existing_node_keeps_its_value) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.write("/m", "v").has_value());
    BOOST_REQUIRE(xs.mkdir("/m").has_value());
    BOOST_TEST(xs.read("/m").value() == "v");
}

BOOST_AUTO_TEST_CASE(rm_removes_the_whole_subtree) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.write("/r/a/b/c", "1").has_value());
    BOOST_REQUIRE(xs.write("/r/keep", "2").has_value());
    BOOST_REQUIRE(xs.remove("/r/a").has_value());
    BOOST_TEST(error_of(xs.read("/r/a/b/c")) == ENOENT);
    BOOST_TEST(error_of(xs.read("/r/a")) == ENOENT);
    BOOST_TEST(xs.directory("/r").value() == std::vector<std::string>{"keep"},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(rm_of_a_missing_node_succeeds_only_if_its_parent_exists) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.mkdir("/p").has_value());
    BOOST_TEST(xs.remove("/p/missing").has_value());
    BOOST_TEST(error_of(xs.remove("/nothere/missing")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(malformed_paths_are_einval) {
    auto xs = dom0();
    BOOST_TEST(error_of(xs.write("/bad/", "x")) == EINVAL);
    BOOST_TEST(error_of(xs.write("/bad//x", "x")) == EINVAL);
    BOOST_TEST(error_of(xs.write("/bad/sp ace", "x")) == EINVAL);
    BOOST_TEST(error_of(xs.read("@releaseDomain")) == EINVAL);
    BOOST_TEST(error_of(xs.remove("/")) == EINVAL);
}

BOOST_AUTO_TEST_CASE(relative_paths_resolve_against_the_domain_home) {
    auto guest = this->guest(7);
    auto admin = dom0();
    BOOST_REQUIRE(admin.mkdir("/local/domain/7").has_value());
    BOOST_REQUIRE(admin.set_permissions("/local/domain/7", {{7, 'n'}}).has_value());
    BOOST_REQUIRE(guest.write("data/x", "42").has_value());
    BOOST_TEST(admin.read("/local/domain/7/data/x").value() == "42");
    BOOST_TEST(guest.read("data/x").value() == "42");
    BOOST_TEST(admin.domain_path(7).value() == "/local/domain/7");
    BOOST_TEST(guest.domain_path(7).value() == "/local/domain/7");
}

BOOST_AUTO_TEST_CASE(permissions_round_trip_through_get_and_set) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.mkdir("/perm").has_value());
    const std::vector<XsPermission> perms{{3, 'n'}, {0, 'r'}, {4, 'b'}, {5, 'w'}};
    BOOST_REQUIRE(xs.set_permissions("/perm", perms).has_value());
    BOOST_TEST((xs.permissions("/perm").value() == perms));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(transactions, XenstoreFixture)

BOOST_AUTO_TEST_CASE(changes_are_invisible_to_others_until_commit) {
    auto writer = dom0();
    auto reader = dom0();
    auto t = writer.transaction_start().value();
    BOOST_REQUIRE(writer.write("/t/x", "1", t).has_value());
    BOOST_TEST(writer.read("/t/x", t).value() == "1");
    BOOST_TEST(error_of(reader.read("/t/x")) == ENOENT);
    BOOST_REQUIRE(writer.transaction_end(t).has_value());
    BOOST_TEST(reader.read("/t/x").value() == "1");
}

BOOST_AUTO_TEST_CASE(an_aborted_transaction_changes_nothing) {
    auto xs = dom0();
    BOOST_REQUIRE(xs.write("/t/keep", "old").has_value());
    auto t = xs.transaction_start().value();
    BOOST_REQUIRE(xs.write("/t/keep", "new", t).has_value());
    BOOST_REQUIRE(xs.remove("/t", t).has_value());
    BOOST_REQUIRE(xs.transaction_end(t, /*abort=*/true).has_value());
    BOOST_TEST(xs.read("/t/keep").value() == "old");
}

BOOST_AUTO_TEST_CASE(a_conflicting_transaction_ends_with_eagain) {
    auto a = dom0();
    auto b = dom0();
    BOOST_REQUIRE(a.write("/c/counter", "0").has_value());
    auto t = a.transaction_start().value();
    BOOST_TEST(a.read("/c/counter", t).value() == "0");
    BOOST_REQUIRE(b.write("/c/counter", "5").has_value());
    BOOST_REQUIRE(a.write("/c/counter", "1", t).has_value());
    BOOST_TEST(error_of(a.transaction_end(t)) == EAGAIN);
    BOOST_TEST(a.read("/c/counter").value() == "5");
}

BOOST_AUTO_TEST_CASE(a_node_created_meanwhile_conflicts_with_a_read_of_its_absence) {
    auto a = dom0();
    auto b = dom0();
    auto t = a.transaction_start().value();
    BOOST_TEST(error_of(a.read("/c/new", t)) == ENOENT);
    BOOST_REQUIRE(b.write("/c/new", "x").has_value());
    BOOST_REQUIRE(a.write("/c/other", "y", t).has_value());
    BOOST_TEST(error_of(a.transaction_end(t)) == EAGAIN);
}

BOOST_AUTO_TEST_CASE(transactions_on_unrelated_nodes_both_commit) {
    auto a = dom0();
    auto b = dom0();
    BOOST_REQUIRE(a.write("/u/one/v", "0").has_value());
    BOOST_REQUIRE(a.write("/u/two/v", "0").has_value());
    auto ta = a.transaction_start().value();
    auto tb = b.transaction_start().value();
    BOOST_REQUIRE(a.write("/u/one/v", "a", ta).has_value());
    BOOST_REQUIRE(b.write("/u/two/v", "b", tb).has_value());
    BOOST_TEST(a.transaction_end(ta).has_value());
    BOOST_TEST(b.transaction_end(tb).has_value());
    BOOST_TEST(a.read("/u/one/v").value() == "a");
    BOOST_TEST(a.read("/u/two/v").value() == "b");
}

BOOST_AUTO_TEST_CASE(concurrent_increments_retry_until_none_is_lost) {
    constexpr int kPerThread = 50;
    auto setup = dom0();
    BOOST_REQUIRE(setup.write("/inc", "0").has_value());
    auto work = [this] {
        auto xs = dom0();
        for (int i = 0; i < kPerThread; ++i) {
            auto done = xenstore::in_transaction(
                xs,
                [&](Xenstore::Transaction t) -> Status {
                    auto value = xs.read("/inc", t);
                    if (!value) return std::unexpected(value.error());
                    return xs.write("/inc", std::to_string(std::stoi(*value) + 1), t);
                },
                1000);
            BOOST_REQUIRE(done.has_value());
        }
    };
    std::thread first(work);
    std::thread second(work);
    first.join();
    second.join();
    BOOST_TEST(setup.read("/inc").value() == std::to_string(2 * kPerThread));
}

BOOST_AUTO_TEST_CASE(an_unknown_transaction_id_is_enoent) {
    auto xs = dom0();
    BOOST_TEST(error_of(xs.read("/", 12345)) == ENOENT);
    BOOST_TEST(error_of(xs.transaction_end(12345)) == ENOENT);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
