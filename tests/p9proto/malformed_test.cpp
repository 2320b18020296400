#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <string>

#include "p9proto/codec.hpp"
#include "tests/p9proto/print.hpp"
#include "tests/p9proto/wire.hpp"

namespace xen9p::p9proto::test {
namespace {

constexpr std::uint32_t kMsize = 8192;
constexpr std::uint16_t kTag = 0x4242;

std::uint8_t t(MsgType type) {
    return static_cast<std::uint8_t>(type);
}

DecodeFailure request_failure(const Bytes& msg, std::uint32_t msize = kMsize) {
    auto decoded = decode_request(msg, msize);
    BOOST_REQUIRE(!decoded.has_value());
    return decoded.error().failure;
}

DecodeFailure reply_failure(const Bytes& msg, std::uint32_t msize = kMsize) {
    auto decoded = decode_reply(msg, msize);
    BOOST_REQUIRE(!decoded.has_value());
    return decoded.error().failure;
}

Bytes lcreate_named(std::string_view name) {
    return Wire().u32(1).str(name).u32(0).u32(0644).u32(0).message(t(MsgType::Tlcreate), kTag);
}

Bytes walk_of(std::initializer_list<std::string_view> names) {
    Wire w;
    w.u32(1).u32(2).u16(names.size());
    for (auto n : names)
        w.str(n);
    return w.message(t(MsgType::Twalk), kTag);
}

Bytes symlink_to(std::string_view target) {
    return Wire().u32(1).str("l").str(target).u32(0).message(t(MsgType::Tsymlink), kTag);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(framing)

BOOST_AUTO_TEST_CASE(size_field_below_header_is_too_short_without_tag) {
    for (std::uint32_t size : {0u, 1u, 6u}) {
        Bytes msg = Wire().u32(1).message(t(MsgType::Tclunk), kTag);
        set_size(msg, size);
        auto decoded = decode_request(msg, kMsize);
        BOOST_REQUIRE(!decoded.has_value());
        BOOST_TEST(decoded.error().failure == DecodeFailure::kTooShort);
        BOOST_TEST(!decoded.error().tag.has_value());
    }
}

BOOST_AUTO_TEST_CASE(size_field_larger_or_smaller_than_buffer_is_a_mismatch) {
    Bytes msg = Wire().u32(1).message(t(MsgType::Tclunk), kTag);
    set_size(msg, static_cast<std::uint32_t>(msg.size() + 1));
    BOOST_TEST(request_failure(msg) == DecodeFailure::kSizeMismatch);
    set_size(msg, 0xffffffff);
    BOOST_TEST(request_failure(msg) == DecodeFailure::kSizeMismatch);
    set_size(msg, static_cast<std::uint32_t>(msg.size() - 1));
    BOOST_TEST(request_failure(msg) == DecodeFailure::kSizeMismatch);
}

BOOST_AUTO_TEST_CASE(message_above_msize_is_refused_with_its_tag) {
    std::string payload(4096 - 23 + 1, 'x');
    Bytes msg =
        Wire().u32(1).u64(0).u32(payload.size()).raw(payload).message(t(MsgType::Twrite), kTag);
    BOOST_REQUIRE(msg.size() == 4097u);
    auto decoded = decode_request(msg, 4096);
    BOOST_REQUIRE(!decoded.has_value());
    BOOST_TEST(decoded.error().failure == DecodeFailure::kAboveMsize);
    BOOST_TEST(decoded.error().tag == std::optional<std::uint16_t>(kTag));
    BOOST_TEST(decode_request(msg, 4097).has_value());
}

BOOST_AUTO_TEST_CASE(types_outside_9p2000l_are_unknown_with_their_tag) {
    // Tlerror, Terror, Topen and Tcreate of 9P2000.u, Tstat, a made-up type.
    for (std::uint8_t type : {6, 106, 112, 114, 124, 0, 255}) {
        Bytes msg = Wire().u32(1).message(type, kTag);
        auto decoded = decode_request(msg, kMsize);
        BOOST_REQUIRE(!decoded.has_value());
        BOOST_TEST(decoded.error().failure == DecodeFailure::kUnknownType);
        BOOST_TEST(decoded.error().tag == std::optional<std::uint16_t>(kTag));
    }
    BOOST_TEST(reply_failure(Wire().str("err").u32(2).message(107, kTag)) ==
               DecodeFailure::kUnknownType);
}

BOOST_AUTO_TEST_CASE(peek_header_needs_seven_bytes) {
    Bytes msg = Wire().u32(1).message(t(MsgType::Tclunk), 0x1234);
    auto h = peek_header(msg);
    BOOST_REQUIRE(h.has_value());
    BOOST_TEST(h->size == 11u);
    BOOST_TEST(h->type == t(MsgType::Tclunk));
    BOOST_TEST(h->tag == 0x1234);
    BOOST_TEST(!peek_header(std::span(msg).first(6)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lengths)

BOOST_AUTO_TEST_CASE(string_length_overrunning_the_message_is_truncated) {
    Bytes msg = Wire().u32(8192).u16(9).raw("9P2000.L").message(t(MsgType::Tversion), kNoTag);
    BOOST_TEST(request_failure(msg) == DecodeFailure::kTruncated);
    msg = Wire().u32(8192).u16(0xffff).raw("9P2000.L").message(t(MsgType::Tversion), kNoTag);
    BOOST_TEST(request_failure(msg) == DecodeFailure::kTruncated);
    // The overrun hides in the middle: uname claims the bytes of aname.
    msg = Wire().u32(1).u32(kNoFid).u16(20).raw("u").str("a").u32(0).message(t(MsgType::Tattach),
                                                                             kTag);
    BOOST_TEST(request_failure(msg) == DecodeFailure::kTruncated);
}

BOOST_AUTO_TEST_CASE(data_counts_that_overflow_the_message_are_truncated) {
    for (std::uint32_t count : {10u, 0x7fffffffu, 0xfffffff0u, 0xffffffffu}) {
        Bytes msg =
            Wire().u32(1).u64(0).u32(count).raw("123456789").message(t(MsgType::Twrite), kTag);
        BOOST_TEST(request_failure(msg) == DecodeFailure::kTruncated);
        msg = Wire().u32(count).raw("123456789").message(t(MsgType::Rread), kTag);
        BOOST_TEST(reply_failure(msg) == DecodeFailure::kTruncated);
        msg = Wire().u32(count).raw("123456789").message(t(MsgType::Rreaddir), kTag);
        BOOST_TEST(reply_failure(msg) == DecodeFailure::kTruncated);
    }
}

BOOST_AUTO_TEST_CASE(data_count_short_of_the_message_leaves_trailing_bytes) {
    Bytes msg = Wire().u32(1).u64(0).u32(3).raw("123456789").message(t(MsgType::Twrite), kTag);
    BOOST_TEST(request_failure(msg) == DecodeFailure::kTrailingBytes);
}

// A Twrite whose data a transport left in ring memory: only the fields up
// to count[4] are given, with the number of bytes that follow elsewhere.
BOOST_AUTO_TEST_CASE(a_twrite_with_its_data_elsewhere_decodes_as_its_whole_message_would) {
    const auto head = [](std::uint32_t count, std::size_t elsewhere) {
        Bytes msg = Wire().u32(7).u64(1234).u32(count).message(t(MsgType::Twrite), kTag);
        set_size(msg, static_cast<std::uint32_t>(msg.size() + elsewhere));
        return msg;
    };
    auto decoded = decode_request(head(5000, 5000), kMsize, Dialect::k9P2000L, 5000);
    BOOST_REQUIRE(decoded.has_value());
    const auto& write = std::get<Twrite>(decoded->body);
    BOOST_TEST(write.fid == 7u);
    BOOST_TEST(write.offset == 1234u);
    BOOST_TEST(write.data.bytes.empty());  // the caller holds it
    BOOST_TEST(decode_request(head(5000, 5000), kMsize, Dialect::k9P2000u, 5000).has_value());

    const auto failure = [](const Bytes& msg, std::size_t elsewhere, std::uint32_t msize = kMsize) {
        auto bad = decode_request(msg, msize, Dialect::k9P2000L, elsewhere);
        BOOST_REQUIRE(!bad.has_value());
        return bad.error().failure;
    };
    // The count and what is elsewhere disagree: as with the whole message.
    BOOST_TEST(failure(head(5001, 5000), 5000) == DecodeFailure::kTruncated);
    BOOST_TEST(failure(head(4999, 5000), 5000) == DecodeFailure::kTrailingBytes);
    // size[4] must count what is elsewhere.
    BOOST_TEST(failure(head(5000, 4999), 5000) == DecodeFailure::kSizeMismatch);
    BOOST_TEST(failure(head(5000, 5000), 5000, 4096) == DecodeFailure::kAboveMsize);
    // Part of the data given and part elsewhere is no split a transport makes.
    Bytes partial = Wire().u32(7).u64(0).u32(10).raw("12345").message(t(MsgType::Twrite), kTag);
    set_size(partial, static_cast<std::uint32_t>(partial.size() + 5));
    BOOST_TEST(failure(partial, 5) == DecodeFailure::kTruncated);
    // Only a payload may be elsewhere.
    Bytes clunk = Wire().u32(1).message(t(MsgType::Tclunk), kTag);
    set_size(clunk, static_cast<std::uint32_t>(clunk.size() + 4));
    BOOST_TEST(failure(clunk, 4) == DecodeFailure::kTrailingBytes);
    Bytes walk = walk_of({"a"});
    set_size(walk, static_cast<std::uint32_t>(walk.size() + 2));
    BOOST_TEST(failure(walk, 2) == DecodeFailure::kTrailingBytes);
}

BOOST_AUTO_TEST_CASE(twalk_with_17_names_is_refused) {
    Wire w;
    w.u32(1).u32(2).u16(17);
    for (int i = 0; i < 17; ++i)
        w.str("a");
    auto decoded = decode_request(w.message(t(MsgType::Twalk), kTag), kMsize);
    BOOST_REQUIRE(!decoded.has_value());
    BOOST_TEST(decoded.error().failure == DecodeFailure::kTooManyWalkElems);
    BOOST_TEST(decoded.error().tag == std::optional<std::uint16_t>(kTag));
    // A huge nwname with no names behind it is refused by count, not read.
    BOOST_TEST(request_failure(Wire().u32(1).u32(2).u16(0xffff).message(t(MsgType::Twalk), kTag)) ==
               DecodeFailure::kTooManyWalkElems);
}

BOOST_AUTO_TEST_CASE(twalk_with_16_names_is_accepted) {
    Wire w;
    w.u32(1).u32(2).u16(16);
    for (int i = 0; i < 16; ++i)
        w.str(std::string(1, static_cast<char>('a' + i)));
    const Bytes msg = w.message(t(MsgType::Twalk), kTag);  // the decoded names view it
    auto decoded = decode_request(msg, kMsize);
    BOOST_REQUIRE(decoded.has_value());
    const auto& walk = std::get<Twalk>(decoded->body);
    BOOST_TEST(walk.names.count == 16);
    BOOST_TEST(walk.names.names[15].str == "p");
}

BOOST_AUTO_TEST_CASE(rwalk_with_17_qids_is_refused) {
    Wire w;
    w.u16(17);
    for (int i = 0; i < 17; ++i)
        w.qid(0, 0, static_cast<std::uint64_t>(i));
    BOOST_TEST(reply_failure(w.message(t(MsgType::Rwalk), kTag)) ==
               DecodeFailure::kTooManyWalkElems);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(names)

BOOST_AUTO_TEST_CASE(entry_names_refuse_empty_slash_dot_and_dotdot) {
    for (std::string_view bad : {"", "/", "a/b", "dir/", ".", ".."}) {
        BOOST_TEST_CONTEXT("'" << bad << "'") {
            BOOST_TEST(request_failure(lcreate_named(bad)) == DecodeFailure::kBadName);
        }
    }
    for (std::string_view good : {"a", "...", ".hidden", "a b", "\xff\xfe"}) {
        BOOST_TEST(decode_request(lcreate_named(good), kMsize).has_value());
    }
}

BOOST_AUTO_TEST_CASE(entry_names_refuse_nul) {
    using namespace std::string_view_literals;
    BOOST_TEST(request_failure(lcreate_named("a\0b"sv)) == DecodeFailure::kBadString);
    BOOST_TEST(request_failure(lcreate_named("\0"sv)) == DecodeFailure::kBadString);
}

BOOST_AUTO_TEST_CASE(entry_names_are_at_most_255_bytes) {
    BOOST_TEST(decode_request(lcreate_named(std::string(255, 'n')), kMsize).has_value());
    BOOST_TEST(request_failure(lcreate_named(std::string(256, 'n'))) ==
               DecodeFailure::kNameTooLong);
}

BOOST_AUTO_TEST_CASE(every_name_field_is_checked) {
    // The second name of Trenameat, the name of Tunlinkat, Tmkdir, Tlink, Tmknod, Trename.
    BOOST_TEST(request_failure(Wire().u32(1).str("a").u32(2).str("..").message(
                   t(MsgType::Trenameat), kTag)) == DecodeFailure::kBadName);
    BOOST_TEST(request_failure(Wire().u32(1).str(".").u32(0).message(
                   t(MsgType::Tunlinkat), kTag)) == DecodeFailure::kBadName);
    BOOST_TEST(request_failure(Wire().u32(1).str("x/y").u32(0).u32(0).message(
                   t(MsgType::Tmkdir), kTag)) == DecodeFailure::kBadName);
    BOOST_TEST(request_failure(Wire().u32(1).u32(2).str("").message(t(MsgType::Tlink), kTag)) ==
               DecodeFailure::kBadName);
    BOOST_TEST(request_failure(Wire().u32(1).str("..").u32(0).u32(0).u32(0).u32(0).message(
                   t(MsgType::Tmknod), kTag)) == DecodeFailure::kBadName);
    BOOST_TEST(request_failure(Wire().u32(1).u32(2).str("a/").message(t(MsgType::Trename), kTag)) ==
               DecodeFailure::kBadName);
    BOOST_TEST(request_failure(Wire().u32(1).str("/abs").str("t").u32(0).message(
                   t(MsgType::Tsymlink), kTag)) == DecodeFailure::kBadName);
}

BOOST_AUTO_TEST_CASE(walk_names_allow_dot_and_dotdot_but_not_slash_or_empty) {
    const Bytes msg = walk_of({"..", ".", "x"});
    auto decoded = decode_request(msg, kMsize);
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST(std::get<Twalk>(decoded->body).names.names[0].str == "..");
    BOOST_TEST(request_failure(walk_of({"a", ""})) == DecodeFailure::kBadName);
    BOOST_TEST(request_failure(walk_of({"a/b"})) == DecodeFailure::kBadName);
    BOOST_TEST(request_failure(walk_of({std::string(256, 'w')})) == DecodeFailure::kNameTooLong);
}

BOOST_AUTO_TEST_CASE(symlink_targets_are_1_to_4095_bytes_without_nul) {
    using namespace std::string_view_literals;
    BOOST_TEST(decode_request(symlink_to("/a/../b"), kMsize).has_value());
    BOOST_TEST(decode_request(symlink_to(std::string(4095, 't')), kMsize).has_value());
    BOOST_TEST(request_failure(symlink_to(std::string(4096, 't'))) == DecodeFailure::kNameTooLong);
    BOOST_TEST(request_failure(symlink_to("")) == DecodeFailure::kBadName);
    BOOST_TEST(request_failure(symlink_to("a\0b"sv)) == DecodeFailure::kBadString);
    BOOST_TEST(reply_failure(Wire().str("").message(t(MsgType::Rreadlink), kTag)) ==
               DecodeFailure::kBadName);
}

BOOST_AUTO_TEST_CASE(xattr_names_may_be_empty_but_not_long_or_nul) {
    using namespace std::string_view_literals;
    auto xattrwalk = [](std::string_view name) {
        return Wire().u32(1).u32(2).str(name).message(t(MsgType::Txattrwalk), kTag);
    };
    BOOST_TEST(decode_request(xattrwalk(""), kMsize).has_value());
    BOOST_TEST(decode_request(xattrwalk("user.a/b"), kMsize).has_value());
    BOOST_TEST(request_failure(xattrwalk(std::string(256, 'x'))) == DecodeFailure::kNameTooLong);
    BOOST_TEST(request_failure(xattrwalk("user.\0"sv)) == DecodeFailure::kBadString);
}

BOOST_AUTO_TEST_CASE(text_fields_refuse_nul) {
    using namespace std::string_view_literals;
    BOOST_TEST(request_failure(Wire()
                                   .u32(1)
                                   .u32(kNoFid)
                                   .str("ro\0ot"sv)
                                   .str("")
                                   .u32(0)
                                   .message(t(MsgType::Tattach), kTag)) ==
               DecodeFailure::kBadString);
    BOOST_TEST(request_failure(
                   Wire().u32(8192).str("9P2000.L\0"sv).message(t(MsgType::Tversion), kNoTag)) ==
               DecodeFailure::kBadString);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(each_decode_failure_maps_to_a_documented_errno) {
    BOOST_TEST(errno_for(DecodeFailure::kTooShort) == std::uint32_t{EPROTO});
    BOOST_TEST(errno_for(DecodeFailure::kSizeMismatch) == std::uint32_t{EPROTO});
    BOOST_TEST(errno_for(DecodeFailure::kAboveMsize) == std::uint32_t{EPROTO});
    BOOST_TEST(errno_for(DecodeFailure::kTruncated) == std::uint32_t{EPROTO});
    BOOST_TEST(errno_for(DecodeFailure::kTrailingBytes) == std::uint32_t{EPROTO});
    BOOST_TEST(errno_for(DecodeFailure::kUnknownType) == std::uint32_t{EOPNOTSUPP});
    BOOST_TEST(errno_for(DecodeFailure::kNameTooLong) == std::uint32_t{ENAMETOOLONG});
    BOOST_TEST(errno_for(DecodeFailure::kBadName) == std::uint32_t{EINVAL});
    BOOST_TEST(errno_for(DecodeFailure::kBadString) == std::uint32_t{EINVAL});
    BOOST_TEST(errno_for(DecodeFailure::kTooManyWalkElems) == std::uint32_t{EINVAL});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(capacity)

BOOST_AUTO_TEST_CASE(reply_capacity_follows_the_linux_client_buffers) {
    const std::uint32_t big = 512 * 1024;
    BOOST_TEST(reply_capacity(Tread{1, 0, 100}, big) == 111u);
    BOOST_TEST(reply_capacity(Treaddir{1, 0, 1000}, big) == 1011u);
    BOOST_TEST(reply_capacity(Tread{1, 0, 0}, big) == 11u);
    BOOST_TEST(reply_capacity(Tread{1, 0, 0xffffffff}, big) == big);
    Twalk walk{1, 2, {}};
    walk.names.count = 3;
    BOOST_TEST(reply_capacity(walk, big) == 9u + 3 * 13);
    walk.names.count = 0;
    BOOST_TEST(reply_capacity(walk, big) == 11u);  // room for Rlerror
    BOOST_TEST(reply_capacity(Tgetattr{1, getattr::kAll}, big) == 4096u);
    BOOST_TEST(reply_capacity(Tversion{big, Text{"9P2000.L"}}, big) == 4096u);
    BOOST_TEST(reply_capacity(Treadlink{1}, big) == 8192u);
    BOOST_TEST(reply_capacity(Txattrwalk{1, 2, XattrName{}}, big) == 8192u);
    BOOST_TEST(reply_capacity(Tmkdir{1, Name{"d"}, 0, 0}, big) == 8192u);
    BOOST_TEST(reply_capacity(Tlock{}, big) == 8192u);
    BOOST_TEST(reply_capacity(Treadlink{1}, 4096) == 4096u);
    BOOST_TEST(reply_capacity(Tread{1, 0, 1 << 20}, 65536) == 65536u);
}

BOOST_AUTO_TEST_CASE(rread_above_the_requested_count_is_refused) {
    std::string data(101, 'd');
    Reply reply{1, Rread{Data{as_span(data)}}};
    Bytes out(4096, std::byte{0xaa});
    auto refused = encode(reply, out, reply_capacity(Tread{1, 0, 100}, kMsize));
    BOOST_REQUIRE(!refused.has_value());
    BOOST_TEST(refused.error() == EncodeFailure::kAboveCapacity);
    BOOST_TEST(out[0] == std::byte{0xaa});
    auto ok = encode(reply, out, reply_capacity(Tread{1, 0, 101}, kMsize));
    BOOST_REQUIRE(ok.has_value());
    BOOST_TEST(*ok == 112u);
}

BOOST_AUTO_TEST_CASE(rreaddir_above_the_requested_count_is_refused) {
    std::string data(50, 'e');
    Reply reply{1, Rreaddir{Data{as_span(data)}}};
    Bytes out(4096);
    auto refused = encode(reply, out, reply_capacity(Treaddir{1, 0, 49}, kMsize));
    BOOST_REQUIRE(!refused.has_value());
    BOOST_TEST(refused.error() == EncodeFailure::kAboveCapacity);
    BOOST_TEST(encode(reply, out, reply_capacity(Treaddir{1, 0, 50}, kMsize)).has_value());
}

BOOST_AUTO_TEST_CASE(rwalk_with_more_qids_than_names_is_refused) {
    Twalk walk{1, 2, {}};
    walk.names.count = 1;
    Rwalk rwalk;
    rwalk.qids.count = 2;
    Bytes out(4096);
    auto r = encode(Reply{1, rwalk}, out, reply_capacity(walk, kMsize));
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error() == EncodeFailure::kAboveCapacity);
}

BOOST_AUTO_TEST_CASE(fields_that_cannot_be_represented_are_refused) {
    std::string huge(65536, 'h');
    Bytes out(70000);
    auto r = encode(Request{1, Tversion{8192, Text{huge}}}, out);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error() == EncodeFailure::kFieldTooLarge);
    Twalk walk{1, 2, {}};
    walk.names.count = 17;
    r = encode(Request{1, walk}, out);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error() == EncodeFailure::kFieldTooLarge);
    std::string fits(65535, 'h');
    BOOST_TEST(encode(Request{1, Tversion{8192, Text{fits}}}, out).has_value());
}

BOOST_AUTO_TEST_CASE(data_reply_header_matches_the_full_encoding) {
    std::string data(300, 'z');
    Bytes full(400);
    auto n = encode(Reply{0x1234, Rread{Data{as_span(data)}}}, full, 4096);
    BOOST_REQUIRE(n.has_value());
    std::array<std::byte, kDataReplyHeaderSize> header{};
    encode_data_reply_header(MsgType::Rread, 0x1234, 300, header);
    BOOST_TEST(std::ranges::equal(header, std::span(full).first(kDataReplyHeaderSize)));
    encode_data_reply_header(MsgType::Rreaddir, 7, 0, header);
    auto decoded = decode_reply(header, 4096);
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST(std::get<Rreaddir>(decoded->body).data.bytes.empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::p9proto::test
