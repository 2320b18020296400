// 9P2000.u sessions over a unix socket: every .u operation under each
// security model, its errors as Rerror, the limits, and the messages of the
// other dialect refused.
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <set>

#include "p9proto/codec.hpp"
#include "p9proto/open_flags.hpp"
#include "p9proto/u_stat.hpp"
#include "tests/server/server_fixture.hpp"

namespace xen9p::server::test {
namespace {

using namespace p9proto;

constexpr std::uint32_t kMsize = client::kDefaultMsize;

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::string string_of(std::span<const std::byte> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

fs::ExportConfig with_model(fs::SecurityModel model) {
    fs::ExportConfig config;
    config.model = model;
    return config;
}

// The models a test can run under: passthrough needs root.
std::vector<fs::SecurityModel> models() {
    std::vector<fs::SecurityModel> out{fs::SecurityModel::kNone, fs::SecurityModel::kMappedXattr};
    if (::geteuid() == 0) out.push_back(fs::SecurityModel::kPassthrough);
    return out;
}

std::unique_ptr<client::Client> attached_u(SocketServer& s) {
    return s.attached(kMsize, kVersion9P2000u);
}

// A stat record that says "don't touch" except for what `change` sets.
Twstat wstat(std::uint32_t fid, auto change) {
    Twstat req{fid, WrappedStat{blank_wstat()}};
    change(req.stat.stat);
    return req;
}

// The stat of `fid`, its strings copied out of the reply.
struct Stat {
    UStat stat;
    std::string name;
    std::string extension;
};
Stat stat_of(client::Client& c, std::uint32_t fid) {
    auto reply = must(c.call(Tstat{fid}));
    auto r = must(client::expect<Rstat>(reply));
    Stat out{r->stat.stat, std::string(r->stat.stat.name.str),
             std::string(r->stat.stat.extension.str)};
    out.stat.name = {};
    out.stat.extension = {};
    return out;
}

// Every record of a directory read from offset 0 to the end, `count` at a time.
std::vector<Stat> read_dir(client::Client& c, std::uint32_t fid, std::uint32_t count = 8192) {
    std::vector<Stat> out;
    std::uint64_t offset = 0;
    for (;;) {
        auto reply = must(c.call(Tread{fid, offset, count}));
        auto data = must(client::expect<Rread>(reply))->data.bytes;
        if (data.empty()) return out;
        BOOST_REQUIRE(data.size() <= count);
        offset += data.size();
        while (!data.empty()) {
            auto record = decode_stat_record(data);
            BOOST_REQUIRE(record.has_value());
            out.push_back({record->stat, std::string(record->stat.name.str),
                           std::string(record->stat.extension.str)});
            data = data.subspan(record->size);
        }
    }
}

std::set<std::string> names_of(const std::vector<Stat>& stats) {
    std::set<std::string> out;
    for (const auto& s : stats)
        out.insert(s.name);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(u_ops)

BOOST_AUTO_TEST_CASE(u_is_agreed_and_errors_come_as_rerror_with_errno) {
    SocketServer s;
    auto c = attached_u(s);
    auto reply = must(c->call(Twalk{1, 2, {{WalkName{"missing"}}, 1}}));
    const auto* rerror = reply.as<Rerror>();
    BOOST_REQUIRE(rerror != nullptr);
    BOOST_TEST(rerror->ecode == std::uint32_t{ENOENT});
    BOOST_TEST(rerror->ename.str == "No such file or directory");
}

BOOST_AUTO_TEST_CASE(messages_of_the_other_dialect_are_eopnotsupp) {
    SocketServer s;
    auto u = attached_u(s);
    // 9P2000.L's Tgetattr and Treaddir under .u.
    BOOST_TEST(err(call<Rgetattr>(*u, Tgetattr{1, getattr::kBasic})) == EOPNOTSUPP);
    BOOST_TEST(err(call<Rreaddir>(*u, Treaddir{1, 0, 100})) == EOPNOTSUPP);
    BOOST_TEST(err(call<Rlopen>(*u, Tlopen{1, 0})) == EOPNOTSUPP);
    // 9P2000.u's Tstat and Topen under .L, answered with Rlerror.
    auto l = s.attached();
    auto reply = must(l->call(Tstat{1}));
    BOOST_REQUIRE(reply.as<Rlerror>() != nullptr);
    BOOST_TEST(reply.as<Rlerror>()->ecode == std::uint32_t{EOPNOTSUPP});
    BOOST_TEST(err(call<Ropen>(*l, Topen{1, 0})) == EOPNOTSUPP);
}

BOOST_AUTO_TEST_CASE(every_u_operation_under_each_security_model) {
    for (auto model : models()) {
        BOOST_TEST_CONTEXT("model " << fs::security_model_name(model)) {
            SocketServer s(with_model(model));
            auto c = attached_u(s);
            const bool mapped = model == fs::SecurityModel::kMappedXattr;

            // A regular file: created open, written, read back, stated.
            must(walk(*c, 2, {}));
            auto created = must(call<Rcreate>(*c, Tcreate{2, {"f"}, 0640, omode::kRdwr, {""}}));
            BOOST_TEST(created.qid.type == qid_type::kFile);
            must(client::write_all(*c, 2, 0, bytes_of("hello, u")));
            BOOST_TEST(string_of(must(client::read_all(*c, 2))) == "hello, u");
            auto st = stat_of(*c, 2);
            BOOST_TEST(st.name == "f");
            BOOST_TEST(st.stat.length == 8u);
            BOOST_TEST(st.stat.mode == 0640u);
            BOOST_TEST(st.stat.n_uid == ::getuid());
            BOOST_TEST(st.stat.qid.path == created.qid.path);
            must(client::clunk(*c, 2));

            // Topen: OTRUNC empties, OAPPEND appends, OEXEC reads.
            must(walk(*c, 3, {"f"}));
            must(call<Ropen>(*c, Topen{3, omode::kWrite | omode::kTrunc}));
            must(client::clunk(*c, 3));
            struct stat host {};
            BOOST_REQUIRE(::stat((s / "f").c_str(), &host) == 0);
            BOOST_TEST(host.st_size == 0);
            must(walk(*c, 3, {"f"}));
            must(call<Ropen>(*c, Topen{3, omode::kWrite | omode::kAppend}));
            must(client::write_all(*c, 3, 0, bytes_of("ab")));
            must(client::write_all(*c, 3, 0, bytes_of("cd")));
            must(client::clunk(*c, 3));
            must(walk(*c, 3, {"f"}));
            must(call<Ropen>(*c, Topen{3, omode::kExec}));
            BOOST_TEST(string_of(must(client::read_all(*c, 3))) == "abcd");
            BOOST_TEST(err(call<Ropen>(*c, Topen{3, omode::kRead})) == EBADF);
            must(client::clunk(*c, 3));

            // A directory: created opened, read as stat records.
            must(walk(*c, 4, {}));
            auto dir =
                must(call<Rcreate>(*c, Tcreate{4, {"d"}, dm::kDir | 0750, omode::kRead, {""}}));
            BOOST_TEST(dir.qid.type == qid_type::kDir);
            BOOST_TEST(names_of(read_dir(*c, 4)) == (std::set<std::string>{".", ".."}));
            must(walk(*c, 5, {"d"}));

            // Symlink, hard link, FIFO, socket, device: perm bits + extension.
            must(walk(*c, 6, {}, 5));
            must(
                call<Rcreate>(*c, Tcreate{6, {"sl"}, dm::kSymlink | 0777, omode::kRead, {"../f"}}));
            auto sl = stat_of(*c, 6);
            BOOST_TEST((sl.stat.mode & dm::kSymlink) != 0u);
            BOOST_TEST(sl.extension == "../f");
            BOOST_TEST(sl.stat.qid.type == qid_type::kSymlink);
            must(walk(*c, 7, {"f"}));
            must(walk(*c, 8, {}, 5));
            must(call<Rcreate>(*c, Tcreate{8, {"hard"}, dm::kLink, omode::kRead, {"7\n"}}));
            struct stat linked {};
            BOOST_REQUIRE(::stat((s / "d/hard").c_str(), &linked) == 0);
            BOOST_TEST(linked.st_nlink == 2u);
            BOOST_TEST(stat_of(*c, 7).extension == "HARDLINKCOUNT 2");
            must(walk(*c, 9, {}, 5));
            must(
                call<Rcreate>(*c, Tcreate{9, {"fifo"}, dm::kNamedPipe | 0600, omode::kRead, {""}}));
            BOOST_TEST((stat_of(*c, 9).stat.mode & dm::kNamedPipe) != 0u);
            must(walk(*c, 10, {}, 5));
            must(call<Rcreate>(*c, Tcreate{10, {"sock"}, dm::kSocket | 0600, omode::kRead, {""}}));
            BOOST_TEST((stat_of(*c, 10).stat.mode & dm::kSocket) != 0u);
            must(walk(*c, 11, {}, 5));
            auto dev = call<Rcreate>(
                *c, Tcreate{11, {"null"}, dm::kDevice | 0600, omode::kRead, {"c 1 3"}});
            if (model == fs::SecurityModel::kNone) {
                BOOST_TEST(err(dev) == EPERM);
            } else if (dev) {
                auto st_dev = stat_of(*c, 11);
                BOOST_TEST((st_dev.stat.mode & dm::kDevice) != 0u);
                BOOST_TEST(st_dev.extension == "c 1 3");
            } else {
                // Passthrough in a container without CAP_MKNOD.
                BOOST_TEST(err(dev) == EPERM);
            }
            auto listing = names_of(read_dir(*c, 4, 200));
            BOOST_TEST(listing.count("sl") == 1u);
            BOOST_TEST(listing.count("hard") == 1u);
            BOOST_TEST(listing.count("fifo") == 1u);
            BOOST_TEST(listing.count("sock") == 1u);

            // Twstat: chmod (with setgid), truncate, times, rename, chown.
            must(walk(*c, 12, {"f"}));
            must(call<Rwstat>(*c, wstat(12, [](UStat& w) { w.mode = dm::kSetgid | 0604; })));
            must(call<Rwstat>(*c, wstat(12, [](UStat& w) { w.length = 1; })));
            must(call<Rwstat>(*c, wstat(12, [](UStat& w) {
                w.atime = 1000000;
                w.mtime = 2000000;
            })));
            must(call<Rwstat>(*c, wstat(12, [](UStat& w) { w.name = Text{"g"}; })));
            must(call<Rwstat>(*c, wstat(12, [](UStat& w) {
                w.n_uid = ::getuid();
                w.n_gid = ::getgid();
            })));
            auto changed = stat_of(*c, 12);
            BOOST_TEST(changed.name == "g");
            BOOST_TEST((changed.stat.mode & 07777u) == (dm::kSetgid | 0604u) % 0x10000u);
            BOOST_TEST((changed.stat.mode & dm::kSetgid) != 0u);
            BOOST_TEST(changed.stat.length == 1u);
            BOOST_TEST(changed.stat.mtime == 2000000u);
            BOOST_TEST(changed.stat.atime == 1000000u);
            BOOST_TEST(::access((s / "g").c_str(), F_OK) == 0);
            BOOST_REQUIRE(::stat((s / "g").c_str(), &host) == 0);
            BOOST_TEST(host.st_mtime == 2000000);
            if (!mapped) BOOST_TEST((host.st_mode & 07777) == (S_ISGID | 0604u));
            // A blank Twstat (Linux's fsync) changes nothing.
            must(call<Rwstat>(*c, Twstat{12, WrappedStat{blank_wstat()}}));
            BOOST_TEST(stat_of(*c, 12).stat.mode == changed.stat.mode);

            // Tremove removes and clunks, even when it fails.
            must(call<Rremove>(*c, Tremove{12}));
            BOOST_TEST(::access((s / "g").c_str(), F_OK) != 0);
            BOOST_TEST(err(client::clunk(*c, 12)) == EBADF);
            must(walk(*c, 13, {"d"}));
            BOOST_TEST(err(call<Rremove>(*c, Tremove{13})) == ENOTEMPTY);
            BOOST_TEST(err(client::clunk(*c, 13)) == EBADF);

            // ORCLOSE: the file goes with the fid.
            must(walk(*c, 14, {}));
            must(
                call<Rcreate>(*c, Tcreate{14, {"tmp"}, 0600, omode::kRdwr | omode::kRclose, {""}}));
            BOOST_TEST(::access((s / "tmp").c_str(), F_OK) == 0);
            must(client::clunk(*c, 14));
            BOOST_TEST(::access((s / "tmp").c_str(), F_OK) != 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(mapped_modes_and_owners_appear_in_u_stat) {
    SocketServer s(with_model(fs::SecurityModel::kMappedXattr));
    auto c = s.attached(kMsize, kVersion9P2000u, 4321);
    must(walk(*c, 2, {}));
    must(call<Rcreate>(*c, Tcreate{2, {"f"}, 0751, omode::kRdwr, {""}}));
    auto st = stat_of(*c, 2);
    BOOST_TEST(st.stat.n_uid == 4321u);
    BOOST_TEST(st.stat.mode == 0751u);
    // The host file keeps the server's own owner and the mapped mode lives
    // in the xattr.
    struct stat host {};
    BOOST_REQUIRE(::stat((s / "f").c_str(), &host) == 0);
    BOOST_TEST(host.st_uid == ::getuid());
    BOOST_TEST(::getxattr((s / "f").c_str(), "user.virtfs.uid", nullptr, 0) > 0);
    must(walk(*c, 3, {}));
    must(call<Rcreate>(*c, Tcreate{3, {"null"}, dm::kDevice | 0600, omode::kRead, {"b 7 9"}}));
    auto dev = stat_of(*c, 3);
    BOOST_TEST((dev.stat.mode & dm::kDevice) != 0u);
    BOOST_TEST(dev.extension == "b 7 9");
    // A mapped symlink is a regular file on the host; .u still sees the link.
    must(walk(*c, 4, {}));
    must(call<Rcreate>(*c, Tcreate{4, {"sl"}, dm::kSymlink | 0777, omode::kRead, {"target"}}));
    BOOST_REQUIRE(::lstat((s / "sl").c_str(), &host) == 0);
    BOOST_TEST(S_ISREG(host.st_mode));
    BOOST_TEST(stat_of(*c, 4).extension == "target");
}

BOOST_AUTO_TEST_CASE(directory_reads_return_whole_records_and_resume_by_offset) {
    SocketServer s;
    for (int i = 0; i < 40; ++i)
        write_file(s / ("entry-with-a-long-name-" + std::to_string(i)), "x");
    auto c = attached_u(s);
    must(walk(*c, 2, {}));
    must(call<Ropen>(*c, Topen{2, omode::kRead}));
    // Small reads: each holds whole records only; together they list all.
    auto small = read_dir(*c, 2, 150);
    BOOST_TEST(small.size() == 42u);
    BOOST_TEST(names_of(small).size() == 42u);
    // Offset 0 starts over; any other offset than the previous end is EINVAL.
    auto first = must(c->call(Tread{2, 0, 150}));
    const auto got = must(client::expect<Rread>(first))->data.bytes.size();
    BOOST_TEST(got > 0u);
    BOOST_TEST(err(call<Rread>(*c, Tread{2, got + 1, 150})) == EINVAL);
    BOOST_TEST(names_of(read_dir(*c, 2)) == names_of(small));
    // Too small for one record.
    BOOST_TEST(err(call<Rread>(*c, Tread{2, 0, 10})) == EINVAL);
}

BOOST_AUTO_TEST_CASE(bad_extensions_and_perm_bits_are_einval) {
    SocketServer s;
    auto c = attached_u(s);
    for (std::string_view ext : {"", "x 1 2", "c 1", "c 1 2 3", "c -1 2", "c1 2"}) {
        BOOST_TEST_CONTEXT("'" << ext << "'") {
            must(walk(*c, 2, {}));
            BOOST_TEST(err(call<Rcreate>(*c, Tcreate{2, {"dev"}, dm::kDevice | 0600, 0, {ext}})) ==
                       EINVAL);
            must(client::clunk(*c, 2));
        }
    }
    must(walk(*c, 2, {}));
    BOOST_TEST(err(call<Rcreate>(*c, Tcreate{2, {"l"}, dm::kLink, 0, {"x"}})) == EINVAL);
    BOOST_TEST(err(call<Rcreate>(*c, Tcreate{2, {"l"}, dm::kLink, 0, {"99\n"}})) == EBADF);
    BOOST_TEST(err(call<Rcreate>(*c, Tcreate{2, {"l"}, dm::kSymlink, 0, {""}})) == EINVAL);
    BOOST_TEST(err(call<Rcreate>(*c, Tcreate{2, {"two"}, dm::kDir | dm::kSymlink, 0, {"t"}})) ==
               EINVAL);
    BOOST_TEST(::access((s / "two").c_str(), F_OK) != 0);
    // A rename in a Twstat is one entry name, never a path.
    write_file(s / "f", "x");
    must(walk(*c, 3, {"f"}));
    BOOST_TEST(err(call<Rwstat>(*c, wstat(3, [](UStat& w) { w.name = Text{"../escape"}; }))) ==
               EINVAL);
    BOOST_TEST(err(call<Rwstat>(*c, wstat(3, [](UStat& w) { w.name = Text{".."}; }))) == EINVAL);
    BOOST_TEST(::access((s / "f").c_str(), F_OK) == 0);
}

BOOST_AUTO_TEST_CASE(read_only_export_refuses_u_changes) {
    fs::ExportConfig config;
    config.read_only = true;
    SocketServer s(config);
    write_file(s / "f", "data");
    auto c = attached_u(s);
    must(walk(*c, 2, {}));
    BOOST_TEST(err(call<Rcreate>(*c, Tcreate{2, {"n"}, 0644, omode::kRdwr, {""}})) == EROFS);
    BOOST_TEST(err(call<Rcreate>(*c, Tcreate{2, {"n"}, dm::kDir | 0755, 0, {""}})) == EROFS);
    must(walk(*c, 3, {"f"}));
    BOOST_TEST(err(call<Ropen>(*c, Topen{3, omode::kWrite})) == EROFS);
    BOOST_TEST(err(call<Ropen>(*c, Topen{3, omode::kRead | omode::kRclose})) == EROFS);
    BOOST_TEST(err(call<Rwstat>(*c, wstat(3, [](UStat& w) { w.mode = 0600; }))) == EROFS);
    BOOST_TEST(err(call<Rwstat>(*c, wstat(3, [](UStat& w) { w.name = Text{"g"}; }))) == EROFS);
    BOOST_TEST(err(call<Rremove>(*c, Tremove{3})) == EROFS);
    must(walk(*c, 4, {"f"}));
    must(call<Ropen>(*c, Topen{4, omode::kRead}));
    BOOST_TEST(string_of(must(client::read_all(*c, 4))) == "data");
    must(call<Rwstat>(*c, Twstat{4, WrappedStat{blank_wstat()}}));
}

BOOST_AUTO_TEST_CASE(u_opens_and_creates_count_against_the_limits) {
    fs::ExportConfig config;
    config.limits.max_open_files = 1;
    config.limits.max_files = 2;
    SessionConfig session;
    session.max_fids = 6;
    SocketServer s(config, session);
    auto c = attached_u(s);
    must(walk(*c, 2, {}));
    must(call<Rcreate>(*c, Tcreate{2, {"a"}, 0644, omode::kRdwr, {""}}));
    must(walk(*c, 3, {"a"}));
    BOOST_TEST(err(call<Ropen>(*c, Topen{3, omode::kRead})) == EMFILE);
    must(client::clunk(*c, 2));
    must(call<Ropen>(*c, Topen{3, omode::kRead}));
    must(client::clunk(*c, 3));
    // max-files: "a" and one more entry, then none.
    must(walk(*c, 4, {}));
    must(call<Rcreate>(*c, Tcreate{4, {"fifo"}, dm::kNamedPipe | 0600, 0, {""}}));
    must(walk(*c, 5, {}));
    const int over = err(call<Rcreate>(*c, Tcreate{5, {"b"}, dm::kDir | 0755, 0, {""}}));
    BOOST_TEST(over == ENOSPC);
    // max-fids: fids 1, 4 and 5 live; three more, then none.
    for (std::uint32_t fid = 6; fid <= 8; ++fid)
        must(walk(*c, fid, {}));
    BOOST_TEST(err(walk(*c, 9, {})) == EMFILE);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::server::test
