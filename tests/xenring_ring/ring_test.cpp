#define BOOST_TEST_MODULE xenring_ring
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/xenring_ring/ring_fixture.hpp"
#include "xenring/ring/ring_reader.hpp"
#include "xenring/ring/ring_writer.hpp"

using namespace xen9p;
using namespace xen9p::ring;
using xen9p::ring::test::check_message;
using xen9p::ring::test::fill_message;
using xen9p::ring::test::SharedRing;

// The ring's view of the interface page is Xen's own declaration from
// xen/io/9pfs.h (via data_intf.hpp), not a copy that could drift; the offsets
// the code relies on are pinned next to it in data_intf.hpp.
static_assert(std::is_same_v<DataIntf, ::xen_9pfs_data_intf>);
static_assert(std::is_same_v<decltype(DataIntf::out_prod), ::RING_IDX>);
// The element type, not remove_extent_t: Xen 4.17 declares ref[] (C99),
// Xen 4.20's xen.h gives C++ the GNU ref[0], which is no array type to it.
static_assert(
    std::is_same_v<std::remove_cvref_t<decltype(std::declval<DataIntf&>().ref[0])>, ::grant_ref_t>);
static_assert(flex_ring_size(9) == XEN_FLEX_RING_SIZE(9));
static_assert(flex_ring_size(1) == XEN_FLEX_RING_SIZE(1));
static_assert(kXenPageSize == 4096);

namespace {

std::vector<std::byte> message(std::size_t size, std::uint32_t seq) {
    std::vector<std::byte> m(size);
    fill_message(m, seq);
    return m;
}

void put_le32(std::span<std::byte> dst, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        dst[i] = std::byte(v >> (8 * i));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ring)

BOOST_AUTO_TEST_CASE(queued_tells_full_from_empty_by_free_running_indices) {
    BOOST_TEST(queued(0, 0, 4096) == 0u);
    BOOST_TEST(queued(4096, 0, 4096) == 4096u);
    BOOST_TEST(queued(10, 4090, 4096) == 16u);
    BOOST_TEST(queued(5, 0xFFFFFFFBu, 4096) == 10u);
    BOOST_TEST(queued(0x1000u + 7, 7, 4096) == 4096u);
}

BOOST_AUTO_TEST_CASE(writer_and_reader_carry_messages_across_the_wrap_and_index_overflow) {
    SharedRing shared(1);
    shared.set_indices(0xFFFFF000u + 100);
    auto writer = RingWriter::frontend(shared.intf(), shared.data(), 1);
    auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 4096);
    std::vector<std::byte> dst(4096);
    for (std::uint32_t seq = 0; seq < 200; ++seq) {
        const auto m = message(7 + (seq * 977) % 3000, seq);
        BOOST_REQUIRE(writer.write_and_publish(m));
        auto got = reader.read(dst);
        BOOST_REQUIRE(got);
        BOOST_REQUIRE_EQUAL(*got, m.size());
        BOOST_REQUIRE(check_message(std::span(dst).first(*got), seq));
    }
    BOOST_TEST(shared.intf().out_cons == shared.intf().out_prod);
}

BOOST_AUTO_TEST_CASE(reader_waits_until_the_whole_message_is_published) {
    SharedRing shared(1);
    auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 4096);
    const auto m = message(300, 1);
    std::memcpy(shared.out_half().data(), m.data(), m.size());
    std::vector<std::byte> dst(4096);
    shared.intf().out_prod = 5;
    BOOST_TEST(*reader.read(dst) == 0u);
    shared.intf().out_prod = 299;
    BOOST_TEST(*reader.read(dst) == 0u);
    BOOST_TEST(shared.intf().out_cons == 0u);
    shared.intf().out_prod = 300;
    BOOST_TEST(*reader.read(dst) == 300u);
    BOOST_TEST(shared.intf().out_cons == 300u);
    BOOST_TEST(check_message(std::span(dst).first(300), 1));
}

// What a polling server asks before each look: a partial message the guest
// leaves in the ring, or a broken ring, must not look like news forever.
BOOST_AUTO_TEST_CASE(only_a_moved_producer_index_is_news_for_a_poller) {
    SharedRing shared(1);
    auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 4096);
    const auto m = message(300, 1);
    std::memcpy(shared.out_half().data(), m.data(), m.size());
    std::vector<std::byte> dst(4096);
    BOOST_TEST(!reader.produced_since_last_pass());
    shared.intf().out_prod = 100;
    BOOST_TEST(reader.produced_since_last_pass());
    BOOST_TEST(*reader.read(dst) == 0u);  // partial: nothing to take
    BOOST_TEST(!reader.produced_since_last_pass());
    shared.intf().out_prod = 300;
    BOOST_TEST(reader.produced_since_last_pass());
    BOOST_TEST(*reader.read(dst) == 300u);
    BOOST_TEST(*reader.peek() == 0u);
    BOOST_TEST(!reader.produced_since_last_pass());
    shared.intf().out_prod = 300 + static_cast<std::uint32_t>(flex_ring_size(1)) + 1;
    BOOST_TEST(reader.peek().error().value == EPROTO);
    shared.intf().out_prod = 400;
    BOOST_TEST(!reader.produced_since_last_pass());  // broken for good
}

BOOST_AUTO_TEST_CASE(peek_sizes_the_next_whole_message_without_consuming_it) {
    SharedRing shared(1);
    auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 4096);
    auto writer = RingWriter::frontend(shared.intf(), shared.data(), 1);
    BOOST_TEST(*reader.peek() == 0u);
    BOOST_REQUIRE(writer.write_and_publish(message(300, 1)));
    BOOST_REQUIRE(writer.write_and_publish(message(40, 2)));
    BOOST_TEST(*reader.peek() == 300u);
    BOOST_TEST(*reader.peek() == 300u);
    BOOST_TEST(shared.intf().out_cons == 0u);
    std::vector<std::byte> dst(300);
    BOOST_TEST(*reader.read(dst) == 300u);
    BOOST_TEST(check_message(dst, 1));
    BOOST_TEST(*reader.peek() == 40u);
    BOOST_TEST(shared.intf().out_cons == 300u);
}

BOOST_AUTO_TEST_CASE(read_into_makes_the_vector_the_message_across_the_wrap) {
    SharedRing shared(1);
    shared.set_indices(static_cast<std::uint32_t>(flex_ring_size(1) - 100));
    auto writer = RingWriter::frontend(shared.intf(), shared.data(), 1);
    auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 4096);
    std::vector<std::byte> out(10, std::byte{0xAA});
    BOOST_TEST(*reader.read_into(out) == 0u);
    BOOST_TEST(out.empty());
    for (std::uint32_t seq = 0; seq < 3; ++seq) {
        BOOST_REQUIRE(writer.write_and_publish(message(250 + seq, seq)));
        BOOST_TEST(*reader.read_into(out) == 250u + seq);
        BOOST_REQUIRE_EQUAL(out.size(), 250u + seq);
        BOOST_TEST(check_message(out, seq));
    }
    BOOST_TEST(shared.intf().out_cons == shared.intf().out_prod);
}

// How a Twrite's data stays in the ring: the head is private, the rest is
// the ring's own bytes (two pieces at the wrap), and the guest gets its space
// back only at release().
BOOST_AUTO_TEST_CASE(read_split_copies_the_head_and_leaves_the_rest_in_the_ring) {
    SharedRing shared(1);
    const auto ring_size = static_cast<std::uint32_t>(flex_ring_size(1));
    shared.set_indices(ring_size - 100);
    auto writer = RingWriter::frontend(shared.intf(), shared.data(), 1);
    auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 4096);
    std::array<std::byte, 23> head{};
    SplitBytes rest{std::span(head), std::span(head)};
    BOOST_TEST(reader.read_split(head, rest).error().value == EINVAL);  // not held
    reader.hold();
    BOOST_TEST(*reader.read_split(head, rest) == 0u);
    BOOST_TEST(rest.empty());

    const auto first = message(60, 1);    // wholly before the wrap
    const auto second = message(300, 2);  // its head before the wrap, its rest across it
    BOOST_REQUIRE(writer.write_and_publish(first));
    BOOST_REQUIRE(writer.write_and_publish(second));
    for (const auto* m : {&first, &second}) {
        BOOST_TEST(*reader.read_split(head, rest) == m->size());
        BOOST_TEST(std::ranges::equal(head, std::span(*m).first(23)));
        BOOST_TEST(rest.size() == m->size() - 23);
        std::vector<std::byte> whole(head.begin(), head.end());
        whole.insert(whole.end(), rest.first.begin(), rest.first.end());
        whole.insert(whole.end(), rest.second.begin(), rest.second.end());
        BOOST_TEST(whole == *m);
        // The rest is the ring's memory, not a copy.
        const auto* ring = shared.out_half().data();
        BOOST_TEST((rest.first.data() >= ring && rest.first.data() < ring + ring_size));
    }
    BOOST_TEST(!rest.second.empty());
    BOOST_TEST(rest.second.data() == shared.out_half().data());
    BOOST_TEST(shared.intf().out_cons == ring_size - 100);  // still the guest's to keep
    reader.release(reader.consumed());
    BOOST_TEST(shared.intf().out_cons == ring_size - 100 + 360);

    // A message with nothing past the head cannot be split: a broken ring.
    BOOST_REQUIRE(writer.write_and_publish(message(23, 3)));
    BOOST_TEST(reader.read_split(head, rest).error().value == EMSGSIZE);
}

BOOST_AUTO_TEST_CASE(a_message_larger_than_the_buffer_given_to_read_breaks_the_ring) {
    SharedRing shared(1);
    auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 4096);
    auto writer = RingWriter::frontend(shared.intf(), shared.data(), 1);
    BOOST_REQUIRE(writer.write_and_publish(message(300, 1)));
    std::vector<std::byte> dst(299);
    BOOST_TEST(reader.read(dst).error().value == EMSGSIZE);
    BOOST_TEST(shared.intf().out_cons == 0u);
    BOOST_TEST(reader.peek().error().value == EMSGSIZE);
}

BOOST_AUTO_TEST_CASE(producer_index_past_the_ring_is_a_sticky_protocol_error) {
    SharedRing shared(1);
    auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 4096);
    std::vector<std::byte> dst(4096);
    shared.intf().out_prod = static_cast<std::uint32_t>(flex_ring_size(1) + 1);
    BOOST_TEST(reader.read(dst).error().value == EPROTO);
    shared.intf().out_prod = 0;
    BOOST_TEST(reader.read(dst).error().value == EPROTO);
    // Going "backwards" is a jump of almost 2^32.
    SharedRing other(1);
    auto reader2 = RingReader::backend(other.intf(), other.data(), 1, 4096);
    other.intf().out_prod = 0xFFFFFFF0u;
    BOOST_TEST(reader2.read(dst).error().value == EPROTO);
}

BOOST_AUTO_TEST_CASE(header_size_below_seven_or_above_msize_is_rejected) {
    for (std::uint32_t bad : {0u, 3u, 6u, 1025u, 0xFFFFFFFFu}) {
        SharedRing shared(1);
        auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 1024);
        put_le32(shared.out_half(), bad);
        shared.intf().out_prod = 64;
        std::vector<std::byte> dst(1024);
        BOOST_TEST(reader.read(dst).error().value == EMSGSIZE, "size " << bad);
        BOOST_TEST(shared.intf().out_cons == 0u);
    }
}

BOOST_AUTO_TEST_CASE(writer_reports_would_block_without_writing_and_succeeds_after_consumption) {
    SharedRing shared(1);
    const std::size_t size = flex_ring_size(1);
    auto writer = RingWriter::backend(shared.intf(), shared.data(), 1);
    const auto big = message(size - 100, 1);
    BOOST_REQUIRE(writer.write_and_publish(big));
    const auto next = message(200, 2);
    BOOST_TEST(writer.write(next).error().value == EAGAIN);
    BOOST_TEST(shared.intf().in_prod == size - 100);
    BOOST_TEST(writer.write(message(size + 1, 3)).error().value == EMSGSIZE);
    // The guest consumes the first reply; now the second fits, wrapping.
    shared.intf().in_cons = static_cast<std::uint32_t>(size - 100);
    BOOST_REQUIRE(writer.write_and_publish(next));
    auto reader = RingReader::frontend(shared.intf(), shared.data(), 1, size);
    std::vector<std::byte> dst(size);
    BOOST_TEST(*reader.read(dst) == 200u);
    BOOST_TEST(check_message(std::span(dst).first(200), 2));
}

// Room reserved for a reply is filled in place; a reply placed behind it
// that turned out shorter moves back over the gap, both pieces wrapping at
// different points (and the free-running index at 2^32), so the guest reads
// the replies back to back.
BOOST_AUTO_TEST_CASE(writer_fills_reserved_room_and_moves_a_later_reply_back_over_the_gap) {
    SharedRing shared(1);
    const std::size_t size = flex_ring_size(1);
    shared.set_indices(0xFFFFFFFFu - 60);
    auto writer = RingWriter::backend(shared.intf(), shared.data(), 1);
    const RING_IDX start = writer.produced();
    const auto room = writer.reserve(40);
    BOOST_REQUIRE(room);
    BOOST_TEST(*room == start);
    BOOST_TEST(writer.reserve(size).error().value == EAGAIN);
    const auto second = message(200, 2);
    BOOST_REQUIRE(writer.write(second));  // wraps 21 bytes in
    const auto first = message(10, 1);
    const MutableSplitBytes place = writer.bytes_at(*room, first.size());
    std::memcpy(place.first.data(), first.data(), place.first.size());
    std::memcpy(place.second.data(), first.data() + place.first.size(), place.second.size());
    writer.move_back(start + 40, start + 10, second.size());  // to where it wraps 51 bytes in
    writer.take_back(start + 210);
    BOOST_TEST(shared.intf().in_prod == start);
    writer.publish();
    BOOST_TEST(shared.intf().in_prod == start + 210);
    auto reader = RingReader::frontend(shared.intf(), shared.data(), 1, size);
    std::vector<std::byte> dst(size);
    BOOST_TEST(*reader.read(dst) == 10u);
    BOOST_TEST(check_message(std::span(dst).first(10), 1));
    BOOST_TEST(*reader.read(dst) == 200u);
    BOOST_TEST(check_message(std::span(dst).first(200), 2));
}

BOOST_AUTO_TEST_CASE(writer_publishes_a_batch_with_one_index_update) {
    SharedRing shared(2);
    auto writer = RingWriter::backend(shared.intf(), shared.data(), 2);
    BOOST_REQUIRE(writer.write(message(100, 1)));
    BOOST_REQUIRE(writer.write(message(50, 2)));
    BOOST_TEST(shared.intf().in_prod == 0u);
    writer.publish();
    BOOST_TEST(shared.intf().in_prod == 150u);
}

BOOST_AUTO_TEST_CASE(writer_rejects_a_consumer_index_ahead_of_the_producer) {
    SharedRing shared(1);
    auto writer = RingWriter::backend(shared.intf(), shared.data(), 1);
    shared.intf().in_cons = 10;
    BOOST_TEST(writer.write(message(20, 1)).error().value == EPROTO);
    shared.intf().in_cons = 0;
    BOOST_TEST(writer.write(message(20, 1)).error().value == EPROTO);
}

BOOST_AUTO_TEST_CASE(ring_order_zero_or_above_the_advertised_maximum_is_rejected) {
    SharedRing shared(1);
    shared.intf().ring_order = 0;
    BOOST_TEST(read_ring_order(shared.intf(), 6).error().value == EPROTO);
    shared.intf().ring_order = 7;
    BOOST_TEST(read_ring_order(shared.intf(), 6).error().value == EPROTO);
    shared.intf().ring_order = 0xFFFFFFFFu;
    BOOST_TEST(read_ring_order(shared.intf(), 9).error().value == EPROTO);
    shared.intf().ring_order = 6;
    BOOST_TEST(*read_ring_order(shared.intf(), 6) == 6u);
    shared.intf().ring_order = 3;
    shared.intf().ref[0] = 11;
    shared.intf().ref[7] = 17;
    const auto refs = read_refs(shared.intf(), 3);
    BOOST_TEST(refs.size() == 8u);
    BOOST_TEST(refs[0] == 11u);
    BOOST_TEST(refs[7] == 17u);
}

BOOST_AUTO_TEST_CASE(ring_order_changed_after_connect_does_not_move_the_bounds) {
    SharedRing shared(1);
    auto reader = RingReader::backend(shared.intf(), shared.data(), 1, 4096);
    auto writer = RingWriter::backend(shared.intf(), shared.data(), 1);
    shared.intf().ring_order = 9;
    // A claim of a bigger ring is still judged against the size we mapped.
    shared.intf().out_prod = static_cast<std::uint32_t>(flex_ring_size(1) + 8);
    std::vector<std::byte> dst(4096);
    BOOST_TEST(reader.read(dst).error().value == EPROTO);
    BOOST_TEST(writer.write(message(flex_ring_size(1) + 1, 1)).error().value == EMSGSIZE);
}

BOOST_AUTO_TEST_SUITE_END()
