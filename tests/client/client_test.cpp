#define BOOST_TEST_MODULE client
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "client/client.hpp"
#include "client/operations.hpp"
#include "client/stream_transport.hpp"
#include "p9proto/dirent.hpp"
#include "tests/client/scripted_server.hpp"

namespace xen9p::client::test {
namespace {

using p9proto::Reply;

// A client and a scripted server on the two ends of a socketpair. The server
// script runs on its own thread; the client is destroyed first (closing its
// end), which ends any script still reading, before the thread is joined.
struct Connection {
    std::jthread server_thread;
    std::unique_ptr<Client> client;

    explicit Connection(std::function<void(ScriptedServer&)> script) {
        int fds[2];
        BOOST_REQUIRE_EQUAL(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        UniqueFd server_end(fds[1]);
        client = std::make_unique<Client>(std::make_unique<StreamTransport>(UniqueFd(fds[0])));
        server_thread =
            std::jthread([script = std::move(script), fd = std::move(server_end)]() mutable {
                ScriptedServer server(std::move(fd));
                script(server);
            });
    }
    ~Connection() { client.reset(); }
};

// Readlink replies name the fid they answer, so a mismatch is visible.
std::string target_for(std::uint32_t fid) {
    return "target-" + std::to_string(fid);
}

std::string_view readlink_target(const OwnedReply& reply) {
    const auto* body = reply.as<p9proto::Rreadlink>();
    BOOST_REQUIRE(body != nullptr);
    return body->target.str;
}

// Answers the requests of `batch` in the order given by `order` (indices).
void answer_readlinks(ScriptedServer& server, std::size_t count,
                      const std::vector<std::size_t>& order) {
    std::vector<ReceivedRequest> batch;
    for (std::size_t i = 0; i < count; ++i) {
        auto request = server.next_request();
        if (!request) return;
        batch.push_back(std::move(*request));
    }
    std::vector<std::string> targets;
    for (const auto& r : batch) {
        targets.push_back(target_for(std::get<p9proto::Treadlink>(r.request.body).fid));
    }
    for (std::size_t i : order) {
        server.reply(Reply{.tag = batch[i].request.tag,
                           .body = p9proto::Rreadlink{.target = p9proto::Target{targets[i]}}});
    }
}

BOOST_AUTO_TEST_CASE(replies_arriving_out_of_order_are_matched_by_tag) {
    Connection c([](ScriptedServer& s) { answer_readlinks(s, 3, {2, 0, 1}); });
    std::vector<std::uint16_t> tags;
    for (std::uint32_t fid = 1; fid <= 3; ++fid) {
        auto tag = c.client->send(p9proto::Treadlink{.fid = fid});
        BOOST_REQUIRE(tag);
        tags.push_back(*tag);
    }
    BOOST_TEST(c.client->in_flight() == 3u);
    for (std::uint32_t fid = 1; fid <= 3; ++fid) {
        auto reply = c.client->await(tags[fid - 1]);
        BOOST_REQUIRE(reply);
        BOOST_TEST(reply->tag() == tags[fid - 1]);
        BOOST_TEST(readlink_target(*reply) == target_for(fid));
    }
    BOOST_TEST(c.client->in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(many_outstanding_requests_get_distinct_tags_and_their_own_replies) {
    constexpr std::size_t kCount = 3000;
    std::vector<std::size_t> order(kCount);
    for (std::size_t i = 0; i < kCount; ++i)
        order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(42));
    Connection c([&](ScriptedServer& s) { answer_readlinks(s, kCount, order); });
    std::vector<std::uint16_t> tags;
    for (std::uint32_t fid = 0; fid < kCount; ++fid) {
        auto tag = c.client->send(p9proto::Treadlink{.fid = fid});
        BOOST_REQUIRE(tag);
        tags.push_back(*tag);
    }
    auto sorted = tags;
    std::ranges::sort(sorted);
    BOOST_TEST((std::ranges::adjacent_find(sorted) == sorted.end()));
    BOOST_TEST((std::ranges::find(tags, p9proto::kNoTag) == tags.end()));
    BOOST_TEST(c.client->in_flight() == kCount);
    for (std::uint32_t fid = 0; fid < kCount; ++fid) {
        auto reply = c.client->await(tags[fid]);
        BOOST_REQUIRE(reply);
        BOOST_REQUIRE(readlink_target(*reply) == target_for(fid));
    }
}

BOOST_AUTO_TEST_CASE(reply_of_the_wrong_type_fails_only_its_own_request) {
    Connection c([](ScriptedServer& s) {
        auto clunk = s.next_request();
        auto readlink = s.next_request();
        if (!clunk || !readlink) return;
        s.reply(Reply{.tag = clunk->request.tag, .body = p9proto::Rremove{}});
        s.reply(Reply{.tag = readlink->request.tag,
                      .body = p9proto::Rreadlink{.target = p9proto::Target{"ok"}}});
    });
    auto clunk_tag = c.client->send(p9proto::Tclunk{.fid = 1});
    auto readlink_tag = c.client->send(p9proto::Treadlink{.fid = 2});
    BOOST_REQUIRE(clunk_tag && readlink_tag);
    auto clunk = c.client->await(*clunk_tag);
    BOOST_REQUIRE(!clunk);
    BOOST_TEST(clunk.error().value == EPROTO);
    auto readlink = c.client->await(*readlink_tag);
    BOOST_REQUIRE(readlink);
    BOOST_TEST(readlink_target(*readlink) == "ok");
}

BOOST_AUTO_TEST_CASE(rlerror_answers_any_request_and_helpers_return_its_errno) {
    Connection c([](ScriptedServer& s) {
        while (auto r = s.next_request()) {
            s.reply(Reply{.tag = r->request.tag, .body = p9proto::Rlerror{.ecode = ENOENT}});
        }
    });
    auto reply = c.client->call(p9proto::Tlopen{.fid = 3, .flags = 0});
    BOOST_REQUIRE(reply);
    BOOST_REQUIRE(reply->error().has_value());
    BOOST_TEST(reply->error()->value == ENOENT);
    auto opened = lopen(*c.client, 3, 0);
    BOOST_REQUIRE(!opened);
    BOOST_TEST(opened.error().value == ENOENT);
}

BOOST_AUTO_TEST_CASE(rread_with_more_data_than_requested_is_refused_as_above_capacity) {
    const std::vector<std::byte> payload(101, std::byte{0x5a});
    Connection c([&](ScriptedServer& s) {
        auto too_big = s.next_request();
        auto fitting = s.next_request();
        if (!too_big || !fitting) return;
        s.reply(Reply{.tag = too_big->request.tag,
                      .body = p9proto::Rread{.data = p9proto::Data{payload}}});
        s.reply(
            Reply{.tag = fitting->request.tag,
                  .body = p9proto::Rread{.data = p9proto::Data{std::span(payload).first(100)}}});
    });
    auto too_big = c.client->send(p9proto::Tread{.fid = 1, .offset = 0, .count = 100});
    auto fitting = c.client->send(p9proto::Tread{.fid = 1, .offset = 0, .count = 100});
    BOOST_REQUIRE(too_big && fitting);
    auto refused = c.client->await(*too_big);
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.error().value == EMSGSIZE);
    auto accepted = c.client->await(*fitting);
    BOOST_REQUIRE(accepted);
    BOOST_TEST(accepted->as<p9proto::Rread>()->data.bytes.size() == 100u);
}

BOOST_AUTO_TEST_CASE(reply_above_the_fixed_capacity_of_its_type_is_refused) {
    // Rgetattr-class replies get 4 KiB in Linux; pad a valid Rversion past it
    // with a long version string.
    const std::string long_version(5000, 'v');
    Connection c([&](ScriptedServer& s) {
        auto r = s.next_request();
        if (!r) return;
        s.reply(Reply{
            .tag = r->request.tag,
            .body = p9proto::Rversion{.msize = 8192, .version = p9proto::Text{long_version}}});
    });
    auto negotiated = c.client->negotiate(65536, long_version);
    BOOST_REQUIRE(!negotiated);
    BOOST_TEST(negotiated.error().value == EMSGSIZE);
}

BOOST_AUTO_TEST_CASE(reply_for_a_tag_not_in_flight_breaks_the_client) {
    Connection c([](ScriptedServer& s) {
        auto r = s.next_request();
        if (!r) return;
        const auto wrong_tag = static_cast<std::uint16_t>(r->request.tag + 1);
        s.reply(Reply{.tag = wrong_tag, .body = p9proto::Rclunk{}});
        s.reply(Reply{.tag = r->request.tag, .body = p9proto::Rclunk{}});
    });
    auto reply = c.client->call(p9proto::Tclunk{.fid = 1});
    BOOST_REQUIRE(!reply);
    BOOST_TEST(reply.error().value == EPROTO);
    auto later = c.client->send(p9proto::Tclunk{.fid = 2});
    BOOST_REQUIRE(!later);
    BOOST_TEST(later.error().value == EPROTO);
}

BOOST_AUTO_TEST_CASE(flush_returns_the_old_reply_when_it_came_before_rflush) {
    Connection c([](ScriptedServer& s) {
        auto read = s.next_request();
        auto flush = s.next_request();
        if (!read || !flush) return;
        s.reply(Reply{.tag = read->request.tag, .body = p9proto::Rread{.data = {}}});
        s.reply(Reply{.tag = flush->request.tag, .body = p9proto::Rflush{}});
    });
    auto tag = c.client->send(p9proto::Tread{.fid = 1, .offset = 0, .count = 10});
    BOOST_REQUIRE(tag);
    auto flushed = c.client->flush(*tag);
    BOOST_REQUIRE(flushed);
    BOOST_REQUIRE(flushed->has_value());
    BOOST_TEST((*flushed)->as<p9proto::Rread>() != nullptr);
    BOOST_TEST(c.client->in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(flush_without_the_old_reply_frees_its_tag) {
    Connection c([](ScriptedServer& s) {
        auto read = s.next_request();
        auto flush = s.next_request();
        if (!read || !flush) return;
        if (std::get<p9proto::Tflush>(flush->request.body).oldtag != read->request.tag) return;
        s.reply(Reply{.tag = flush->request.tag, .body = p9proto::Rflush{}});
        // The old tag is free again: the next request may use it.
        while (auto r = s.next_request()) {
            s.reply(Reply{.tag = r->request.tag, .body = p9proto::Rclunk{}});
        }
    });
    auto tag = c.client->send(p9proto::Tread{.fid = 1, .offset = 0, .count = 10});
    BOOST_REQUIRE(tag);
    auto flushed = c.client->flush(*tag);
    BOOST_REQUIRE(flushed);
    BOOST_TEST(!flushed->has_value());
    BOOST_TEST(c.client->in_flight() == 0u);
    BOOST_REQUIRE(clunk(*c.client, 1));
}

// Answers Tversion with `msize` and `version`; returns what the client proposed.
void answer_version(ScriptedServer& s, std::uint32_t msize, std::string version,
                    std::uint32_t* proposed, std::uint16_t* tag) {
    auto r = s.next_request();
    if (!r) return;
    *proposed = std::get<p9proto::Tversion>(r->request.body).msize;
    *tag = r->request.tag;
    s.reply(Reply{.tag = r->request.tag,
                  .body = p9proto::Rversion{.msize = msize, .version = p9proto::Text{version}}});
}

BOOST_AUTO_TEST_CASE(negotiate_sends_notag_and_adopts_a_smaller_server_msize) {
    std::uint32_t proposed = 0;
    std::uint16_t tag = 0;
    Connection c([&](ScriptedServer& s) { answer_version(s, 16384, "9P2000.L", &proposed, &tag); });
    auto msize = c.client->negotiate(65536);
    c.server_thread.join();
    BOOST_REQUIRE(msize);
    BOOST_TEST(*msize == 16384u);
    BOOST_TEST(c.client->msize() == 16384u);
    BOOST_TEST(proposed == 65536u);
    BOOST_TEST(tag == p9proto::kNoTag);
}

BOOST_AUTO_TEST_CASE(negotiate_ignores_a_larger_server_msize) {
    std::uint32_t proposed = 0;
    std::uint16_t tag = 0;
    Connection c(
        [&](ScriptedServer& s) { answer_version(s, 1 << 20, "9P2000.L", &proposed, &tag); });
    auto msize = c.client->negotiate(8192);
    BOOST_REQUIRE(msize);
    BOOST_TEST(*msize == 8192u);
}

BOOST_AUTO_TEST_CASE(negotiate_refuses_unknown_version_and_tiny_msize) {
    std::uint32_t proposed = 0;
    std::uint16_t tag = 0;
    {
        Connection c(
            [&](ScriptedServer& s) { answer_version(s, 8192, "unknown", &proposed, &tag); });
        auto msize = c.client->negotiate(8192);
        BOOST_REQUIRE(!msize);
        BOOST_TEST(msize.error().value == EREMOTEIO);
    }
    {
        Connection c(
            [&](ScriptedServer& s) { answer_version(s, 2048, "9P2000.L", &proposed, &tag); });
        auto msize = c.client->negotiate(8192);
        BOOST_REQUIRE(!msize);
        BOOST_TEST(msize.error().value == EREMOTEIO);
    }
}

BOOST_AUTO_TEST_CASE(read_all_reads_chunks_until_an_empty_reply) {
    std::vector<std::byte> file(20000);
    for (std::size_t i = 0; i < file.size(); ++i)
        file[i] = static_cast<std::byte>(i * 7);
    Connection c([&](ScriptedServer& s) {
        while (auto r = s.next_request()) {
            const auto& read = std::get<p9proto::Tread>(r->request.body);
            const std::size_t start = std::min<std::size_t>(read.offset, file.size());
            // A short read (at most 3000 bytes) must not end the loop.
            const std::size_t n = std::min<std::size_t>({read.count, 3000, file.size() - start});
            s.reply(Reply{
                .tag = r->request.tag,
                .body = p9proto::Rread{.data = p9proto::Data{std::span(file).subspan(start, n)}}});
        }
    });
    auto data = read_all(*c.client, 4);
    BOOST_REQUIRE(data);
    BOOST_TEST((*data == file));
}

BOOST_AUTO_TEST_CASE(write_all_resends_what_the_server_did_not_take) {
    std::vector<std::byte> written;
    std::vector<std::byte> data(10000);
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<std::byte>(i * 13);
    Connection c([&](ScriptedServer& s) {
        while (auto r = s.next_request()) {
            const auto& write = std::get<p9proto::Twrite>(r->request.body);
            if (write.offset != written.size()) return;
            const std::size_t n = std::min<std::size_t>(write.data.bytes.size(), 1500);
            written.insert(written.end(), write.data.bytes.begin(),
                           write.data.bytes.begin() + static_cast<std::ptrdiff_t>(n));
            s.reply(Reply{.tag = r->request.tag,
                          .body = p9proto::Rwrite{.count = static_cast<std::uint32_t>(n)}});
        }
    });
    BOOST_REQUIRE(write_all(*c.client, 4, 0, data));
    c.client.reset();
    c.server_thread.join();
    BOOST_TEST((written == data));
}

BOOST_AUTO_TEST_CASE(readdir_all_continues_from_the_last_cookie) {
    const std::vector<std::string> names = {"alpha", "beta", "gamma"};
    std::vector<std::uint64_t> offsets_asked;
    Connection c([&](ScriptedServer& s) {
        while (auto r = s.next_request()) {
            const auto& readdir = std::get<p9proto::Treaddir>(r->request.body);
            offsets_asked.push_back(readdir.offset);
            // Cookies are 100 + index + 1; one entry per reply.
            std::array<std::byte, 256> buffer{};
            p9proto::DirentWriter writer(buffer);
            const std::size_t index = readdir.offset == 0 ? 0 : readdir.offset - 100;
            if (index < names.size()) {
                writer.add(
                    p9proto::Dirent{.qid = p9proto::Qid{.type = 0, .version = 0, .path = index},
                                    .offset = 100 + index + 1,
                                    .type = 8,
                                    .name = names[index]});
            }
            s.reply(Reply{.tag = r->request.tag,
                          .body = p9proto::Rreaddir{.data = p9proto::Data{writer.bytes()}}});
        }
    });
    auto entries = readdir_all(*c.client, 5);
    BOOST_REQUIRE(entries);
    c.client.reset();
    c.server_thread.join();
    BOOST_REQUIRE_EQUAL(entries->size(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        BOOST_TEST((*entries)[i].name == names[i]);
        BOOST_TEST((*entries)[i].offset == 100 + i + 1);
    }
    BOOST_TEST((offsets_asked == std::vector<std::uint64_t>{0, 101, 102, 103}));
}

// Serves one Tversion on an accepted connection of `listener`.
void serve_version_once(int listener) {
    UniqueFd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    ScriptedServer server(std::move(conn));
    std::uint32_t proposed = 0;
    std::uint16_t tag = 0;
    answer_version(server, 12345, "9P2000.L", &proposed, &tag);
}

BOOST_AUTO_TEST_CASE(stream_transport_connects_to_a_unix_socket) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("xen9p-client-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "sock").string();
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    BOOST_REQUIRE(listener);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    BOOST_REQUIRE_EQUAL(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
                        0);
    BOOST_REQUIRE_EQUAL(::listen(listener.get(), 1), 0);
    std::jthread server([&] { serve_version_once(listener.get()); });

    auto transport = StreamTransport::connect_unix(path);
    std::filesystem::remove_all(dir);
    BOOST_REQUIRE(transport);
    Client client(std::make_unique<StreamTransport>(std::move(*transport)));
    auto msize = client.negotiate(65536);
    BOOST_REQUIRE(msize);
    BOOST_TEST(*msize == 12345u);
}

BOOST_AUTO_TEST_CASE(stream_transport_connects_over_tcp) {
    UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    BOOST_REQUIRE(listener);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    BOOST_REQUIRE_EQUAL(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
                        0);
    socklen_t len = sizeof(addr);
    BOOST_REQUIRE_EQUAL(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    BOOST_REQUIRE_EQUAL(::listen(listener.get(), 1), 0);
    std::jthread server([&] { serve_version_once(listener.get()); });

    auto transport = StreamTransport::connect_tcp("127.0.0.1", ntohs(addr.sin_port));
    BOOST_REQUIRE(transport);
    Client client(std::make_unique<StreamTransport>(std::move(*transport)));
    auto msize = client.negotiate(65536);
    BOOST_REQUIRE(msize);
    BOOST_TEST(*msize == 12345u);
}

BOOST_AUTO_TEST_CASE(stream_transport_refuses_a_message_above_msize) {
    Connection c([](ScriptedServer& s) {
        auto r = s.next_request();
        if (!r) return;
        std::vector<std::byte> big(9000);
        s.reply(Reply{.tag = r->request.tag, .body = p9proto::Rread{.data = p9proto::Data{big}}});
    });
    auto reply = c.client->call(p9proto::Tread{.fid = 1, .offset = 0, .count = 8000});
    BOOST_REQUIRE(!reply);
    BOOST_TEST(reply.error().value == EMSGSIZE);
}

}  // namespace
}  // namespace xen9p::client::test
