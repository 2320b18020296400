#define BOOST_TEST_MODULE p9proto
#include <boost/test/unit_test.hpp>

#include <set>

#include "p9proto/codec.hpp"
#include "tests/p9proto/print.hpp"
#include "tests/p9proto/samples.hpp"
#include "tests/p9proto/truncation.hpp"

namespace xen9p::p9proto::test {
namespace {

constexpr std::uint32_t kMsize = 8192;

std::vector<std::uint8_t> numbers(const Bytes& b) {
    std::vector<std::uint8_t> out;
    for (auto x : b)
        out.push_back(static_cast<std::uint8_t>(x));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(golden)

BOOST_AUTO_TEST_CASE(samples_cover_every_message_type_once) {
    std::set<MsgType> requests;
    for (const auto& s : request_samples())
        requests.insert(type_of(s.message.body));
    for (const auto& s : u_request_samples())
        requests.insert(type_of(s.message.body));
    BOOST_TEST(requests.size() == std::variant_size_v<RequestBody>);
    BOOST_TEST(request_samples().size() + u_request_samples().size() ==
               std::variant_size_v<RequestBody>);
    std::set<MsgType> replies;
    for (const auto& s : reply_samples())
        replies.insert(type_of(s.message.body));
    for (const auto& s : u_reply_samples())
        replies.insert(type_of(s.message.body));
    BOOST_TEST(replies.size() == std::variant_size_v<ReplyBody>);
    BOOST_TEST(reply_samples().size() + u_reply_samples().size() == std::variant_size_v<ReplyBody>);
}

BOOST_AUTO_TEST_CASE(every_request_encodes_to_its_golden_bytes) {
    for (const auto& s : request_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            Bytes out(s.bytes.size() + 16, std::byte{0xaa});
            auto n = encode(s.message, out);
            BOOST_REQUIRE(n.has_value());
            BOOST_TEST(*n == s.bytes.size());
            BOOST_TEST(encoded_size(s.message) == s.bytes.size());
            out.resize(*n);
            BOOST_TEST(numbers(out) == numbers(s.bytes), boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(every_request_decodes_from_its_golden_bytes) {
    for (const auto& s : request_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            auto decoded = decode_request(s.bytes, kMsize);
            BOOST_REQUIRE(decoded.has_value());
            BOOST_TEST((*decoded == s.message));
        }
    }
}

BOOST_AUTO_TEST_CASE(every_reply_encodes_to_its_golden_bytes) {
    for (const auto& s : reply_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            Bytes out(s.bytes.size() + 16, std::byte{0xaa});
            auto n = encode(s.message, out, kMsize);
            BOOST_REQUIRE(n.has_value());
            BOOST_TEST(*n == s.bytes.size());
            BOOST_TEST(encoded_size(s.message) == s.bytes.size());
            out.resize(*n);
            BOOST_TEST(numbers(out) == numbers(s.bytes), boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(every_reply_decodes_from_its_golden_bytes) {
    for (const auto& s : reply_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            auto decoded = decode_reply(s.bytes, kMsize);
            BOOST_REQUIRE(decoded.has_value());
            BOOST_TEST((*decoded == s.message));
        }
    }
}

BOOST_AUTO_TEST_CASE(rgetattr_is_160_bytes_and_tversion_21) {
    for (const auto& s : reply_samples()) {
        if (s.name == "Rgetattr") BOOST_TEST(s.bytes.size() == 160u);
    }
    BOOST_TEST(request_samples().front().bytes.size() == 21u);
}

BOOST_AUTO_TEST_CASE(every_message_round_trips_through_encode_and_decode) {
    for (const auto& s : request_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            Bytes out(encoded_size(s.message));
            BOOST_REQUIRE(encode(s.message, out).has_value());
            auto again = decode_request(out, kMsize);
            BOOST_REQUIRE(again.has_value());
            BOOST_TEST((*again == s.message));
        }
    }
    for (const auto& s : reply_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            Bytes out(encoded_size(s.message));
            BOOST_REQUIRE(encode(s.message, out, out.size()).has_value());
            auto again = decode_reply(out, kMsize);
            BOOST_REQUIRE(again.has_value());
            BOOST_TEST((*again == s.message));
        }
    }
}

BOOST_AUTO_TEST_CASE(requests_are_not_replies_and_replies_are_not_requests) {
    for (const auto& s : request_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            auto decoded = decode_reply(s.bytes, kMsize);
            BOOST_REQUIRE(!decoded.has_value());
            BOOST_TEST(decoded.error().failure == DecodeFailure::kUnknownType);
            BOOST_TEST(decoded.error().tag == std::optional(s.message.tag));
        }
    }
    for (const auto& s : reply_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            auto decoded = decode_request(s.bytes, kMsize);
            BOOST_REQUIRE(!decoded.has_value());
            BOOST_TEST(decoded.error().failure == DecodeFailure::kUnknownType);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(truncation)

BOOST_AUTO_TEST_CASE(every_request_truncated_at_every_offset_is_refused) {
    for (const auto& s : request_samples()) {
        check_every_cut(s.name, s.bytes, s.message.tag,
                        [](const Bytes& b) { return decode_request(b, kMsize); });
    }
}

BOOST_AUTO_TEST_CASE(every_reply_truncated_at_every_offset_is_refused) {
    for (const auto& s : reply_samples()) {
        check_every_cut(s.name, s.bytes, s.message.tag,
                        [](const Bytes& b) { return decode_reply(b, kMsize); });
    }
}

BOOST_AUTO_TEST_CASE(every_message_with_a_trailing_byte_is_refused) {
    for (const auto& s : request_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            Bytes longer = s.bytes;
            longer.push_back(std::byte{0});
            set_size(longer, static_cast<std::uint32_t>(longer.size()));
            auto decoded = decode_request(longer, kMsize);
            BOOST_REQUIRE(!decoded.has_value());
            BOOST_TEST(decoded.error().failure == DecodeFailure::kTrailingBytes);
        }
    }
    for (const auto& s : reply_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            Bytes longer = s.bytes;
            longer.push_back(std::byte{0});
            set_size(longer, static_cast<std::uint32_t>(longer.size()));
            auto decoded = decode_reply(longer, kMsize);
            BOOST_REQUIRE(!decoded.has_value());
            BOOST_TEST(decoded.error().failure == DecodeFailure::kTrailingBytes);
        }
    }
}

BOOST_AUTO_TEST_CASE(encoding_into_every_too_small_buffer_is_refused_without_writing) {
    for (const auto& s : request_samples()) {
        for (std::size_t n = 0; n < s.bytes.size(); ++n) {
            BOOST_TEST_CONTEXT(s.name << " into " << n) {
                Bytes out(s.bytes.size(), std::byte{0xaa});
                auto r = encode(s.message, std::span(out).first(n));
                BOOST_REQUIRE(!r.has_value());
                BOOST_TEST(r.error() == EncodeFailure::kNoSpace);
                BOOST_TEST(
                    std::ranges::all_of(out, [](std::byte b) { return b == std::byte{0xaa}; }));
            }
        }
    }
    for (const auto& s : reply_samples()) {
        for (std::size_t n = 0; n < s.bytes.size(); ++n) {
            BOOST_TEST_CONTEXT(s.name << " into " << n) {
                Bytes out(s.bytes.size(), std::byte{0xaa});
                auto r = encode(s.message, std::span(out).first(n), kMsize);
                BOOST_REQUIRE(!r.has_value());
                BOOST_TEST(r.error() == EncodeFailure::kNoSpace);
                BOOST_TEST(
                    std::ranges::all_of(out, [](std::byte b) { return b == std::byte{0xaa}; }));
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::p9proto::test
