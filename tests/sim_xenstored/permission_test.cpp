#include <boost/test/unit_test.hpp>

#include "tests/sim_xenstored/fixture.hpp"

namespace xen9p::test {

BOOST_FIXTURE_TEST_SUITE(permissions, XenstoreFixture)

BOOST_AUTO_TEST_CASE(a_guest_cannot_read_another_domains_nodes) {
    auto admin = dom0();
    BOOST_REQUIRE(admin.mkdir("/local/domain/2").has_value());
    BOOST_REQUIRE(admin.set_permissions("/local/domain/2", {{2, 'n'}}).has_value());
    auto two = guest(2);
    auto three = guest(3);
    BOOST_REQUIRE(two.write("data/secret", "s").has_value());
    BOOST_TEST(error_of(three.read("/local/domain/2/data/secret")) == EACCES);
    BOOST_TEST(error_of(three.directory("/local/domain/2")) == EACCES);
    BOOST_TEST(error_of(three.write("/local/domain/2/data/secret", "x")) == EACCES);
    BOOST_TEST(two.read("data/secret").value() == "s");
}

BOOST_AUTO_TEST_CASE(a_missing_node_below_an_unreadable_one_is_eacces_not_enoent) {
    auto admin = dom0();
    BOOST_REQUIRE(admin.mkdir("/hidden").has_value());
    auto guest = this->guest(3);
    BOOST_TEST(error_of(guest.read("/hidden/maybe")) == EACCES);
    BOOST_TEST(error_of(guest.read("/hidden")) == EACCES);
}

BOOST_AUTO_TEST_CASE(a_guest_reads_a_granted_dir_but_cannot_write_it) {
    auto admin = dom0();
    const std::string be = "/local/domain/0/backend/9pfs/3/0";
    BOOST_REQUIRE(admin.mkdir(be).has_value());
    BOOST_REQUIRE(admin.set_permissions(be, {{0, 'n'}, {3, 'r'}}).has_value());
    BOOST_REQUIRE(admin.write(be + "/state", "1").has_value());
    auto guest = this->guest(3);
    BOOST_TEST(guest.read(be + "/state").value() == "1");
    BOOST_TEST(error_of(guest.read(be + "/absent")) == ENOENT);
    BOOST_TEST(error_of(guest.write(be + "/state", "4")) == EACCES);
    BOOST_TEST(error_of(guest.write(be + "/new-key", "4")) == EACCES);
    BOOST_TEST(error_of(guest.remove(be)) == EACCES);
    BOOST_TEST(admin.read(be + "/state").value() == "1");
}

BOOST_AUTO_TEST_CASE(a_guest_owns_what_it_creates_and_dom0_creations_inherit) {
    auto admin = dom0();
    BOOST_REQUIRE(admin.mkdir("/shared").has_value());
    BOOST_REQUIRE(admin.set_permissions("/shared", {{0, 'n'}, {5, 'b'}}).has_value());
    auto guest = this->guest(5);
    BOOST_REQUIRE(guest.write("/shared/mine", "x").has_value());
    BOOST_TEST((admin.permissions("/shared/mine").value() ==
                std::vector<XsPermission>{{5, 'n'}, {5, 'b'}}));
    BOOST_REQUIRE(admin.write("/shared/theirs", "y").has_value());
    BOOST_TEST((admin.permissions("/shared/theirs").value() ==
                std::vector<XsPermission>{{0, 'n'}, {5, 'b'}}));
}

BOOST_AUTO_TEST_CASE(only_the_owner_sets_permissions_and_a_guest_cannot_give_nodes_away) {
    auto admin = dom0();
    BOOST_REQUIRE(admin.mkdir("/g").has_value());
    BOOST_REQUIRE(admin.set_permissions("/g", {{0, 'n'}, {5, 'b'}, {6, 'b'}}).has_value());
    auto five = guest(5);
    auto six = guest(6);
    BOOST_REQUIRE(five.write("/g/node", "x").has_value());
    BOOST_TEST(error_of(six.set_permissions("/g/node", {{6, 'b'}})) == EACCES);
    BOOST_TEST(error_of(five.set_permissions("/g/node", {{6, 'n'}})) == EPERM);
    BOOST_TEST(five.set_permissions("/g/node", {{5, 'r'}}).has_value());
    BOOST_TEST(six.read("/g/node").value() == "x");
    BOOST_TEST(error_of(six.write("/g/node", "y")) == EACCES);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

sim::XenstoredLimits small_limits() {
    sim::XenstoredLimits limits;
    limits.store.max_nodes_per_domain = 20;
    limits.max_watches_per_domain = 4;
    limits.max_transactions_per_connection = 2;
    limits.store.max_transaction_nodes = 30;
    return limits;
}

struct SmallLimits : XenstoreFixture {
    SmallLimits() : XenstoreFixture(small_limits()) {}
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(guest_quotas, SmallLimits)

BOOST_AUTO_TEST_CASE(a_guest_cannot_create_more_nodes_than_its_quota) {
    auto admin = dom0();
    BOOST_REQUIRE(admin.mkdir("/local/domain/5").has_value());
    BOOST_REQUIRE(admin.set_permissions("/local/domain/5", {{5, 'n'}}).has_value());
    auto guest = this->guest(5);
    int created = 0;
    Status last;
    while (created < 100 && (last = guest.write("n" + std::to_string(created), "v")))
        ++created;
    BOOST_TEST(error_of(last) == ENOSPC);
    BOOST_TEST(created < 20);
    BOOST_TEST(admin.write("/local/domain/5/by-dom0", "v").has_value());
}

BOOST_AUTO_TEST_CASE(a_guest_cannot_hold_more_watches_or_transactions_than_its_quota) {
    auto guest = this->guest(5);
    for (int i = 0; i < 4; ++i)
        BOOST_REQUIRE(guest.watch("/w" + std::to_string(i), "t"));
    BOOST_TEST(error_of(guest.watch("/w-too-many", "t")) == E2BIG);
    BOOST_REQUIRE(guest.transaction_start().has_value());
    BOOST_REQUIRE(guest.transaction_start().has_value());
    BOOST_TEST(error_of(guest.transaction_start()) == ENOSPC);
}

BOOST_AUTO_TEST_CASE(a_guest_transaction_cannot_track_more_nodes_than_its_quota) {
    auto guest = this->guest(5);
    auto t = guest.transaction_start().value();
    int looked_at = 0;
    int last = 0;
    while (looked_at < 100 &&
           (last = error_of(guest.read("/m" + std::to_string(looked_at), t))) == EACCES)
        ++looked_at;
    BOOST_TEST(last == ENOSPC);
    BOOST_TEST(looked_at < 40);
    auto admin = dom0();
    auto big = admin.transaction_start().value();
    for (int i = 0; i < 60; ++i)
        (void)admin.read("/m" + std::to_string(i), big);
    BOOST_TEST(admin.transaction_end(big).has_value());
}

BOOST_AUTO_TEST_CASE(a_guest_value_larger_than_the_node_quota_is_refused) {
    auto admin = dom0();
    BOOST_REQUIRE(admin.mkdir("/local/domain/5").has_value());
    BOOST_REQUIRE(admin.set_permissions("/local/domain/5", {{5, 'n'}}).has_value());
    auto guest = this->guest(5);
    BOOST_TEST(error_of(guest.write("big", std::string(3000, 'x'))) == ENOSPC);
    BOOST_TEST(admin.write("/local/domain/5/big", std::string(3000, 'x')).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
