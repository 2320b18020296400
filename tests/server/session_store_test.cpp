// SessionStore: what a server writes, a replacement reads back whole; what
// a compromised server scribbles is refused or read within bounds.
#include "backend/server/session_store.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <random>

namespace xen9p::server {
namespace {

template <class T>
T must(Result<T> r) {
    BOOST_REQUIRE_MESSAGE(r.has_value(), r.error().message());
    return std::move(*r);
}

StoredFid fid(std::uint32_t number, int node_fd, int parent_fd = -1, std::string name = {}) {
    StoredFid f;
    f.fid = number;
    f.node_fd = node_fd;
    f.parent_fd = parent_fd;
    f.name = std::move(name);
    f.caller = fs::Caller{1000, 100, true};
    return f;
}

const StoredFid* find(const StoredSession& s, std::uint32_t number) {
    for (const auto& f : s.fids)
        if (f.fid == number) return &f;
    return nullptr;
}

// An answer committed and written, as a session and its transport make it.
std::uint32_t answer(SessionStore& store, Route route, std::uint32_t request,
                     std::uint32_t reply_end) {
    const auto record = store.begin_answer(route, request);
    store.commit_answer(record, {}, false);
    store.written(record, reply_end);
    return record;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(session_store)

BOOST_AUTO_TEST_CASE(what_a_server_wrote_is_read_back_whole) {
    auto store = must(SessionStore::create(8));
    store.set_version(65536, p9proto::Dialect::k9P2000u);
    BOOST_REQUIRE(store.put_fid(fid(0, 10)));
    auto opened = fid(7, 11, 10, "file");
    opened.file_fd = 12;
    opened.remove_on_clunk = true;
    opened.stat_dir = true;
    opened.dir_offset = 99;
    opened.dir_cookie = 1234;
    BOOST_REQUIRE(store.put_fid(opened));
    BOOST_REQUIRE(store.put_fid(fid(9, 13)));
    store.erase_fid(9);
    const auto owner = must(store.record_owner(12, "host", 42, 14));
    fs::QidMap::Tables qids;
    qids.devices = {0x801, 0x802};
    qids.wide_prefixes = {{0x801, 5}};
    store.put_qids(qids);
    store.set_routes(2);
    store.taken(0, 300);
    store.taken(1, 9);
    const auto answered = answer(store, 0, 100, 200);

    const auto s = must(store.load());
    BOOST_TEST(s.msize == 65536u);
    BOOST_TEST((s.dialect == p9proto::Dialect::k9P2000u));
    BOOST_REQUIRE(s.routes.size() == 2u);
    BOOST_TEST(s.routes[0].taken == 300u);
    BOOST_TEST(s.routes[1].taken == 9u);
    BOOST_REQUIRE(s.routes[0].answered.size() == 1u);
    BOOST_TEST(s.routes[0].answered[0].request == 100u);
    BOOST_TEST(s.routes[0].answered[0].reply_end == 200u);
    BOOST_TEST(s.routes[0].answered[0].record == answered);
    BOOST_TEST(s.routes[0].answered[0].written);
    BOOST_TEST(s.routes[1].answered.empty());
    BOOST_TEST(s.fids.size() == 2u);
    BOOST_TEST(find(s, 9) == nullptr);
    const auto* f = find(s, 7);
    BOOST_REQUIRE(f);
    BOOST_TEST(f->node_fd == 11);
    BOOST_TEST(f->parent_fd == 10);
    BOOST_TEST(f->name == "file");
    BOOST_TEST(f->file_fd == 12);
    BOOST_TEST(f->caller.uid == 1000u);
    BOOST_TEST(f->caller.gid == 100u);
    BOOST_TEST(f->remove_on_clunk);
    BOOST_TEST(f->stat_dir);
    BOOST_TEST(f->dir_offset == 99u);
    BOOST_TEST(f->dir_cookie == 1234u);
    BOOST_REQUIRE(s.lock_owners.size() == 1u);
    BOOST_TEST(s.lock_owners[0].client_id == "host");
    BOOST_TEST(s.lock_owners[0].proc_id == 42u);
    BOOST_TEST(s.lock_owners[0].owner_fd == 14);
    BOOST_TEST(s.lock_owners[0].record == owner);
    BOOST_TEST((s.qids.devices == qids.devices));
    BOOST_TEST((s.qids.wide_prefixes == qids.wide_prefixes));
    auto fds = s.descriptors();
    std::sort(fds.begin(), fds.end());
    BOOST_TEST((fds == std::vector<int>{10, 10, 11, 12, 14}));

    store.forget_owner(owner);
    BOOST_TEST(must(store.load()).lock_owners.empty());
}

BOOST_AUTO_TEST_CASE(a_rewritten_fid_is_read_at_its_newest_and_writing_goes_on_after_a_load) {
    auto store = must(SessionStore::create(4));
    for (int i = 0; i < 100; ++i)
        BOOST_REQUIRE(store.put_fid(fid(1, 10 + i)));
    auto s = must(store.load());
    BOOST_REQUIRE(s.fids.size() == 1u);
    BOOST_TEST(s.fids[0].node_fd == 109);
    // The replacement writes on from where the records stand.
    BOOST_REQUIRE(store.put_fid(fid(1, 300)));
    BOOST_REQUIRE(store.put_fid(fid(2, 301)));
    s = must(store.load());
    BOOST_TEST(s.fids.size() == 2u);
    BOOST_TEST(find(s, 1)->node_fd == 300);
}

BOOST_AUTO_TEST_CASE(released_answers_are_gone_and_a_broken_store_is_not_loaded) {
    auto store = must(SessionStore::create(4));
    BOOST_TEST(must(store.load()).routes.empty());
    store.set_routes(1);
    const auto first = answer(store, 0, 10, 20);
    (void)answer(store, 0, 30, 40);
    store.released(first);
    auto s = must(store.load());
    BOOST_REQUIRE(s.routes.size() == 1u);
    BOOST_REQUIRE(s.routes[0].answered.size() == 1u);
    BOOST_TEST(s.routes[0].answered[0].request == 30u);
    // Every record can be taken again after a load, and no more.
    std::size_t taken = 1;
    while (answer(store, 0, 50, 60) < SessionStore::kMaxAnswered)
        ++taken;
    BOOST_TEST(taken == SessionStore::kMaxAnswered);
    BOOST_TEST(store.load().error().value == ENOTRECOVERABLE);
}

BOOST_AUTO_TEST_CASE(fid_changes_count_only_with_their_committed_answer) {
    for (const bool committed : {false, true}) {
        auto store = must(SessionStore::create(8));
        store.set_routes(1);
        BOOST_REQUIRE(store.put_fid(fid(1, 10)));
        BOOST_REQUIRE(store.put_fid(fid(2, 11)));
        const auto record = store.begin_answer(0, 64);
        BOOST_REQUIRE(store.put_fid(fid(1, 20)));
        store.erase_fid(2);
        BOOST_REQUIRE(store.put_fid(fid(3, 21)));
        const std::byte reply[] = {std::byte{7},   std::byte{0}, std::byte{0}, std::byte{0},
                                   std::byte{111}, std::byte{1}, std::byte{0}};
        // Killed before the commit point, or after it.
        if (committed) store.commit_answer(record, reply, false);

        auto s = must(store.load());
        BOOST_TEST_CONTEXT("committed " << committed) {
            BOOST_TEST(find(s, 1)->node_fd == (committed ? 20 : 10));
            BOOST_TEST((find(s, 2) == nullptr) == committed);
            BOOST_TEST((find(s, 3) != nullptr) == committed);
            BOOST_REQUIRE(s.routes.size() == 1u);
            BOOST_TEST(s.routes[0].answered.size() == (committed ? 1u : 0u));
            if (committed) {
                const auto& a = s.routes[0].answered[0];
                BOOST_TEST(a.request == 64u);
                BOOST_TEST(!a.written);
                BOOST_TEST(!a.no_reply);
                BOOST_TEST((a.reply == std::vector<std::byte>(std::begin(reply), std::end(reply))));
            }
            // Writing goes on after the load, past every seq the answer named.
            const auto next = store.begin_answer(0, 80);
            BOOST_REQUIRE(store.put_fid(fid(2, 30)));
            store.commit_answer(next, {}, true);
            s = must(store.load());
            BOOST_TEST(find(s, 2)->node_fd == 30);
        }
    }
}

BOOST_AUTO_TEST_CASE(an_xattr_fid_and_its_value_are_read_back_and_its_slot_stays_taken) {
    auto store = must(SessionStore::create(8));
    const auto slot = store.take_xattr_slot();
    BOOST_REQUIRE(slot.has_value());
    auto setting = fid(4, 10);
    setting.kind = StoredFid::Kind::kXattrWrite;
    setting.xattr_name = "user.k";
    setting.xattr_size = 5;
    setting.xattr_written = 2;
    setting.xattr_flags = 1;
    setting.xattr_slot = *slot;
    const std::string bytes = "va";
    std::memcpy(store.xattr_value(*slot).data(), bytes.data(), bytes.size());
    BOOST_REQUIRE(store.put_fid(setting));

    auto loaded = must(store.load());
    const StoredFid* f = find(loaded, 4);
    BOOST_REQUIRE(f != nullptr);
    BOOST_TEST((f->kind == StoredFid::Kind::kXattrWrite));
    BOOST_TEST(f->xattr_name == "user.k");
    BOOST_TEST(f->xattr_size == 5u);
    BOOST_TEST(f->xattr_written == 2u);
    BOOST_TEST(f->xattr_flags == 1u);
    BOOST_TEST(f->xattr_slot == *slot);
    BOOST_TEST(std::memcmp(store.xattr_value(f->xattr_slot).data(), "va", 2) == 0);
    // Every other slot is free after the load, that one is not.
    std::vector<std::uint32_t> free;
    while (auto other = store.take_xattr_slot())
        free.push_back(*other);
    BOOST_TEST(free.size() == SessionStore::kMaxXattrValues - 1);
    BOOST_TEST((std::ranges::find(free, *slot) == free.end()));

    // Two fids naming one slot: one value cannot be both.
    auto twice = fid(5, 11);
    twice.kind = StoredFid::Kind::kXattrRead;
    twice.xattr_slot = *slot;
    BOOST_REQUIRE(store.put_fid(twice));
    BOOST_TEST(store.load().error().value == EUCLEAN);
}

BOOST_AUTO_TEST_CASE(records_a_compromised_server_scribbled_are_refused_or_bounded) {
    auto store = must(SessionStore::create(16));
    BOOST_REQUIRE(store.put_fid(fid(0, 10)));
    BOOST_REQUIRE(store.put_fid(fid(1, 11, 10, "name")));
    (void)must(store.record_owner(11, "host", 1, 12));
    const auto bytes = store.bytes();
    std::mt19937_64 random(7);
    std::size_t refused = 0;
    for (int round = 0; round < 3000; ++round) {
        // A few bytes anywhere, mostly where the records live.
        for (int i = 0; i < 8; ++i) {
            const std::size_t at = random() % 2 == 0 ? random() % 4096 : random() % bytes.size();
            bytes[at] = static_cast<std::byte>(random());
        }
        auto s = store.load();
        if (!s) {
            BOOST_TEST((s.error().value == EUCLEAN || s.error().value == ENOTRECOVERABLE));
            ++refused;
            continue;
        }
        BOOST_TEST(s->routes.size() <= SessionStore::kMaxRoutes);
        for (const auto& r : s->routes)
            BOOST_TEST(r.answered.size() <= SessionStore::kMaxAnswered);
        for (const auto& f : s->fids) {
            BOOST_TEST(f.name.size() <= 255u);
            BOOST_TEST(f.name.find('/') == std::string::npos);
            BOOST_TEST((f.parent_fd == -1) == f.name.empty());
            for (const int fd : {f.node_fd, f.parent_fd, f.file_fd})
                BOOST_TEST((fd >= -1 && fd < (1 << 24)));
        }
        for (const auto& o : s->lock_owners)
            BOOST_TEST(o.client_id.size() <= fs::FileLocks::kMaxClientIdLength);
    }
    BOOST_TEST(refused > 0u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::server
