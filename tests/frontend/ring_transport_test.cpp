#include <boost/test/unit_test.hpp>
#include <map>
#include <string>

#include "client/client.hpp"
#include "client/operations.hpp"
#include "frontend/ring_transport.hpp"
#include "tests/frontend/ring_backend.hpp"

namespace xen9p::frontend::test {
namespace {

using p9proto::Reply;

// Both ends over rings in this process.
struct Setup {
    LocalRings rings;
    RingBackend backend;
    Setup(std::size_t count, unsigned order)
        : rings(count, order), backend(rings.memory(), rings.backend_bell()) {}

    std::unique_ptr<client::Client> make_client() {
        const auto memory = rings.memory();
        return std::make_unique<client::Client>(
            std::make_unique<RingTransport>(memory, rings.frontend_doorbell()));
    }
};

std::vector<std::byte> encode_reply(const Reply& reply) {
    std::vector<std::byte> bytes(p9proto::encoded_size(reply));
    auto written = p9proto::encode(reply, bytes, bytes.size());
    // Runs on the backend thread, where Boost.Test checks are not safe.
    if (!written) std::abort();
    bytes.resize(*written);
    return bytes;
}

// Answers Tversion with 9P2000.L at the proposed msize, Treadlink with a
// target naming the fid and the ring the request came on.
void echo_handler(RingBackend& backend, BackendRequest r) {
    if (const auto* version = std::get_if<p9proto::Tversion>(&r.request.body)) {
        backend.reply(r.ring,
                      Reply{.tag = r.request.tag,
                            .body = p9proto::Rversion{.msize = version->msize,
                                                      .version = p9proto::Text{"9P2000.L"}}});
        return;
    }
    const auto& readlink = std::get<p9proto::Treadlink>(r.request.body);
    const std::string target =
        "fid" + std::to_string(readlink.fid) + "-ring" + std::to_string(r.ring);
    backend.reply(r.ring,
                  Reply{.tag = r.request.tag, .body = p9proto::Rreadlink{.target = {target}}});
}

BOOST_AUTO_TEST_CASE(linux_msize_limit_is_512k_or_half_a_small_ring) {
    BOOST_TEST(max_msize_for_order(9) == 512u * 1024);
    BOOST_TEST(max_msize_for_order(8) == 512u * 1024);
    BOOST_TEST(max_msize_for_order(7) == 128u * 1024);
    BOOST_TEST(max_msize_for_order(2) == 4096u);
}

BOOST_AUTO_TEST_CASE(client_proposes_no_more_than_the_rings_carry) {
    Setup setup(2, 2);
    std::atomic<std::uint32_t> proposed{0};
    setup.backend.start([&](RingBackend& b, BackendRequest r) {
        proposed = std::get<p9proto::Tversion>(r.request.body).msize;
        echo_handler(b, std::move(r));
    });
    auto client = setup.make_client();
    auto msize = client->negotiate(client::kDefaultMsize);
    BOOST_REQUIRE(msize);
    setup.backend.stop();
    BOOST_TEST(*msize == 4096u);
    BOOST_TEST(proposed.load() == 4096u);
}

BOOST_AUTO_TEST_CASE(requests_go_to_ring_tag_mod_2_and_replies_come_back_on_it) {
    Setup setup(2, 4);
    RingBackend& backend = setup.backend;
    backend.start(echo_handler);
    auto client = setup.make_client();
    auto msize = client->negotiate(max_msize_for_order(4));
    BOOST_REQUIRE(msize);
    std::map<std::uint16_t, std::uint32_t> fid_of_tag;
    for (std::uint32_t fid = 0; fid < 40; ++fid) {
        auto tag = client->send(p9proto::Treadlink{.fid = fid});
        BOOST_REQUIRE(tag);
        fid_of_tag[*tag] = fid;
    }
    for (auto [tag, fid] : fid_of_tag) {
        auto reply = client->await(tag);
        BOOST_REQUIRE(reply);
        const auto* body = reply->as<p9proto::Rreadlink>();
        BOOST_REQUIRE(body != nullptr);
        BOOST_TEST(body->target.str ==
                   "fid" + std::to_string(fid) + "-ring" + std::to_string(tag % 2));
    }
    backend.stop();
    BOOST_TEST(backend.errors().empty());
}

BOOST_AUTO_TEST_CASE(tversion_uses_notag_and_therefore_ring_1) {
    Setup setup(2, 4);
    RingBackend& backend = setup.backend;
    std::atomic<std::size_t> version_ring{99};
    backend.start([&](RingBackend& b, BackendRequest r) {
        if (std::holds_alternative<p9proto::Tversion>(r.request.body)) version_ring = r.ring;
        echo_handler(b, std::move(r));
    });
    auto client = setup.make_client();
    BOOST_REQUIRE(client->negotiate(8192));
    backend.stop();
    BOOST_TEST(version_ring.load() == 1u);
}

BOOST_AUTO_TEST_CASE(replies_in_reverse_order_across_both_rings_are_matched_by_tag) {
    Setup setup(2, 4);
    RingBackend& backend = setup.backend;
    std::vector<BackendRequest> held;
    constexpr std::size_t kCount = 20;
    backend.start([&](RingBackend& b, BackendRequest r) {
        held.push_back(std::move(r));
        if (held.size() < kCount) return;
        for (auto it = held.rbegin(); it != held.rend(); ++it) {
            echo_handler(b, std::move(*it));
        }
        held.clear();
    });
    auto client = setup.make_client();
    std::vector<std::uint16_t> tags;
    for (std::uint32_t fid = 0; fid < kCount; ++fid) {
        auto tag = client->send(p9proto::Treadlink{.fid = fid});
        BOOST_REQUIRE(tag);
        tags.push_back(*tag);
    }
    for (std::uint32_t fid = 0; fid < kCount; ++fid) {
        auto reply = client->await(tags[fid]);
        BOOST_REQUIRE(reply);
        BOOST_TEST(reply->as<p9proto::Rreadlink>()->target.str ==
                   "fid" + std::to_string(fid) + "-ring" + std::to_string(tags[fid] % 2));
    }
    backend.stop();
}

BOOST_AUTO_TEST_CASE(reply_to_a_tag_not_in_flight_is_skipped) {
    Setup setup(2, 4);
    RingBackend& backend = setup.backend;
    backend.start([](RingBackend& b, BackendRequest r) {
        const auto stray = static_cast<std::uint16_t>(r.request.tag + 2);
        b.reply(r.ring, Reply{.tag = stray, .body = p9proto::Rclunk{}});
        b.reply(r.ring, Reply{.tag = r.request.tag, .body = p9proto::Rclunk{}});
    });
    auto client = setup.make_client();
    auto transport = dynamic_cast<RingTransport*>(&client->transport());
    BOOST_REQUIRE(transport != nullptr);
    BOOST_REQUIRE(client::clunk(*client, 7));
    BOOST_TEST(transport->skipped_replies() == 1u);
    BOOST_REQUIRE(client::clunk(*client, 8));
    BOOST_TEST(transport->skipped_replies() == 2u);
    backend.stop();
}

BOOST_AUTO_TEST_CASE(a_late_reply_to_a_flushed_tag_is_skipped) {
    Setup setup(2, 4);
    RingBackend& backend = setup.backend;
    std::optional<BackendRequest> held;
    backend.start([&](RingBackend& b, BackendRequest r) {
        if (std::holds_alternative<p9proto::Tread>(r.request.body)) {
            held = std::move(r);
            return;
        }
        if (std::holds_alternative<p9proto::Tflush>(r.request.body)) {
            // Rflush, then (wrongly) the flushed read's reply after it, both
            // published at once so the frontend drains them together.
            std::vector<std::byte> both =
                encode_reply(Reply{.tag = r.request.tag, .body = p9proto::Rflush{}});
            const auto stray =
                encode_reply(Reply{.tag = held->request.tag, .body = p9proto::Rread{.data = {}}});
            both.insert(both.end(), stray.begin(), stray.end());
            b.send_raw(r.ring, both);
            return;
        }
        b.reply(r.ring, Reply{.tag = r.request.tag, .body = p9proto::Rclunk{}});
    });
    auto client = setup.make_client();
    auto* transport = dynamic_cast<RingTransport*>(&client->transport());
    BOOST_REQUIRE(transport != nullptr);
    auto tag = client->send(p9proto::Tread{.fid = 1, .offset = 0, .count = 10});
    BOOST_REQUIRE(tag);
    auto flushed = client->flush(*tag);
    BOOST_REQUIRE(flushed);
    BOOST_TEST(!flushed->has_value());
    BOOST_TEST(transport->skipped_replies() == 1u);
    // The old tag is reused at once; the stray reply must not reach it.
    BOOST_REQUIRE(client::clunk(*client, 2));
    BOOST_REQUIRE(client::clunk(*client, 3));
    backend.stop();
}

BOOST_AUTO_TEST_CASE(oversized_reply_fails_its_request_and_the_rings_keep_working) {
    Setup setup(2, 4);
    RingBackend& backend = setup.backend;
    backend.start([](RingBackend& b, BackendRequest r) {
        if (const auto* read = std::get_if<p9proto::Tread>(&r.request.body)) {
            const std::vector<std::byte> data(read->count + 1);
            b.reply(r.ring, Reply{.tag = r.request.tag, .body = p9proto::Rread{.data = {data}}});
            return;
        }
        echo_handler(b, std::move(r));
    });
    auto client = setup.make_client();
    auto read = client->call(p9proto::Tread{.fid = 1, .offset = 0, .count = 100});
    BOOST_REQUIRE(!read);
    BOOST_TEST(read.error().value == EMSGSIZE);
    auto readlink = client->call(p9proto::Treadlink{.fid = 3});
    BOOST_REQUIRE(readlink);
    backend.stop();
}

BOOST_AUTO_TEST_CASE(a_request_is_published_only_once_it_fits_whole) {
    // Order 2: 8 KiB per direction; two 5000-byte writes cannot both fit.
    Setup setup(2, 2);
    RingBackend& backend = setup.backend;
    std::vector<std::size_t> sizes;
    backend.start([&](RingBackend& b, BackendRequest r) {
        sizes.push_back(r.bytes.size());
        const auto& write = std::get<p9proto::Twrite>(r.request.body);
        b.reply(r.ring, Reply{.tag = r.request.tag,
                              .body = p9proto::Rwrite{
                                  .count = static_cast<std::uint32_t>(write.data.bytes.size())}});
    });
    auto client = setup.make_client();
    const std::vector<std::byte> payload(5000 - 23, std::byte{1});
    std::vector<std::uint16_t> tags;
    // Tags alternate rings, so each ring gets three requests of which only one fits at a time.
    for (int i = 0; i < 6; ++i) {
        auto tag = client->send(p9proto::Twrite{.fid = 1, .offset = 0, .data = {payload}});
        BOOST_REQUIRE(tag);
        tags.push_back(*tag);
    }
    for (auto tag : tags)
        BOOST_REQUIRE(client->await(tag));
    backend.stop();
    BOOST_TEST(backend.errors().empty());
    // Every out_prod the backend ever saw covers whole requests only.
    for (const auto& ring : backend.observed_out_prod()) {
        for (std::uint32_t prod : ring)
            BOOST_TEST(prod % 5000 == 0u);
    }
}

}  // namespace
}  // namespace xen9p::frontend::test
