// 9P2000.u: golden bytes of every .u-only message, stat records, dialect
// separation, truncation at every offset, and the mode helpers.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>

#include "p9proto/codec.hpp"
#include "p9proto/open_flags.hpp"
#include "p9proto/u_stat.hpp"
#include "p9proto/wire_errno.hpp"
#include "tests/p9proto/print.hpp"
#include "tests/p9proto/samples.hpp"
#include "tests/p9proto/truncation.hpp"

namespace xen9p::p9proto::test {
namespace {

constexpr std::uint32_t kMsize = 8192;
constexpr Dialect kU = Dialect::k9P2000u;
constexpr Dialect kL = Dialect::k9P2000L;

std::vector<std::uint8_t> numbers(std::span<const std::byte> b) {
    std::vector<std::uint8_t> out;
    for (auto x : b)
        out.push_back(static_cast<std::uint8_t>(x));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(u_golden)

BOOST_AUTO_TEST_CASE(every_u_request_encodes_to_and_decodes_from_its_golden_bytes) {
    for (const auto& s : u_request_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            Bytes out(s.bytes.size() + 16, std::byte{0xaa});
            auto n = encode(s.message, out);
            BOOST_REQUIRE(n.has_value());
            out.resize(*n);
            BOOST_TEST(numbers(out) == numbers(s.bytes), boost::test_tools::per_element());
            BOOST_TEST(encoded_size(s.message) == s.bytes.size());
            auto decoded = decode_request(s.bytes, kMsize, kU);
            BOOST_REQUIRE(decoded.has_value());
            BOOST_TEST((*decoded == s.message));
        }
    }
}

BOOST_AUTO_TEST_CASE(every_u_reply_encodes_to_and_decodes_from_its_golden_bytes) {
    for (const auto& s : u_reply_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            Bytes out(s.bytes.size() + 16, std::byte{0xaa});
            auto n = encode(s.message, out, kMsize);
            BOOST_REQUIRE(n.has_value());
            out.resize(*n);
            BOOST_TEST(numbers(out) == numbers(s.bytes), boost::test_tools::per_element());
            auto decoded = decode_reply(s.bytes, kMsize, kU);
            BOOST_REQUIRE(decoded.has_value());
            BOOST_TEST((*decoded == s.message));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_stat_record_has_linux_layout_and_round_trips) {
    const Bytes golden = sample_stat_record();
    BOOST_TEST(stat_record_size(sample_stat()) == golden.size());
    Bytes out(golden.size());
    auto n = encode_stat_record(sample_stat(), out);
    BOOST_REQUIRE(n.has_value());
    BOOST_TEST(numbers(out) == numbers(golden), boost::test_tools::per_element());
    // Records follow each other in a directory read.
    Bytes two = golden;
    two.insert(two.end(), golden.begin(), golden.end());
    auto first = decode_stat_record(two);
    BOOST_REQUIRE(first.has_value());
    BOOST_TEST(first->size == golden.size());
    BOOST_TEST((first->stat == sample_stat()));
    BOOST_TEST(encode_stat_record(sample_stat(), std::span(out).first(golden.size() - 1)).error() ==
               EncodeFailure::kNoSpace);
}

BOOST_AUTO_TEST_CASE(u_only_messages_are_unknown_under_l_and_l_only_under_u) {
    for (const auto& s : u_request_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            auto decoded = decode_request(s.bytes, kMsize, kL);
            BOOST_REQUIRE(!decoded.has_value());
            BOOST_TEST(decoded.error().failure == DecodeFailure::kUnknownType);
            BOOST_TEST(decoded.error().tag == std::optional(s.message.tag));
            BOOST_TEST(errno_for(decoded.error().failure) == std::uint32_t{EOPNOTSUPP});
        }
    }
    for (const auto& s : u_reply_samples()) {
        BOOST_TEST(!decode_reply(s.bytes, kMsize, kL).has_value());
    }
    for (const auto& s : request_samples()) {
        BOOST_TEST_CONTEXT(s.name) {
            auto decoded = decode_request(s.bytes, kMsize, kU);
            const auto n = static_cast<std::uint8_t>(type_of(s.message.body));
            // Shared by both dialects: version .. remove (100-123).
            BOOST_TEST(decoded.has_value() == (n >= 100));
            if (!decoded) BOOST_TEST(decoded.error().failure == DecodeFailure::kUnknownType);
        }
    }
    for (const auto& s : reply_samples()) {
        const auto n = static_cast<std::uint8_t>(type_of(s.message.body));
        BOOST_TEST(decode_reply(s.bytes, kMsize, kU).has_value() == (n >= 100));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(u_truncation)

BOOST_AUTO_TEST_CASE(every_u_message_truncated_at_every_offset_is_refused) {
    for (const auto& s : u_request_samples()) {
        check_every_cut(s.name, s.bytes, s.message.tag,
                        [](const Bytes& b) { return decode_request(b, kMsize, kU); });
    }
    for (const auto& s : u_reply_samples()) {
        check_every_cut(s.name, s.bytes, s.message.tag,
                        [](const Bytes& b) { return decode_reply(b, kMsize, kU); });
    }
}

BOOST_AUTO_TEST_CASE(every_stat_record_prefix_is_refused) {
    const Bytes golden = sample_stat_record();
    for (std::size_t n = 0; n < golden.size(); ++n) {
        BOOST_TEST_CONTEXT("cut at " << n) {
            auto decoded = decode_stat_record(std::span(golden).first(n));
            BOOST_REQUIRE(!decoded.has_value());
            BOOST_TEST(decoded.error() == DecodeFailure::kTruncated);
        }
    }
}

BOOST_AUTO_TEST_CASE(stat_sizes_that_disagree_with_the_fields_are_refused) {
    const Bytes record = sample_stat_record();
    auto twstat = [&](std::uint16_t outer, std::uint16_t inner, std::size_t extra) {
        Wire w;
        w.u32(4).u16(outer).u16(inner);
        for (std::size_t i = 2; i < record.size(); ++i)
            w.u8(static_cast<std::uint8_t>(record[i]));
        for (std::size_t i = 0; i < extra; ++i)
            w.u8(0);
        return decode_request(w.message(static_cast<std::uint8_t>(MsgType::Twstat), 9), kMsize, kU);
    };
    BOOST_TEST(twstat(66, 64, 0).has_value());
    // The inner size claims more than the fields: runs past the outer size.
    BOOST_TEST(twstat(66, 65, 0).error().failure == DecodeFailure::kTruncated);
    // The inner size claims less: the last field is cut.
    BOOST_TEST(twstat(66, 63, 0).error().failure == DecodeFailure::kTruncated);
    // Padding inside the outer size after the record.
    BOOST_TEST(twstat(67, 64, 1).error().failure == DecodeFailure::kTrailingBytes);
    // Padding inside the record after its fields.
    BOOST_TEST(twstat(67, 65, 1).error().failure == DecodeFailure::kTrailingBytes);
    // An outer size beyond the message.
    BOOST_TEST(twstat(67, 64, 0).error().failure == DecodeFailure::kTruncated);
}

BOOST_AUTO_TEST_CASE(tcreate_names_are_checked_and_text_refuses_nul) {
    auto tcreate = [](std::string_view name, std::string_view ext) {
        return decode_request(Wire().u32(1).str(name).u32(0644).u8(0).str(ext).message(
                                  static_cast<std::uint8_t>(MsgType::Tcreate), 3),
                              kMsize, kU);
    };
    BOOST_TEST(tcreate("ok", "").has_value());
    BOOST_TEST(tcreate("a/b", "").error().failure == DecodeFailure::kBadName);
    BOOST_TEST(tcreate("..", "").error().failure == DecodeFailure::kBadName);
    BOOST_TEST(tcreate(std::string(256, 'n'), "").error().failure == DecodeFailure::kNameTooLong);
    BOOST_TEST(tcreate("ok", std::string_view("a\0b", 3)).error().failure ==
               DecodeFailure::kBadString);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(u_helpers)

BOOST_AUTO_TEST_CASE(rerror_leaves_room_in_every_u_reply_capacity) {
    // Twalk with no names has the smallest reply; Rerror must still fit
    // with an ename of P9_ERRMAX.
    BOOST_TEST(reply_capacity(Twalk{}, kMsize, kU) >= kHeaderSize + kErrMax + 4);
    BOOST_TEST(reply_capacity(Twalk{}, kMsize, kL) == kHeaderSize + 4);
    BOOST_TEST(reply_capacity(Tstat{}, kMsize, kU) == 8192u);
}

BOOST_AUTO_TEST_CASE(error_text_is_the_c_library_message_within_errmax) {
    BOOST_TEST(error_text(2) == "No such file or directory");
    BOOST_TEST(error_text(95) == "Operation not supported");
    BOOST_TEST(error_text(0) == "Unknown error");
    BOOST_TEST(error_text(99999) == "Unknown error");
    for (std::uint32_t e = 1; e < 200; ++e)
        BOOST_TEST(error_text(e).size() <= kMaxEnameLength);
}

BOOST_AUTO_TEST_CASE(u_modes_carry_type_and_special_bits_both_ways) {
    BOOST_TEST(u_mode_of(S_IFDIR | 0755) == (dm::kDir | 0755));
    BOOST_TEST(u_mode_of(S_IFLNK | 0777) == (dm::kSymlink | 0777));
    BOOST_TEST(u_mode_of(S_IFCHR | 0600) == (dm::kDevice | 0600));
    BOOST_TEST(u_mode_of(S_IFBLK | 0600) == (dm::kDevice | 0600));
    BOOST_TEST(u_mode_of(S_IFIFO | 0644) == (dm::kNamedPipe | 0644));
    BOOST_TEST(u_mode_of(S_IFSOCK | 0644) == (dm::kSocket | 0644));
    BOOST_TEST(u_mode_of(S_IFREG | S_ISUID | S_ISGID | S_ISVTX | 0700) ==
               (dm::kSetuid | dm::kSetgid | dm::kSetvtx | 0700));
    BOOST_TEST(host_permissions(dm::kDir | dm::kSetuid | dm::kSetgid | dm::kSetvtx | 0751) ==
               std::uint32_t{S_ISUID | S_ISGID | S_ISVTX | 0751});
}

BOOST_AUTO_TEST_CASE(open_modes_map_to_dotl_flags) {
    BOOST_TEST(dotl_flags_of(omode::kRead) == dotl::kRdonly);
    BOOST_TEST(dotl_flags_of(omode::kExec) == dotl::kRdonly);
    BOOST_TEST(dotl_flags_of(omode::kWrite) == dotl::kWronly);
    BOOST_TEST(dotl_flags_of(omode::kRdwr | omode::kTrunc) == (dotl::kRdwr | dotl::kTrunc));
    BOOST_TEST(dotl_flags_of(omode::kWrite | omode::kAppend) == (dotl::kWronly | dotl::kAppend));
    BOOST_TEST(dotl_flags_of(omode::kRead | omode::kRclose) == dotl::kRdonly);
}

BOOST_AUTO_TEST_CASE(a_blank_wstat_keeps_every_field) {
    const UStat st = blank_wstat();
    BOOST_TEST(st.mode == kKeep32);
    BOOST_TEST(st.length == kKeep64);
    BOOST_TEST(st.n_uid == kKeep32);
    BOOST_TEST(st.name.str.empty());
    // 2+4+13+4+4+4+8 + five empty strings + 12 (Linux's p9_client_statsize:
    // 61), plus its size[2].
    BOOST_TEST(stat_record_size(st) == 63u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::p9proto::test
