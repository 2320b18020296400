// Every 9P2000.L op through the client library over a unix socket: success and
// error paths as the Linux client sees them.
#include <sys/stat.h>
#include <sys/xattr.h>

#include <set>

#include "p9proto/dirent.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/server/server_fixture.hpp"

namespace xen9p::server::test {
namespace {

using namespace p9proto;

std::span<const std::byte> bytes_of(std::string_view s) {
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::string string_of(std::span<const std::byte> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// Creates `name` in the directory `dirfid` names (walked to `fid`) and opens it read-write.
void create(client::Client& c, std::uint32_t fid, std::string_view name, std::uint32_t dirfid = 1) {
    must(walk(c, fid, {}, dirfid));
    must(call<Rlcreate>(c, Tlcreate{fid, {name}, dotl::kRdwr, 0644, ::getgid()}));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ops)

BOOST_AUTO_TEST_CASE(auth_answers_enoent_and_attach_proceeds) {
    SocketServer s;
    auto c = s.connect();
    BOOST_TEST(err(call<Rauth>(*c, Tauth{5, {"user"}, {s.aname()}, ::getuid()})) == ENOENT);
    BOOST_TEST(err(client::attach(*c, 1, "", s.aname(), ::getuid())) == 0);
}

BOOST_AUTO_TEST_CASE(attach_without_n_uname_falls_back_to_uname) {
    SocketServer s;
    auto c = s.connect();
    auto qid = must(client::attach(*c, 1, std::to_string(::getuid()), s.aname(), kNoUname));
    BOOST_TEST((qid.type & qid_type::kDir) != 0);
    BOOST_TEST(err(client::attach(*c, 2, "no-such-user-xen9p", s.aname(), kNoUname)) == EPERM);
}

BOOST_AUTO_TEST_CASE(none_model_creations_belong_to_an_n_uname_but_not_to_a_bare_uname) {
    if (::geteuid() != 0) return;
    SocketServer s;  // security model none
    BOOST_REQUIRE(::chmod(s.root().c_str(), 0777) == 0);
    auto named = s.connect();
    must(client::attach(*named, 1, "", s.aname(), 1000));
    must(walk(*named, 2, {}));
    must(call<Rlcreate>(*named, Tlcreate{2, {"named"}, dotl::kRdwr, 0640, 1001}));
    must(walk(*named, 3, {}));
    must(call<Rmkdir>(*named, Tmkdir{3, {"named-dir"}, 0750, 1001}));
    // Linux's first attach: uname "nobody", no n_uname. QEMU leaves the owner then.
    auto bare = s.connect();
    must(client::attach(*bare, 1, "nobody", s.aname(), kNoUname));
    must(walk(*bare, 2, {}));
    must(call<Rlcreate>(*bare, Tlcreate{2, {"bare"}, dotl::kRdwr, 0640, 1001}));
    struct stat st {};
    BOOST_REQUIRE(::stat((s / "named").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 1000u);
    BOOST_TEST(st.st_gid == 1001u);
    BOOST_REQUIRE(::stat((s / "named-dir").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 1000u);
    BOOST_REQUIRE(::stat((s / "bare").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 0u);
}

BOOST_AUTO_TEST_CASE(attach_to_another_aname_is_enoent) {
    SocketServer s;
    auto c = s.connect();
    BOOST_TEST(err(client::attach(*c, 1, "", "/not/the/export", ::getuid())) == ENOENT);
    BOOST_TEST(err(client::attach(*c, 1, "", "", ::getuid())) == 0);
    BOOST_TEST(err(client::attach(*c, 1, "", "", ::getuid())) == EBADF);
}

BOOST_AUTO_TEST_CASE(walk_partial_failure_answers_found_qids_and_leaves_newfid_unused) {
    SocketServer s;
    BOOST_REQUIRE(::mkdir((s / "d").c_str(), 0755) == 0);
    auto c = s.attached();
    auto reply = must(c->call(Twalk{1, 2, {{WalkName{"d"}, WalkName{"missing"}}, 2}}));
    auto rwalk = must(client::expect<Rwalk>(reply));
    BOOST_TEST(rwalk->qids.count == 1);
    BOOST_TEST(err(call<Rgetattr>(*c, Tgetattr{2, getattr::kBasic})) == EBADF);
    BOOST_TEST(err(walk(*c, 3, {"missing"})) == ENOENT);
    BOOST_TEST(err(call<Rgetattr>(*c, Tgetattr{3, getattr::kBasic})) == EBADF);
}

BOOST_AUTO_TEST_CASE(walk_clones_with_no_names_and_allows_newfid_equal_fid) {
    SocketServer s;
    BOOST_REQUIRE(::mkdir((s / "d").c_str(), 0755) == 0);
    write_file(s / "d/f", "x");
    auto c = s.attached();
    BOOST_TEST(must(walk(*c, 2, {})).empty());
    BOOST_TEST(must(walk(*c, 2, {"d"}, 2)).size() == 1u);
    BOOST_TEST(must(walk(*c, 2, {"f"}, 2)).size() == 1u);
    auto attr = must(call<Rgetattr>(*c, Tgetattr{2, getattr::kBasic}));
    BOOST_TEST(attr.size == 1u);
    BOOST_TEST(must(call<Rgetattr>(*c, Tgetattr{1, getattr::kBasic})).qid.type == qid_type::kDir);
}

BOOST_AUTO_TEST_CASE(walk_of_sixteen_names_and_errors_on_the_way) {
    SocketServer s;
    std::string path = s.root();
    for (int i = 0; i < 16; ++i) {
        path += "/n";
        BOOST_REQUIRE(::mkdir(path.c_str(), 0755) == 0);
    }
    write_file(s / "file", "x");
    BOOST_REQUIRE(::symlink("n", (s / "link").c_str()) == 0);
    auto c = s.attached();
    std::vector<std::string_view> names(16, "n");
    BOOST_TEST(must(walk(*c, 2, names)).size() == 16u);
    BOOST_TEST(err(walk(*c, 3, {"file", "x"})) == ENOENT);
    BOOST_TEST(err(walk(*c, 3, {"x"}, 1)) == ENOENT);
    must(walk(*c, 4, {"file"}));
    BOOST_TEST(err(walk(*c, 5, {"x"}, 4)) == ENOTDIR);
    must(walk(*c, 6, {"link"}));
    BOOST_TEST(err(walk(*c, 7, {"n"}, 6)) == ELOOP);
    // ".." at the export root stays at the root.
    auto up = must(walk(*c, 8, {".."}));
    auto root = must(call<Rgetattr>(*c, Tgetattr{1, getattr::kBasic}));
    BOOST_TEST(up.at(0).path == root.qid.path);
}

BOOST_AUTO_TEST_CASE(create_write_read_and_errors) {
    SocketServer s;
    auto c = s.attached();
    create(*c, 2, "f");
    std::string data(200000, 'q');
    must(client::write_all(*c, 2, 0, bytes_of(data)));
    BOOST_TEST(string_of(must(client::read_all(*c, 2))) == data);
    auto part = must(c->call(Tread{2, 199990, 100}));
    BOOST_TEST(must(client::expect<Rread>(part))->data.bytes.size() == 10u);
    must(call<Rfsync>(*c, Tfsync{2, 1}));
    must(call<Rfsync>(*c, Tfsync{2, 0}));
    must(walk(*c, 3, {}));
    BOOST_TEST(err(call<Rlcreate>(*c, Tlcreate{3, {"f"}, dotl::kRdwr, 0644, ::getgid()})) ==
               EEXIST);
    BOOST_TEST(err(call<Rread>(*c, Tread{3, 0, 10})) == EBADF);
    BOOST_TEST(err(call<Rread>(*c, Tread{99, 0, 10})) == EBADF);
    BOOST_TEST(err(call<Rfsync>(*c, Tfsync{3, 0})) == EBADF);
    must(walk(*c, 4, {}));
    BOOST_TEST(err(client::lopen(*c, 4, dotl::kWronly)) == EISDIR);
}

BOOST_AUTO_TEST_CASE(open_unlinked_file_keeps_reading_and_stating) {
    SocketServer s;
    write_file(s / "f", "still here");
    auto c = s.attached();
    must(walk(*c, 2, {"f"}));
    must(client::lopen(*c, 2, dotl::kRdonly));
    must(call<Runlinkat>(*c, Tunlinkat{1, {"f"}, 0}));
    BOOST_TEST(::access((s / "f").c_str(), F_OK) != 0);
    BOOST_TEST(string_of(must(client::read_all(*c, 2))) == "still here");
    BOOST_TEST(must(call<Rgetattr>(*c, Tgetattr{2, getattr::kBasic})).nlink == 0u);
}

BOOST_AUTO_TEST_CASE(directories_entries_and_their_errors) {
    SocketServer s;
    auto c = s.attached();
    auto qid = must(call<Rmkdir>(*c, Tmkdir{1, {"d"}, 0755, ::getgid()})).qid;
    BOOST_TEST(qid.type == qid_type::kDir);
    BOOST_TEST(err(call<Rmkdir>(*c, Tmkdir{1, {"d"}, 0755, ::getgid()})) == EEXIST);
    must(walk(*c, 2, {"d"}));
    create(*c, 3, "inner", 2);
    BOOST_TEST(err(call<Runlinkat>(*c, Tunlinkat{1, {"d"}, kAtRemoveDir})) == ENOTEMPTY);
    BOOST_TEST(err(call<Runlinkat>(*c, Tunlinkat{1, {"missing"}, 0})) == ENOENT);
    must(call<Rsymlink>(*c, Tsymlink{1, {"sl"}, {"d/inner"}, ::getgid()}));
    must(walk(*c, 4, {"sl"}));
    auto link = must(c->call(Treadlink{4}));
    BOOST_TEST(must(client::expect<Rreadlink>(link))->target.str == "d/inner");
    must(call<Rlink>(*c, Tlink{1, 3, {"hard"}}));
    struct stat st {};
    BOOST_REQUIRE(::stat((s / "hard").c_str(), &st) == 0);
    BOOST_TEST(st.st_nlink == 2u);
    must(call<Rrenameat>(*c, Trenameat{1, {"hard"}, 2, {"moved"}}));
    BOOST_TEST(::access((s / "d/moved").c_str(), F_OK) == 0);
    must(call<Rrename>(*c, Trename{3, 1, {"top"}}));
    BOOST_TEST(::access((s / "top").c_str(), F_OK) == 0);
    must(call<Rmknod>(*c, Tmknod{1, {"plain"}, S_IFREG | 0600, 0, 0, ::getgid()}));
    BOOST_TEST(::access((s / "plain").c_str(), F_OK) == 0);
    // Tremove unlinks and clunks the fid even when it fails.
    must(walk(*c, 5, {"top"}));
    must(call<Rremove>(*c, Tremove{5}));
    BOOST_TEST(::access((s / "top").c_str(), F_OK) != 0);
    BOOST_TEST(err(client::clunk(*c, 5)) == EBADF);
    must(walk(*c, 6, {"d"}));
    BOOST_TEST(err(call<Rremove>(*c, Tremove{6})) == ENOTEMPTY);
    BOOST_TEST(err(client::clunk(*c, 6)) == EBADF);
}

BOOST_AUTO_TEST_CASE(readdir_resumes_from_offsets_and_never_exceeds_count) {
    SocketServer s;
    for (int i = 0; i < 300; ++i)
        write_file(s / ("entry-" + std::to_string(i)), "");
    auto c = s.attached();
    must(walk(*c, 2, {}));
    must(client::lopen(*c, 2, dotl::kRdonly | dotl::kDirectory));
    std::set<std::string> names;
    std::uint64_t offset = 0;
    constexpr std::uint32_t kCount = 200;
    for (;;) {
        auto reply = must(c->call(Treaddir{2, offset, kCount}));
        auto data = must(client::expect<Rreaddir>(reply))->data.bytes;
        BOOST_REQUIRE(data.size() <= kCount);
        if (data.empty()) break;
        DirentReader reader(data);
        while (auto entry = reader.next()) {
            names.insert(std::string(entry->name));
            offset = entry->offset;
        }
        BOOST_REQUIRE(!reader.failed());
    }
    BOOST_TEST(names.size() == 302u);  // with "." and ".."
    BOOST_TEST(names.contains("entry-299"));
    must(walk(*c, 3, {}));
    BOOST_TEST(err(call<Rreaddir>(*c, Treaddir{3, 0, kCount})) == EBADF);
}

BOOST_AUTO_TEST_CASE(getattr_setattr_and_statfs) {
    SocketServer s;
    write_file(s / "f", "12345");
    auto c = s.attached();
    must(walk(*c, 2, {"f"}));
    auto before = must(call<Rgetattr>(*c, Tgetattr{2, getattr::kAll}));
    BOOST_TEST(before.size == 5u);
    BOOST_TEST((before.valid & getattr::kBasic) == getattr::kBasic);
    Tsetattr truncate{};
    truncate.fid = 2;
    truncate.valid = setattr::kSize | setattr::kMode;
    truncate.size = 2;
    truncate.mode = 0600;
    must(call<Rsetattr>(*c, truncate));
    auto after = must(call<Rgetattr>(*c, Tgetattr{2, getattr::kAll}));
    BOOST_TEST(after.size == 2u);
    BOOST_TEST((after.mode & 07777) == 0600u);
    BOOST_TEST(after.qid.version != before.qid.version);
    auto fs = must(call<Rstatfs>(*c, Tstatfs{1}));
    BOOST_TEST(fs.bsize > 0u);
    BOOST_TEST(err(call<Rgetattr>(*c, Tgetattr{42, getattr::kBasic})) == EBADF);
}

BOOST_AUTO_TEST_CASE(setattr_times_with_and_without_set_bits) {
    SocketServer s;
    write_file(s / "f", "");
    auto c = s.attached();
    must(walk(*c, 2, {"f"}));
    Tsetattr set{};
    set.fid = 2;
    set.valid = setattr::kAtime | setattr::kAtimeSet | setattr::kMtime | setattr::kMtimeSet;
    set.atime_sec = 1000;
    set.mtime_sec = 2000;
    set.mtime_nsec = 5;
    must(call<Rsetattr>(*c, set));
    auto given = must(call<Rgetattr>(*c, Tgetattr{2, getattr::kAll}));
    BOOST_TEST(given.atime_sec == 1000u);
    BOOST_TEST(given.mtime_sec == 2000u);
    BOOST_TEST(given.mtime_nsec == 5u);
    Tsetattr now{};
    now.fid = 2;
    now.valid = setattr::kMtime;
    must(call<Rsetattr>(*c, now));
    BOOST_TEST(must(call<Rgetattr>(*c, Tgetattr{2, getattr::kAll})).mtime_sec > 2000u);
}

BOOST_AUTO_TEST_CASE(over_long_names_are_enametoolong) {
    SocketServer s;
    auto c = s.attached();
    std::string name(256, 'n');
    BOOST_TEST(err(call<Rmkdir>(*c, Tmkdir{1, {name}, 0755, ::getgid()})) == ENAMETOOLONG);
    BOOST_TEST(err(walk(*c, 2, {name})) == ENAMETOOLONG);
    name.pop_back();
    must(call<Rmkdir>(*c, Tmkdir{1, {name}, 0755, ::getgid()}));
}

BOOST_AUTO_TEST_CASE(xattr_round_trip_size_check_and_cap) {
    SocketServer s;
    write_file(s / "f", "");
    auto c = s.attached();
    must(walk(*c, 2, {"f"}));
    must(call<Rxattrcreate>(*c, Txattrcreate{2, {"user.colour"}, 4, 0}));
    BOOST_TEST(must(call<Rwrite>(*c, Twrite{2, 0, {bytes_of("blue")}})).count == 4u);
    must(client::clunk(*c, 2));
    must(walk(*c, 3, {"f"}));
    auto size = must(call<Rxattrwalk>(*c, Txattrwalk{3, 4, {"user.colour"}})).size;
    BOOST_TEST(size == 4u);
    BOOST_TEST(string_of(must(client::read_all(*c, 4))) == "blue");
    auto list = must(call<Rxattrwalk>(*c, Txattrwalk{3, 5, {""}}));
    BOOST_TEST(string_of(must(client::read_all(*c, 5))).find("user.colour") != std::string::npos);
    BOOST_TEST(list.size > 0u);
    BOOST_TEST(err(call<Rxattrwalk>(*c, Txattrwalk{3, 6, {"user.none"}})) == ENODATA);
    // A value shorter than announced is not set, and clunk says so.
    must(walk(*c, 7, {"f"}));
    must(call<Rxattrcreate>(*c, Txattrcreate{7, {"user.short"}, 10, 0}));
    must(call<Rwrite>(*c, Twrite{7, 0, {bytes_of("abc")}}));
    BOOST_TEST(err(client::clunk(*c, 7)) == EINVAL);
    char buf[16];
    BOOST_TEST(::getxattr((s / "f").c_str(), "user.short", buf, sizeof buf) < 0);
    must(walk(*c, 8, {"f"}));
    BOOST_TEST(err(call<Rxattrcreate>(*c, Txattrcreate{8, {"user.big"}, 1 << 20, 0})) == E2BIG);
    // Size 0 removes.
    must(call<Rxattrcreate>(*c, Txattrcreate{8, {"user.colour"}, 0, 0}));
    must(client::clunk(*c, 8));
    BOOST_TEST(::getxattr((s / "f").c_str(), "user.colour", buf, sizeof buf) < 0);
}

BOOST_AUTO_TEST_CASE(xattrcreate_of_a_name_not_served_fails_before_any_value_is_held) {
    SocketServer s;  // security model none: user.* only
    write_file(s / "f", "");
    auto c = s.attached();
    for (const std::string_view name :
         {"trusted.x", "security.capability", "system.posix_acl_access", "user", ""}) {
        BOOST_TEST_CONTEXT("name '" << name << "'") {
            must(walk(*c, 2, {"f"}));
            const int refused = err(call<Rxattrcreate>(*c, Txattrcreate{2, {name}, 64 * 1024, 0}));
            BOOST_TEST((refused == EOPNOTSUPP || (name.empty() && refused == EINVAL)));
            // The fid was left as it was: no value pending, nothing to refuse at clunk.
            must(call<Rgetattr>(*c, Tgetattr{2, getattr::kBasic}));
            BOOST_TEST(err(client::clunk(*c, 2)) == 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(lock_contention_between_two_clients) {
    SocketServer s;
    write_file(s / "f", "data");
    auto a = s.attached();
    auto b = s.attached();
    for (auto* c : {a.get(), b.get()}) {
        must(walk(*c, 2, {"f"}));
        must(client::lopen(*c, 2, dotl::kRdwr));
    }
    Tlock lock{2, lock::kWriteLock, 0, 0, 0, 100, {"a"}};
    BOOST_TEST(must(call<Rlock>(*a, lock)).status == lock::kStatusSuccess);
    Tlock other{2, lock::kWriteLock, lock::kFlagBlock, 0, 0, 200, {"b"}};
    BOOST_TEST(must(call<Rlock>(*b, other)).status == lock::kStatusBlocked);
    auto held = must(b->call(Tgetlock{2, lock::kWriteLock, 0, 0, 200, {"b"}}));
    BOOST_TEST(must(client::expect<Rgetlock>(held))->type == lock::kWriteLock);
    Tlock unlock = lock;
    unlock.type = lock::kUnlock;
    BOOST_TEST(must(call<Rlock>(*a, unlock)).status == lock::kStatusSuccess);
    BOOST_TEST(must(call<Rlock>(*b, other)).status == lock::kStatusSuccess);
    must(walk(*a, 3, {"f"}));
    BOOST_TEST(err(call<Rlock>(*a, Tlock{3, lock::kWriteLock, 0, 0, 0, 1, {"a"}})) == EBADF);
}

BOOST_AUTO_TEST_CASE(read_only_export_refuses_every_change) {
    fs::ExportConfig config;
    config.read_only = true;
    SocketServer s(config);
    write_file(s / "f", "ro");
    auto c = s.attached();
    must(walk(*c, 2, {}));
    BOOST_TEST(err(call<Rlcreate>(*c, Tlcreate{2, {"n"}, dotl::kRdwr, 0644, 0})) == EROFS);
    BOOST_TEST(err(call<Rmkdir>(*c, Tmkdir{1, {"d"}, 0755, 0})) == EROFS);
    BOOST_TEST(err(call<Runlinkat>(*c, Tunlinkat{1, {"f"}, 0})) == EROFS);
    must(walk(*c, 3, {"f"}));
    BOOST_TEST(err(client::lopen(*c, 3, dotl::kWronly)) == EROFS);
    BOOST_TEST(err(call<Rxattrcreate>(*c, Txattrcreate{3, {"user.x"}, 1, 0})) == EROFS);
    must(client::lopen(*c, 3, dotl::kRdonly));
    BOOST_TEST(string_of(must(client::read_all(*c, 3))) == "ro");
}

BOOST_AUTO_TEST_CASE(max_fids_is_enforced_per_session) {
    SessionConfig config;
    config.max_fids = 3;
    SocketServer s({}, config);
    auto c = s.attached();
    must(walk(*c, 2, {}));
    must(walk(*c, 3, {}));
    BOOST_TEST(err(walk(*c, 4, {})) == EMFILE);
    must(client::clunk(*c, 3));
    must(walk(*c, 4, {}));
}

BOOST_AUTO_TEST_CASE(max_open_files_is_enforced) {
    fs::ExportConfig config;
    config.limits.max_open_files = 1;
    SocketServer s(config);
    write_file(s / "f", "");
    auto c = s.attached();
    must(walk(*c, 2, {"f"}));
    must(walk(*c, 3, {"f"}));
    must(client::lopen(*c, 2, dotl::kRdonly));
    BOOST_TEST(err(client::lopen(*c, 3, dotl::kRdonly)) == EMFILE);
    must(client::clunk(*c, 2));
    must(client::lopen(*c, 3, dotl::kRdonly));
}

// Through the server: a Twrite holds a bound on what it may allocate until it
// completes and the file is measured; a file unlinked while a fid has it open
// keeps its blocks counted until that fid is clunked (issue 15, item 7).
BOOST_AUTO_TEST_CASE(max_space_counts_writes_as_allocated_and_unlinked_files_until_clunk) {
    fs::ExportConfig config;
    config.limits.max_space_mib = 1;
    SocketServer s(config);
    auto c = s.attached();
    must(walk(*c, 2, {}));
    must(call<Rlcreate>(*c, Tlcreate{2, {"f"}, dotl::kRdwr, 0644, 0}));
    must(walk(*c, 3, {}));
    must(call<Rlcreate>(*c, Tlcreate{3, {"g"}, dotl::kRdwr, 0644, 0}));
    std::vector<std::byte> block(4096, std::byte{'q'});
    std::uint64_t offset = 0;
    while (offset < 2 * 1024 * 1024) {
        auto w = call<Rwrite>(*c, Twrite{2, offset, {block}});
        if (!w) {
            BOOST_TEST(w.error().value == ENOSPC);
            break;
        }
        offset += block.size();
    }
    // Each write's bound is several blocks more than it allocates: only
    // measuring lets the file come close to the limit.
    BOOST_TEST(offset > 900u * 1024);
    BOOST_TEST(offset <= 1024u * 1024);
    must(call<Runlinkat>(*c, Tunlinkat{1, {"f"}, 0}));
    BOOST_TEST(err(call<Rwrite>(*c, Twrite{3, 0, {block}})) == ENOSPC);
    must(client::clunk(*c, 2));
    must(call<Rwrite>(*c, Twrite{3, 0, {block}}));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::server::test
