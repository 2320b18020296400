// Large Twrites over the unix socket at the msize the Linux client mounts with
// (262144), whole and split across many send() calls as a relay delivers them.
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "p9proto/open_flags.hpp"
#include "tests/server/server_fixture.hpp"

namespace xen9p::server::test {
namespace {

using namespace p9proto;

constexpr std::uint32_t kMountMsize = 262144;

std::vector<std::byte> pattern(std::size_t size) {
    std::vector<std::byte> out(size);
    for (std::size_t i = 0; i < size; ++i)
        out[i] = static_cast<std::byte>((i * 7 + i / 4096) & 0xff);
    return out;
}

void create(client::Client& c, std::uint32_t fid, std::string_view name) {
    must(walk(c, fid, {}));
    must(call<Rlcreate>(c, Tlcreate{fid, {name}, dotl::kWronly, 0644, ::getgid()}));
}

// Sends `message` in pieces of the given sizes (the rest in one last piece).
void send_in_pieces(int fd, std::span<const std::byte> message, std::vector<std::size_t> pieces) {
    std::size_t done = 0;
    for (std::size_t i = 0; done < message.size(); ++i) {
        std::size_t n =
            i < pieces.size() ? std::min(pieces[i], message.size() - done) : message.size() - done;
        while (n > 0) {
            ssize_t sent = ::send(fd, message.data() + done, n, MSG_NOSIGNAL);
            BOOST_REQUIRE(sent > 0);
            done += static_cast<std::size_t>(sent);
            n -= static_cast<std::size_t>(sent);
        }
    }
}

// Reads one whole reply from the socket (size[4] framing).
std::vector<std::byte> receive_reply(int fd) {
    std::vector<std::byte> out(4);
    auto read_exact = [fd](std::span<std::byte> into) {
        std::size_t got = 0;
        while (got < into.size()) {
            ssize_t n = ::recv(fd, into.data() + got, into.size() - got, 0);
            BOOST_REQUIRE(n > 0);
            got += static_cast<std::size_t>(n);
        }
    };
    read_exact(out);
    std::uint32_t size = 0;
    for (std::size_t i = 0; i < 4; ++i)
        size |= static_cast<std::uint32_t>(out[i]) << (8 * i);
    BOOST_REQUIRE(size >= kHeaderSize && size <= kMountMsize);
    out.resize(size);
    read_exact(std::span(out).subspan(4));
    return out;
}

std::size_t encoded(const Request& request, std::span<std::byte> out) {
    auto size = encode(request, out);
    BOOST_REQUIRE(size.has_value());
    return *size;
}

std::uint32_t rwrite_count(std::span<const std::byte> message, std::uint16_t tag) {
    auto reply = decode_reply(message, kMountMsize);
    BOOST_REQUIRE(reply.has_value());
    BOOST_TEST(reply->tag == tag);
    const auto* w = std::get_if<Rwrite>(&reply->body);
    BOOST_REQUIRE_MESSAGE(w != nullptr, "reply is not Rwrite");
    return w->count;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(large_write)

BOOST_AUTO_TEST_CASE(write_of_64k_at_msize_262144_is_answered_and_stored) {
    SocketServer s;
    auto c = s.attached(kMountMsize);
    BOOST_TEST(c->msize() == kMountMsize);
    create(*c, 2, "f");
    auto data = pattern(65536);
    auto w = must(call<Rwrite>(*c, Twrite{2, 0, {data}}));
    BOOST_TEST(w.count == data.size());
    // A full-msize payload right after it.
    auto big = pattern(kMountMsize - kIoHeaderSize);
    w = must(call<Rwrite>(*c, Twrite{2, data.size(), {big}}));
    BOOST_TEST(w.count == big.size());
    must(client::clunk(*c, 2));
    const std::string text = read_file(s / "f");
    const auto stored = std::as_bytes(std::span(text));
    BOOST_REQUIRE(stored.size() == data.size() + big.size());
    BOOST_TEST(std::ranges::equal(stored.first(data.size()), data));
    BOOST_TEST(std::ranges::equal(stored.subspan(data.size()), big));
}

BOOST_AUTO_TEST_CASE(twrites_split_across_many_sends_are_each_answered) {
    SocketServer s;
    auto c = s.attached(kMountMsize);
    create(*c, 2, "f");
    int fd = static_cast<client::StreamTransport&>(c->transport()).fd();
    auto data = pattern(65536);
    std::vector<std::byte> buffer(kMountMsize);
    // Splits a relay produces: the size field alone, the header torn, 4 KiB
    // pages, and one byte short of the end.
    std::vector<std::vector<std::size_t>> splits = {
        {1, 2, 1, 3}, {4, 19}, std::vector<std::size_t>(17, 4096), {65558}, {7, 65536, 16},
    };
    std::uint64_t offset = 0;
    std::uint16_t tag = 100;
    for (const auto& split : splits) {
        auto size = encoded(Request{tag, Twrite{2, offset, {data}}}, buffer);
        send_in_pieces(fd, std::span(buffer).first(size), split);
        BOOST_TEST(rwrite_count(receive_reply(fd), tag) == data.size());
        offset += data.size();
        ++tag;
    }
    // Two Twrites back to back in one send, the second torn at its end.
    auto first = encoded(Request{tag, Twrite{2, offset, {data}}}, buffer);
    std::vector<std::byte> both(buffer.begin(), buffer.begin() + first);
    auto second = encoded(
        Request{static_cast<std::uint16_t>(tag + 1), Twrite{2, offset + data.size(), {data}}},
        buffer);
    both.insert(both.end(), buffer.begin(), buffer.begin() + second);
    send_in_pieces(fd, both, {first + second - 5});
    std::set<std::uint16_t> answered;
    for (int i = 0; i < 2; ++i) {
        auto reply = receive_reply(fd);
        auto decoded = decode_reply(reply, kMountMsize);
        BOOST_REQUIRE(decoded.has_value());
        answered.insert(decoded->tag);
        BOOST_TEST(rwrite_count(reply, decoded->tag) == data.size());
    }
    BOOST_TEST(answered == (std::set<std::uint16_t>{tag, static_cast<std::uint16_t>(tag + 1)}));
    offset += 2 * data.size();
    const std::string text = read_file(s / "f");
    const auto stored = std::as_bytes(std::span(text));
    BOOST_REQUIRE(stored.size() == offset);
    for (std::uint64_t at = 0; at < offset; at += data.size())
        BOOST_TEST(std::ranges::equal(stored.subspan(at, data.size()), data));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::server::test
