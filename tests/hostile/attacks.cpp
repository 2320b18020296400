#include "tests/hostile/attacks.hpp"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "client/operations.hpp"
#include "p9proto/codec.hpp"
#include "p9proto/dirent.hpp"
#include "p9proto/open_flags.hpp"

namespace xen9p::hostile {

namespace {

namespace p = xen9p::p9proto;

constexpr std::uint32_t kRoot = 0;

// Lets a Client drive the attack's transport without owning it.
class Borrowed final : public client::ClientTransport {
  public:
    explicit Borrowed(client::ClientTransport& t) : t_(t) {}
    Status send(const client::OutgoingMessage& m) override { return t_.send(m); }
    Result<std::vector<std::byte>> receive(std::size_t max_size) override {
        return t_.receive(max_size);
    }
    std::uint32_t max_msize() const override { return t_.max_msize(); }
    void abandon(std::uint16_t tag) override { t_.abandon(tag); }

  private:
    client::ClientTransport& t_;
};

// A client on the attack's transport, attached as root with fid kRoot.
std::unique_ptr<client::Client> attached(client::ClientTransport& t, const AttackContext& ctx) {
    auto c = std::make_unique<client::Client>(std::make_unique<Borrowed>(t));
    auto msize = c->negotiate(ctx.msize);
    BOOST_REQUIRE(msize.has_value());
    BOOST_REQUIRE(client::attach(*c, kRoot, "root", "", 0).has_value());
    return c;
}

template <class T>
int err(const Result<T>& r) {
    return r.has_value() ? 0 : r.error().value;
}
int err(const Status& s) {
    return s.has_value() ? 0 : s.error().value;
}

// The reply to `body` as R, Rlerror as its errno. Only for replies without
// views (Data, strings): the buffer is gone on return.
template <class R>
Result<R> call(client::Client& c, const p::RequestBody& body) {
    auto reply = c.call(body);
    if (!reply) return std::unexpected(reply.error());
    auto r = client::expect<R>(*reply);
    if (!r) return std::unexpected(r.error());
    return **r;
}

// Used from sender threads too, so no Boost.Test here; requests that cannot
// encode are a bug of this file.
std::vector<std::byte> encode(std::uint16_t tag, const p::RequestBody& body) {
    const p::Request request{tag, body};
    std::vector<std::byte> out(p::encoded_size(request));
    if (!p::encode(request, out)) std::abort();
    return out;
}

void put_le32(std::vector<std::byte>& bytes, std::size_t at, std::uint32_t value) {
    for (std::size_t i = 0; i < 4; ++i)
        bytes[at + i] = static_cast<std::byte>(value >> (8 * i));
}

// One reply read straight off the transport.
Result<client::OwnedReply> receive(client::ClientTransport& t, std::uint32_t msize) {
    auto bytes = t.receive(msize);
    if (!bytes) return std::unexpected(bytes.error());
    auto reply = client::OwnedReply::decode(std::move(*bytes), msize);
    if (!reply) return fail(EPROTO);
    return std::move(*reply);
}

std::string read_host(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Names under `dir` (recursively), for "nothing appeared outside" checks.
std::set<std::string> tree_of(const std::string& dir) {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        names.insert(e.path().string());
    return names;
}

// Opens `name` under the root as fid `fid` with `flags`.
void open_as(client::Client& c, std::uint32_t fid, std::string_view name, std::uint32_t flags) {
    const std::string_view names[] = {name};
    BOOST_REQUIRE(client::walk(c, kRoot, fid, names).has_value());
    BOOST_REQUIRE(client::lopen(c, fid, flags).has_value());
}

}  // namespace

void fid_flood(client::ClientTransport& t, const AttackContext& ctx) {
    auto c = attached(t, ctx);
    const std::size_t attempts = ctx.limits.max_fids + 64;
    std::size_t granted = 1;  // the root fid
    std::size_t emfile = 0;
    std::size_t other = 0;
    for (std::uint32_t fid = 1; fid <= attempts; ++fid) {
        const int e = err(client::walk(*c, kRoot, fid, {}));
        if (e == 0) {
            ++granted;
        } else if (e == EMFILE) {
            ++emfile;
        } else {
            ++other;
        }
    }
    BOOST_CHECK_EQUAL(granted, ctx.limits.max_fids);
    BOOST_CHECK_EQUAL(emfile, attempts + 1 - ctx.limits.max_fids);
    BOOST_CHECK_EQUAL(other, 0u);
    ctx.second_client_works();
    // A bound on the count, not a leak: clunked fids make room again.
    for (std::uint32_t fid = 1; fid <= 8; ++fid)
        BOOST_CHECK(client::clunk(*c, fid).has_value());
    for (std::uint32_t fid = 1; fid <= 8; ++fid)
        BOOST_CHECK_EQUAL(err(client::walk(*c, kRoot, fid, {})), 0);
    BOOST_CHECK_EQUAL(err(client::walk(*c, kRoot, 100000, {})), EMFILE);
}

void tag_flood(client::ClientTransport& t, const AttackContext& ctx) {
    auto c = attached(t, ctx);
    constexpr std::size_t kTags = 0xffff;  // 0..0xfffe: every tag but NOTAG
    std::atomic<bool> send_failed{false};
    // Sent from a second thread: the daemon stops reading while its replies
    // wait for us, so one thread alone would deadlock against it.
    std::thread sender([&] {
        for (std::size_t tag = 0; tag < kTags; ++tag) {
            auto bytes =
                encode(static_cast<std::uint16_t>(tag), p::Tgetattr{kRoot, p::getattr::kBasic});
            if (!t.send({static_cast<std::uint16_t>(tag), bytes})) {
                send_failed = true;
                return;
            }
        }
    });
    std::vector<bool> answered(kTags, false);
    std::size_t duplicates = 0;
    std::size_t wrong = 0;
    std::size_t received = 0;
    for (; received < kTags; ++received) {
        auto reply = receive(t, ctx.msize);
        if (!reply) break;
        if (reply->as<p::Rgetattr>() == nullptr || reply->tag() >= kTags) {
            ++wrong;
        } else if (answered[reply->tag()]) {
            ++duplicates;
        } else {
            answered[reply->tag()] = true;
        }
        if (received == kTags / 2) ctx.second_client_works();
    }
    sender.join();
    BOOST_CHECK(!send_failed);
    BOOST_CHECK_EQUAL(received, kTags);
    BOOST_CHECK_EQUAL(duplicates, 0u);
    BOOST_CHECK_EQUAL(wrong, 0u);
}

void readdir_tiny_count(client::ClientTransport& t, const AttackContext& ctx, std::size_t entries) {
    auto c = attached(t, ctx);
    open_as(*c, 1, "huge", p::dotl::kRdonly | p::dotl::kDirectory);
    // Below the header of one entry (24 bytes + name): nothing fits, EINVAL
    // as getdents(2) answers a buffer too small for one entry.
    for (std::uint32_t count : {0u, 1u, 10u, 24u}) {
        auto reply = c->call(p::Treaddir{1, 0, count});
        BOOST_REQUIRE(reply.has_value());
        auto r = client::expect<p::Rreaddir>(*reply);
        BOOST_CHECK_EQUAL(err(r), EINVAL);
    }
    // A tiny count, cookie by cookie (cookies are opaque: tmpfs counts them
    // down): each reply within count, each names something new.
    std::set<std::string> seen;
    std::uint64_t offset = 0;
    constexpr std::uint32_t kTiny = 40;
    for (int round = 0; round < 400; ++round) {
        auto reply = c->call(p::Treaddir{1, offset, kTiny});
        BOOST_REQUIRE(reply.has_value());
        auto r = client::expect<p::Rreaddir>(*reply);
        BOOST_REQUIRE(r.has_value());
        BOOST_REQUIRE_LE((*r)->data.bytes.size(), kTiny);
        p::DirentReader reader((*r)->data.bytes);
        std::size_t n = 0;
        while (auto e = reader.next()) {
            BOOST_CHECK(seen.insert(std::string(e->name)).second);
            offset = e->offset;
            ++n;
        }
        BOOST_REQUIRE(!reader.failed());
        BOOST_REQUIRE_GT(n, 0u);
    }
    ctx.second_client_works();
    // The whole listing with the usual count: every entry exactly once.
    auto all = client::readdir_all(*c, 1);
    BOOST_REQUIRE(all.has_value());
    std::set<std::string> names;
    for (const auto& e : *all)
        names.insert(e.name);
    BOOST_CHECK_EQUAL(names.size(), all->size());
    BOOST_CHECK_EQUAL(names.size(), entries + 2);  // with "." and ".."
}

void deep_walks(client::ClientTransport& t, const AttackContext& ctx, std::size_t depth) {
    auto c = attached(t, ctx);
    const std::string_view deep[] = {"deep"};
    BOOST_REQUIRE(client::walk(*c, kRoot, 50, deep).has_value());
    std::vector<std::string_view> sixteen(16, "d");
    std::uint32_t from = 50;
    std::uint32_t fid = 1;
    for (std::size_t done = 0; done + 16 <= depth; done += 16, ++fid) {
        auto qids = client::walk(*c, from, fid, sixteen);
        BOOST_REQUIRE(qids.has_value());
        BOOST_CHECK_EQUAL(qids->size(), 16u);
        from = fid;
    }
    const std::string_view bottom[] = {"bottom"};
    BOOST_REQUIRE(client::walk(*c, from, 100, bottom).has_value());
    BOOST_REQUIRE(client::lopen(*c, 100, p::dotl::kRdonly).has_value());
    auto data = client::read_all(*c, 100);
    BOOST_REQUIRE(data.has_value());
    BOOST_CHECK_EQUAL(data->size(), 7u);  // "bottom\n"

    // 17 names: refused by the codec with the request's tag, connection kept.
    p::Twalk seventeen{kRoot, 101, {}};
    seventeen.names.count = 16;
    for (auto& n : seventeen.names.names)
        n.str = "d";
    auto bytes = encode(7, seventeen);
    const std::size_t count_at = 4 + 1 + 2 + 4 + 4;
    bytes[count_at] = std::byte{17};
    bytes.insert(bytes.end(), {std::byte{1}, std::byte{0}, std::byte{'d'}});
    put_le32(bytes, 0, static_cast<std::uint32_t>(bytes.size()));
    BOOST_REQUIRE(t.send({7, bytes}).has_value());
    auto refused = receive(t, ctx.msize);
    BOOST_REQUIRE(refused.has_value());
    BOOST_CHECK_EQUAL(refused->tag(), 7);
    BOOST_REQUIRE(refused->error().has_value());
    BOOST_CHECK_EQUAL(refused->error()->value, EINVAL);

    // 16 ".." from the root end at the root.
    auto root = call<p::Rgetattr>(*c, p::Tgetattr{kRoot, p::getattr::kBasic});
    BOOST_REQUIRE(root.has_value());
    std::vector<std::string_view> up(16, "..");
    auto ups = client::walk(*c, kRoot, 102, up);
    BOOST_REQUIRE(ups.has_value());
    BOOST_CHECK(ups->back() == root->qid);

    // A walk that fails at name 5: 4 qids, newfid not created.
    p::Twalk partial{kRoot, 103, {}};
    const std::string_view names[] = {"deep", "d", "d", "d", "missing", "d", "d"};
    for (const auto& n : names)
        partial.names.names[partial.names.count++].str = n;
    auto walked = call<p::Rwalk>(*c, partial);
    BOOST_REQUIRE(walked.has_value());
    BOOST_CHECK_EQUAL(walked->qids.count, 4);
    BOOST_CHECK_EQUAL(err(call<p::Rgetattr>(*c, p::Tgetattr{103, p::getattr::kBasic})), EBADF);
    ctx.second_client_works();
}

void xattr_above_64k(client::ClientTransport& t, const AttackContext& ctx) {
    auto c = attached(t, ctx);
    const std::string_view witness[] = {"witness"};
    BOOST_REQUIRE(client::walk(*c, kRoot, 1, witness).has_value());
    BOOST_CHECK_EQUAL(err(call<p::Rxattrcreate>(*c, p::Txattrcreate{1, {"user.big"}, 65537, 0})),
                      E2BIG);
    BOOST_CHECK_EQUAL(
        err(call<p::Rxattrcreate>(*c, p::Txattrcreate{1, {"user.big"}, UINT64_MAX, 0})), E2BIG);
    // Refused requests leave the fid as it was: still a file fid.
    BOOST_CHECK_EQUAL(err(call<p::Rgetattr>(*c, p::Tgetattr{1, p::getattr::kBasic})), 0);
    // The largest value Linux allows (XATTR_SIZE_MAX) is accepted and collected.
    BOOST_REQUIRE_EQUAL(err(call<p::Rxattrcreate>(*c, p::Txattrcreate{1, {"user.big"}, 65536, 0})),
                        0);
    const std::vector<std::byte> chunk(4096, std::byte{'x'});
    for (std::uint64_t off = 0; off < 65536; off += chunk.size())
        BOOST_REQUIRE_EQUAL(err(call<p::Rwrite>(*c, p::Twrite{1, off, {chunk}})), 0);
    BOOST_CHECK_EQUAL(err(call<p::Rwrite>(*c, p::Twrite{1, 65536, {chunk}})), EINVAL);
    ctx.second_client_works();
    // Committing may be refused by the host file system; it must not hang or crash.
    (void)client::clunk(*c, 1);
}

void xattrcreate_lying(client::ClientTransport& t, const AttackContext& ctx) {
    auto c = attached(t, ctx);
    const std::string_view witness[] = {"witness"};
    const std::vector<std::byte> twenty(20, std::byte{'v'});
    // More than announced.
    BOOST_REQUIRE(client::walk(*c, kRoot, 1, witness).has_value());
    BOOST_REQUIRE_EQUAL(err(call<p::Rxattrcreate>(*c, p::Txattrcreate{1, {"user.more"}, 10, 0})),
                        0);
    BOOST_CHECK_EQUAL(err(call<p::Rwrite>(*c, p::Twrite{1, 0, {twenty}})), EINVAL);
    // Less than announced: the clunk fails and nothing is set.
    BOOST_REQUIRE(client::walk(*c, kRoot, 2, witness).has_value());
    BOOST_REQUIRE_EQUAL(err(call<p::Rxattrcreate>(*c, p::Txattrcreate{2, {"user.less"}, 100, 0})),
                        0);
    BOOST_CHECK_EQUAL(err(call<p::Rwrite>(*c, p::Twrite{2, 0, {twenty}})), 0);
    BOOST_CHECK_EQUAL(err(client::clunk(*c, 2)), EINVAL);
    const std::string host = ctx.export_dir + "/witness";
    char value[128];
    BOOST_CHECK_LT(::getxattr(host.c_str(), "user.less", value, sizeof value), 0);
    // A write that skips ahead.
    BOOST_REQUIRE(client::walk(*c, kRoot, 3, witness).has_value());
    BOOST_REQUIRE_EQUAL(err(call<p::Rxattrcreate>(*c, p::Txattrcreate{3, {"user.gap"}, 40, 0})), 0);
    BOOST_CHECK_EQUAL(err(call<p::Rwrite>(*c, p::Twrite{3, 5, {twenty}})), EINVAL);
    ctx.second_client_works();
    BOOST_CHECK_EQUAL(err(client::clunk(*c, 3)), EINVAL);
    BOOST_CHECK_LT(::getxattr(host.c_str(), "user.gap", value, sizeof value), 0);
    BOOST_CHECK_EQUAL(read_host(host), DaemonProcess::kWitnessText);
}

void twrite_beyond_msize(client::ClientTransport& t, const AttackContext& ctx) {
    auto c = attached(t, ctx);
    BOOST_REQUIRE(call<p::Rlcreate>(*c, p::Tlcreate{kRoot, {"scratch"}, p::dotl::kRdwr, 0644, 0})
                      .has_value());
    // kRoot is now the open scratch file. A count of msize with 10 bytes sent.
    const std::vector<std::byte> ten(10, std::byte{'w'});
    auto lying = encode(9, p::Twrite{kRoot, 0, {ten}});
    put_le32(lying, 4 + 1 + 2 + 4 + 8, ctx.msize);
    BOOST_REQUIRE(t.send({9, lying}).has_value());
    auto refused = receive(t, ctx.msize);
    BOOST_REQUIRE(refused.has_value());
    BOOST_CHECK_EQUAL(refused->tag(), 9);
    BOOST_REQUIRE(refused->error().has_value());
    BOOST_CHECK_EQUAL(refused->error()->value, EPROTO);
    BOOST_CHECK_EQUAL(std::filesystem::file_size(ctx.export_dir + "/scratch"), 0u);
    // Still served.
    BOOST_CHECK(call<p::Rgetattr>(*c, p::Tgetattr{kRoot, p::getattr::kBasic}).has_value());
    ctx.second_client_works();
    // One byte more than msize on the wire: a framing violation, the daemon
    // hangs up (a stream cannot skip it).
    const std::vector<std::byte> big(ctx.msize - 23 + 1, std::byte{'w'});
    auto oversized = encode(10, p::Twrite{kRoot, 0, {big}});
    BOOST_REQUIRE_EQUAL(oversized.size(), ctx.msize + 1);
    (void)t.send({10, oversized});
    auto after = t.receive(ctx.msize);
    BOOST_CHECK(!after.has_value());
    BOOST_CHECK_EQUAL(std::filesystem::file_size(ctx.export_dir + "/scratch"), 0u);
}

void lock_flood(client::ClientTransport& t, const AttackContext& ctx) {
    auto c = attached(t, ctx);
    open_as(*c, 1, "witness", p::dotl::kRdwr);
    constexpr std::size_t kOwners = 64;  // fs::FileLocks::kMaxOwners
    std::size_t granted = 0;
    std::size_t nolck = 0;
    for (std::uint32_t owner = 0; owner < kOwners + 16; ++owner) {
        auto r = call<p::Rlock>(
            *c, p::Tlock{1, p::lock::kWriteLock, 0, owner * 10ull, 10, owner, {"flood"}});
        if (r && r->status == p::lock::kStatusSuccess) {
            ++granted;
        } else if (err(r) == ENOLCK) {
            ++nolck;
        }
    }
    BOOST_CHECK_EQUAL(granted, kOwners);
    BOOST_CHECK_EQUAL(nolck, 16u);
    ctx.second_client_works();

    // Owners on many open fids: what the daemon holds comes back at clunk.
    const std::size_t fds_before = ctx.open_fds();
    constexpr std::uint32_t kFids = 16;
    for (std::uint32_t fid = 2; fid < 2 + kFids; ++fid) {
        open_as(*c, fid, "witness", p::dotl::kRdwr);
        for (std::uint32_t owner = 0; owner < kOwners; ++owner)
            (void)call<p::Rlock>(*c, p::Tlock{fid, p::lock::kReadLock, 0, 0, 1, owner, {"many"}});
    }
    BOOST_TEST_MESSAGE("daemon fds with " << kFids << " fids x " << kOwners << " lock owners: "
                                          << ctx.open_fds() << " (before " << fds_before << ")");
    ctx.second_client_works();
    for (std::uint32_t fid = 1; fid < 2 + kFids; ++fid)
        BOOST_CHECK(client::clunk(*c, fid).has_value());
    BOOST_CHECK_LE(ctx.open_fds(), fds_before);
}

void walk_during_swaps(client::ClientTransport& t, const AttackContext& ctx, std::size_t rounds) {
    auto c = attached(t, ctx);
    const auto outside_before = tree_of(ctx.outside_dir);
    std::size_t reads = 0;
    for (std::size_t i = 0; i < rounds; ++i) {
        const std::uint32_t fid = 1;
        const std::string_view path[] = {"race", "a", "x"};
        if (client::walk(*c, kRoot, fid, path)) {
            if (client::lopen(*c, fid, p::dotl::kRdonly)) {
                auto data = client::read_all(*c, fid);
                if (data) {
                    const std::string text(reinterpret_cast<const char*>(data->data()),
                                           data->size());
                    BOOST_REQUIRE_MESSAGE(text.find("SECRET") == std::string::npos,
                                          "read the outside's secret");
                    ++reads;
                }
            }
            (void)client::clunk(*c, fid);
        }
        // Create through the swapped name, and climb out of it.
        const std::string_view dir[] = {"race", "a"};
        if (client::walk(*c, kRoot, 2, dir)) {
            const std::string name = "planted" + std::to_string(i % 4);
            (void)call<p::Rlcreate>(*c, p::Tlcreate{2, {name}, p::dotl::kRdwr, 0644, 0});
            (void)client::clunk(*c, 2);
        }
        const std::string_view climb[] = {"race", "a", "..", "..", "..", "outside", "secret"};
        BOOST_REQUIRE_NE(err(client::walk(*c, kRoot, 3, climb)), 0);
        if (i == rounds / 2) ctx.second_client_works();
    }
    BOOST_TEST_MESSAGE("walk_during_swaps: " << reads << " reads of race/a/x in " << rounds
                                             << " rounds");
    BOOST_CHECK(tree_of(ctx.outside_dir) == outside_before);
    BOOST_CHECK_EQUAL(read_host(ctx.outside_dir + "/secret"), DaemonProcess::kSecretText);
}

void never_reads_replies(client::ClientTransport& t, const AttackContext& ctx) {
    auto c = attached(t, ctx);
    const std::uint32_t payload = ctx.msize - static_cast<std::uint32_t>(p::kIoHeaderSize);
    BOOST_REQUIRE(
        call<p::Rlcreate>(*c, p::Tlcreate{kRoot, {"big"}, p::dotl::kRdwr, 0644, 0}).has_value());
    const std::vector<std::byte> block(payload, std::byte{'b'});
    BOOST_REQUIRE(client::write_all(*c, kRoot, 0, block).has_value());
    c.reset();  // from here on, raw sends only and no reads

    // Unthrottled, these would ask for 200000 x msize (about 13 GiB) of
    // replies; they are more than a socket's buffers or two order-9 rings
    // (1 MiB of 23-byte requests each) hold, so the sender stalls once the
    // daemon stops reading. Tags go round, NOTAG aside.
    constexpr std::size_t kRequests = 200000;
    std::atomic<std::size_t> sent{0};
    std::thread sender([&] {
        for (std::size_t i = 0; i < kRequests; ++i) {
            const auto tag = static_cast<std::uint16_t>(i % p::kNoTag);
            if (!t.send({tag, encode(tag, p::Tread{kRoot, 0, payload})})) return;
            sent = i + 1;
        }
    });
    // Wait until the sender has stalled (the daemon stopped reading) or finished.
    std::size_t last = 0;
    int quiet = 0;
    while (quiet < 20 && sent.load() < kRequests) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        const std::size_t now = sent.load();
        quiet = now == last ? quiet + 1 : 0;
        last = now;
    }
    const std::size_t stalled_at = sent.load();
    BOOST_TEST_MESSAGE("never_reads_replies: sender stalled after " << stalled_at << " requests");
    BOOST_CHECK_LT(stalled_at, kRequests);
    const Memory held = ctx.memory();
    ctx.second_client_works();
    ctx.cut_attacker();
    sender.join();
    BOOST_TEST_MESSAGE("never_reads_replies: daemon VmHWM " << held.hwm_kib << " KiB");
}

}  // namespace xen9p::hostile
