// The two number parsers: parse_decimal, strict, for what an untrusted writer
// controls; parse_number<T>, what std::from_chars takes, for the sites that
// always took that.
#include <boost/test/unit_test.hpp>

#include <cstdint>

#include "base/parse_number.hpp"

namespace xen9p::test {

BOOST_AUTO_TEST_CASE(decimal_parsing_is_strict) {
    BOOST_TEST(parse_decimal("0", 10).value() == 0u);
    BOOST_TEST(parse_decimal("4294967295", 0xffffffff).value() == 0xffffffffu);
    BOOST_TEST(!parse_decimal("4294967296", 0xffffffff).has_value());
    BOOST_TEST(!parse_decimal("", 10).has_value());
    BOOST_TEST(!parse_decimal("01", 10).has_value());
    BOOST_TEST(!parse_decimal("+1", 10).has_value());
    BOOST_TEST(!parse_decimal(" 1", 10).has_value());
    BOOST_TEST(!parse_decimal("99999999999999999999999", ~0ull).has_value());
    // A last digit above a small maximum (num-rings 5 against max-rings 4).
    BOOST_TEST(parse_decimal("4", 4).value() == 4u);
    BOOST_TEST(!parse_decimal("5", 4).has_value());
    BOOST_TEST(!parse_decimal("9", 8).has_value());
    BOOST_TEST(!parse_decimal("19", 10).has_value());
    BOOST_TEST(parse_decimal("10", 10).value() == 10u);
}

BOOST_AUTO_TEST_CASE(decimal_parsing_takes_the_whole_uint64_range_and_no_more) {
    BOOST_TEST(parse_decimal("18446744073709551615", ~0ull).value() == ~0ull);
    BOOST_TEST(!parse_decimal("18446744073709551616", ~0ull).has_value());
    BOOST_TEST(!parse_decimal("-0", ~0ull).has_value());
    BOOST_TEST(!parse_decimal("-1", ~0ull).has_value());
    BOOST_TEST(!parse_decimal("1 ", ~0ull).has_value());
    BOOST_TEST(!parse_decimal("1x", ~0ull).has_value());
    BOOST_TEST(!parse_decimal("0x1", ~0ull).has_value());
    BOOST_TEST(!parse_decimal("00", ~0ull).has_value());
}

BOOST_AUTO_TEST_CASE(number_parsing_takes_leading_zeros) {
    BOOST_TEST(parse_number<unsigned>("007").value() == 7u);
    BOOST_TEST(parse_number<unsigned>("00").value() == 0u);
    BOOST_TEST(parse_number<int>("0").value() == 0);
    // A permission's domid in xenstored's text ("b0", "r007").
    BOOST_TEST(parse_number<std::uint16_t>("0000000000000000000042").value() == 42u);
}

BOOST_AUTO_TEST_CASE(number_parsing_is_bounded_by_its_type) {
    BOOST_TEST(parse_number<std::uint16_t>("65535").value() == 65535u);
    BOOST_TEST(!parse_number<std::uint16_t>("65536").has_value());
    BOOST_TEST(parse_number<int>("2147483647").value() == 2147483647);
    BOOST_TEST(!parse_number<int>("2147483648").has_value());
    BOOST_TEST(parse_number<std::uint64_t>("18446744073709551615").value() == ~0ull);
    BOOST_TEST(!parse_number<std::uint64_t>("18446744073709551616").has_value());
    BOOST_TEST(!parse_number<std::uint64_t>("99999999999999999999999").has_value());
}

BOOST_AUTO_TEST_CASE(number_parsing_takes_a_minus_only_for_signed_types) {
    BOOST_TEST(parse_number<int>("-5").value() == -5);
    BOOST_TEST(parse_number<int>("-0").value() == 0);
    BOOST_TEST(!parse_number<int>("-2147483649").has_value());
    BOOST_TEST(!parse_number<unsigned>("-1").has_value());
    BOOST_TEST(!parse_number<unsigned>("-0").has_value());
    BOOST_TEST(!parse_number<int>("+1").has_value());
    BOOST_TEST(!parse_number<unsigned>("+1").has_value());
}

BOOST_AUTO_TEST_CASE(number_parsing_takes_the_whole_text_or_nothing) {
    BOOST_TEST(!parse_number<unsigned>("").has_value());
    BOOST_TEST(!parse_number<unsigned>(" 1").has_value());
    BOOST_TEST(!parse_number<unsigned>("1 ").has_value());
    BOOST_TEST(!parse_number<unsigned>("12a").has_value());
    BOOST_TEST(!parse_number<unsigned>("0x10").has_value());
    BOOST_TEST(!parse_number<int>("-").has_value());
    BOOST_TEST(!parse_number<unsigned>("root").has_value());
    // A view into a longer string stops where the view does.
    constexpr std::string_view port_and_more = "8080:rest";
    BOOST_TEST(parse_number<std::uint16_t>(port_and_more.substr(0, 4)).value() == 8080u);
}

}  // namespace xen9p::test
