// Every prefix of a message refused as the framing says: with its original
// size field the frame no longer matches; with the size field rewritten to
// the cut the body runs out, and the tag is still reported.
#pragma once

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "p9proto/codec.hpp"
#include "tests/p9proto/print.hpp"
#include "tests/p9proto/wire.hpp"

namespace xen9p::p9proto::test {

template <class Decode>
void check_every_cut(const std::string& name, const Bytes& bytes, std::uint16_t tag,
                     Decode decode) {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        BOOST_TEST_CONTEXT(name << " cut at " << n) {
            Bytes cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
            auto as_is = decode(cut);
            BOOST_REQUIRE(!as_is.has_value());
            BOOST_TEST(as_is.error().failure ==
                       (n < 7 ? DecodeFailure::kTooShort : DecodeFailure::kSizeMismatch));
            BOOST_TEST(!as_is.error().tag.has_value());
            if (n < 7) continue;
            set_size(cut, static_cast<std::uint32_t>(n));
            auto reframed = decode(cut);
            BOOST_REQUIRE(!reframed.has_value());
            BOOST_TEST(reframed.error().failure == DecodeFailure::kTruncated);
            BOOST_TEST(reframed.error().tag == std::optional(tag));
        }
    }
}

}  // namespace xen9p::p9proto::test
