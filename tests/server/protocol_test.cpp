// Protocol behaviour over a real unix socket: many requests in flight on one
// connection, msize limits, and framing violations that close one connection
// while the server keeps serving the others.
#include <numeric>

#include "p9proto/codec.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/server/server_fixture.hpp"

namespace xen9p::server::test {
namespace {

using namespace p9proto;

std::string pattern(std::size_t size) {
    std::string out(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
        out[i] = static_cast<char>(i * 131 % 251);
    return out;
}

std::string string_of(std::span<const std::byte> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// Sends bytes as they are, bypassing the client's encoder.
void send_raw(client::Client& c, std::span<const std::byte> bytes) {
    client::OutgoingMessage message;
    message.bytes = bytes;
    must(c.transport().send(message));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(protocol)

BOOST_AUTO_TEST_CASE(many_requests_in_flight_over_one_connection) {
    SessionConfig config;
    config.max_in_flight = 512;
    SocketServer s({}, config);
    constexpr std::size_t kRequests = 400;
    constexpr std::uint32_t kChunk = 1000;
    std::string content = pattern(kRequests * kChunk);
    write_file(s / "f", content);
    auto c = s.attached();
    must(walk(*c, 2, {"f"}));
    must(client::lopen(*c, 2, dotl::kRdonly));
    std::vector<std::uint16_t> tags;
    for (std::size_t i = 0; i < kRequests; ++i) {
        tags.push_back(must(c->send(Tread{2, i * kChunk, kChunk})));
    }
    BOOST_TEST(c->in_flight() == kRequests);
    // Awaited in reverse: replies are matched by tag whatever their order.
    for (std::size_t i = kRequests; i-- > 0;) {
        auto reply = must(c->await(tags[i]));
        auto data = must(client::expect<Rread>(reply))->data.bytes;
        BOOST_REQUIRE(string_of(data) == content.substr(i * kChunk, kChunk));
    }
    c.reset();
    s.stop();
    BOOST_TEST_MESSAGE("most requests in flight on one connection: " << s.max_in_flight());
    BOOST_TEST(s.max_in_flight() > 1u);
}

BOOST_AUTO_TEST_CASE(reads_and_readdir_fit_the_smallest_msize) {
    SocketServer s;
    std::string content = pattern(100000);
    write_file(s / "f", content);
    for (int i = 0; i < 100; ++i)
        write_file(s / ("name-" + std::to_string(i)), "");
    auto c = s.attached(kMinMsize);
    BOOST_TEST(c->msize() == kMinMsize);
    must(walk(*c, 2, {"f"}));
    must(client::lopen(*c, 2, dotl::kRdonly));
    auto reply = must(c->call(Tread{2, 0, 1 << 20}));
    BOOST_TEST(must(client::expect<Rread>(reply))->data.bytes.size() ==
               kMinMsize - kDataReplyHeaderSize);
    BOOST_TEST(string_of(must(client::read_all(*c, 2))) == content);
    must(walk(*c, 3, {}));
    must(client::lopen(*c, 3, dotl::kRdonly));
    BOOST_TEST(must(client::readdir_all(*c, 3)).size() == 103u);
}

BOOST_AUTO_TEST_CASE(message_above_msize_closes_only_that_connection) {
    SocketServer s;
    write_file(s / "f", "");
    auto bad = s.attached(kMinMsize);
    auto good = s.attached();
    must(walk(*bad, 2, {"f"}));
    must(client::lopen(*bad, 2, dotl::kRdwr));
    std::vector<std::byte> big(2 * kMinMsize);
    std::vector<std::byte> buffer(3 * kMinMsize);
    auto size = encode(Request{7, Twrite{2, 0, {big}}}, buffer);
    BOOST_REQUIRE(size.has_value());
    send_raw(*bad, std::span(buffer).first(*size));
    BOOST_TEST(err(bad->transport().receive(kMinMsize)) != 0);
    BOOST_TEST(must(call<Rgetattr>(*good, Tgetattr{1, getattr::kBasic})).qid.type ==
               qid_type::kDir);
}

BOOST_AUTO_TEST_CASE(message_shorter_than_a_header_closes_the_connection) {
    SocketServer s;
    auto bad = s.attached();
    auto good = s.attached();
    std::byte runt[] = {std::byte{5}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{100}};
    send_raw(*bad, runt);
    BOOST_TEST(err(bad->transport().receive(8192)) != 0);
    must(call<Rgetattr>(*good, Tgetattr{1, getattr::kBasic}));
}

BOOST_AUTO_TEST_CASE(undecodable_request_with_a_tag_is_answered_with_rlerror) {
    SocketServer s;
    auto c = s.attached();
    std::vector<std::byte> buffer(256);
    auto size = encode(Request{9, Tmkdir{1, {"ok"}, 0755, 0}}, buffer);
    BOOST_REQUIRE(size.has_value());
    // "ok" -> "o/": a name with a slash.
    buffer[*size - 10] = std::byte{'/'};
    send_raw(*c, std::span(buffer).first(*size));
    auto raw = must(c->transport().receive(c->msize()));
    auto reply = decode_reply(raw, c->msize());
    BOOST_REQUIRE(reply.has_value());
    BOOST_TEST(reply->tag == 9);
    BOOST_TEST(std::holds_alternative<Rlerror>(reply->body));
    BOOST_TEST(::access((s / "o/").c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(tcp_listener_on_loopback_serves_like_the_unix_one) {
    SocketServer s({}, {}, true);
    std::string content = pattern(300000);
    write_file(s / "f", content);
    auto a = s.attached();
    auto b = s.attached();
    must(walk(*a, 2, {"f"}));
    must(client::lopen(*a, 2, dotl::kRdonly));
    BOOST_TEST(string_of(must(client::read_all(*a, 2))) == content);
    must(call<Rmkdir>(*b, Tmkdir{1, {"made-over-tcp"}, 0755, ::getgid()}));
    BOOST_TEST(::access((s / "made-over-tcp").c_str(), F_OK) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::server::test
