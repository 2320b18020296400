// SessionStore: what a server writes, a replacement reads back whole; what
// a compromised server scribbles is refused or read within bounds.
#include "backend/server/session_store.hpp"

#include <boost/test/unit_test.hpp>
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
    const RoutePosition positions[] = {{100, 200}, {7, 9}};
    store.mark_idle(positions);

    const auto s = must(store.load());
    BOOST_TEST(s.msize == 65536u);
    BOOST_TEST((s.dialect == p9proto::Dialect::k9P2000u));
    BOOST_REQUIRE(s.idle_at.size() == 2u);
    BOOST_TEST((s.idle_at[0] == RoutePosition{100, 200}));
    BOOST_TEST((s.idle_at[1] == RoutePosition{7, 9}));
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

BOOST_AUTO_TEST_CASE(a_busy_session_has_no_idle_position) {
    auto store = must(SessionStore::create(4));
    BOOST_TEST(must(store.load()).idle_at.empty());
    const RoutePosition at[] = {{1, 2}};
    store.mark_idle(at);
    BOOST_TEST(must(store.load()).idle_at.size() == 1u);
    store.mark_busy();
    BOOST_TEST(must(store.load()).idle_at.empty());
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
            BOOST_TEST(s.error().value == EUCLEAN);
            ++refused;
            continue;
        }
        BOOST_TEST(s->idle_at.size() <= SessionStore::kMaxRoutes);
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
