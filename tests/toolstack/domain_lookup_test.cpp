#include "xenring/toolstack/domain_lookup.hpp"

#include <boost/test/unit_test.hpp>

#include "tests/toolstack/toolstack_fixture.hpp"

namespace xen9p::test {

BOOST_FIXTURE_TEST_SUITE(domain_lookup, GuestsFixture)

BOOST_AUTO_TEST_CASE(a_domain_is_found_by_domid_or_by_name) {
    BOOST_TEST(toolstack::resolve_domain(xs, "5").value() == 5);
    BOOST_TEST(toolstack::resolve_domain(xs, "alpha").value() == 5);
    BOOST_TEST(toolstack::resolve_domain(xs, "beta").value() == 6);
}

BOOST_AUTO_TEST_CASE(an_unknown_domid_or_name_is_enoent) {
    BOOST_TEST(error_of(toolstack::resolve_domain(xs, "7")) == ENOENT);
    BOOST_TEST(error_of(toolstack::resolve_domain(xs, "gamma")) == ENOENT);
    BOOST_TEST(error_of(toolstack::resolve_domain(xs, "")) == ENOENT);
    BOOST_TEST(error_of(toolstack::resolve_domain(xs, "05")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(a_name_two_domains_carry_is_ambiguous) {
    sim::Toolstack tools(xs, dom0());
    BOOST_REQUIRE(tools.create_domain(7, "alpha").has_value());
    BOOST_TEST(error_of(toolstack::resolve_domain(xs, "alpha")) == EEXIST);
    BOOST_TEST(toolstack::resolve_domain(xs, "7").value() == 7);
}

BOOST_AUTO_TEST_CASE(the_toolstack_knows_its_own_domain) {
    BOOST_TEST(toolstack::own_domid(xs) == 0);
    // A driver domain: its home carries its domid.
    auto driver = this->guest(6);
    BOOST_TEST(toolstack::own_domid(driver) == 6);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
