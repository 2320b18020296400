#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "backend/fs/attr.hpp"
#include "backend/fs/host_file.hpp"
#include "backend/fs/qid_map.hpp"
#include "tests/fs/fs_fixture.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;

namespace {

// A chain of `depth` directories top/d/d/.../d, removed on destruction one level
// at a time from the top (its paths are longer than PATH_MAX: nftw cannot).
class DirChain {
  public:
    DirChain(std::string top, int depth) : top_(std::move(top)) {
        UniqueFd dir(::open(top_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        BOOST_REQUIRE(dir);
        for (int i = 0; i < depth; ++i) {
            BOOST_REQUIRE(::mkdirat(dir.get(), "d", 0755) == 0);
            dir = UniqueFd(::openat(dir.get(), "d", O_PATH | O_DIRECTORY | O_CLOEXEC));
            BOOST_REQUIRE(dir);
        }
    }
    ~DirChain() {
        const std::string d = top_ + "/d", dd = top_ + "/d/d", tmp = top_ + "/d.next";
        while (::rename(dd.c_str(), tmp.c_str()) == 0) {
            ::rmdir(d.c_str());
            ::rename(tmp.c_str(), d.c_str());
        }
        ::rmdir(d.c_str());
    }
    DirChain(const DirChain&) = delete;
    DirChain& operator=(const DirChain&) = delete;

  private:
    std::string top_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(walk)

BOOST_AUTO_TEST_CASE(walk_finds_nested_file_with_its_qid) {
    Fx fx;
    fx.make_dir("a");
    fx.write_file("a/f", "x");
    Node f = must(fx.walk("a/f"));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("a/f").c_str(), &st) == 0);
    auto qid = must(qid_of(fx.ex, f));
    BOOST_TEST(qid.type == p9proto::qid_type::kFile);
    BOOST_TEST((qid.path & ((std::uint64_t{1} << 56) - 1)) == st.st_ino);
    BOOST_TEST(must(qid_of(fx.ex, must(fx.walk("a")))).type == p9proto::qid_type::kDir);
}

BOOST_AUTO_TEST_CASE(walk_of_missing_name_is_enoent) {
    Fx fx;
    BOOST_TEST(err(fx.walk("nope")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(walk_through_a_regular_file_is_enotdir) {
    Fx fx;
    fx.write_file("f", "x");
    BOOST_TEST(err(fx.walk("f/x")) == ENOTDIR);
}

BOOST_AUTO_TEST_CASE(walk_rejects_slashes_empty_and_overlong_names) {
    Fx fx;
    fx.make_dir("a");
    BOOST_TEST(err(walk_one(fx.ex, fx.me, fx.root, "a/b")) == EINVAL);
    BOOST_TEST(err(walk_one(fx.ex, fx.me, fx.root, "")) == EINVAL);
    BOOST_TEST(err(walk_one(fx.ex, fx.me, fx.root, std::string(256, 'n'))) == ENAMETOOLONG);
}

BOOST_AUTO_TEST_CASE(symlink_is_returned_as_itself_and_walking_through_it_is_eloop) {
    Fx fx;
    BOOST_REQUIRE(::symlink("/", fx.host("root_link").c_str()) == 0);
    BOOST_REQUIRE(::symlink(".", fx.host("self_link").c_str()) == 0);
    Node link = must(fx.walk("root_link"));
    BOOST_TEST(must(qid_of(fx.ex, link)).type == p9proto::qid_type::kSymlink);
    BOOST_TEST(err(walk_one(fx.ex, fx.me, link, "etc")) == ELOOP);
    BOOST_TEST(err(fx.walk("self_link/self_link")) == ELOOP);
}

BOOST_AUTO_TEST_CASE(a_directory_swapped_for_a_symlink_between_steps_is_never_followed) {
    Fx fx;
    fx.make_dir("a");
    fx.make_dir("a/b");
    fx.write_file("a/b/mine", "m");
    Node a = must(fx.walk("a"));
    Node old_b = must(walk_one(fx.ex, fx.me, a, "b"));
    BOOST_REQUIRE(::rename(fx.host("a/b").c_str(), fx.host("a/b_old").c_str()) == 0);
    BOOST_REQUIRE(::symlink("/etc", fx.host("a/b").c_str()) == 0);
    Node new_b = must(walk_one(fx.ex, fx.me, a, "b"));
    BOOST_TEST(must(qid_of(fx.ex, new_b)).type == p9proto::qid_type::kSymlink);
    BOOST_TEST(err(walk_one(fx.ex, fx.me, new_b, "passwd")) == ELOOP);
    // A node walked before the swap still names the real directory.
    BOOST_TEST(err(walk_one(fx.ex, fx.me, old_b, "mine")) == 0);
    BOOST_TEST(err(walk_one(fx.ex, fx.me, old_b, "passwd")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(dotdot_at_root_stays_at_root_and_dot_stays) {
    Fx fx;
    auto root_qid = must(qid_of(fx.ex, fx.root));
    BOOST_TEST(must(qid_of(fx.ex, must(fx.walk("..")))) == root_qid);
    BOOST_TEST(must(qid_of(fx.ex, must(fx.walk("../../..")))) == root_qid);
    BOOST_TEST(must(qid_of(fx.ex, must(fx.walk(".")))) == root_qid);
}

BOOST_AUTO_TEST_CASE(dotdot_below_root_reaches_the_parent) {
    Fx fx;
    fx.make_dir("a");
    fx.make_dir("a/b");
    auto a_qid = must(qid_of(fx.ex, must(fx.walk("a"))));
    BOOST_TEST(must(qid_of(fx.ex, must(fx.walk("a/b/..")))) == a_qid);
}

BOOST_AUTO_TEST_CASE(dotdot_from_a_directory_moved_out_of_the_export_is_enoent) {
    Fx fx;
    fx.make_dir("a");
    fx.make_dir("a/b");
    fx.write_file("a/b/inner", "i");
    Node b = must(fx.walk("a/b"));
    // The host moves the directory out from under the open node.
    BOOST_REQUIRE(::rename(fx.host("a").c_str(), (fx.top / "outside").c_str()) == 0);
    BOOST_TEST(err(walk_one(fx.ex, fx.me, b, "..")) == ENOENT);
    // Its own subtree (what the host moved) is still reachable, nothing above it.
    BOOST_TEST(err(walk_one(fx.ex, fx.me, b, "inner")) == 0);
    BOOST_TEST(err(walk_one(fx.ex, fx.me, b, "../export")) == EINVAL);

    // The same for a server that cannot make the export a mount of its own
    // (unprivileged): there ".." is checked by walking up to the root.
    if (::geteuid() != 0) return;
    BOOST_REQUIRE(::chmod(fx.top.path().c_str(), 0777) == 0);
    BOOST_REQUIRE(::chmod(fx.host("").c_str(), 0777) == 0);
    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
            ::_exit(100);
        }
        auto ex = Export::open(fx.top / "export", ExportConfig{});
        if (!ex) ::_exit(101);
        auto root_st = stat_fd(ex->root_fd(), STATX_INO);
        if (!root_st || (root_st->stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0) ::_exit(102);
        if (::mkdir(fx.host("c").c_str(), 0755) != 0 || ::mkdir(fx.host("c/d").c_str(), 0755) != 0)
            ::_exit(103);
        Caller me{0, 0};
        auto root = ex->root();
        if (!root) ::_exit(104);
        auto c = walk_one(*ex, me, *root, "c");
        if (!c) ::_exit(105);
        auto d = walk_one(*ex, me, *c, "d");
        if (!d) ::_exit(106);
        auto up = walk_one(*ex, me, *d, "..");
        if (!up) ::_exit(107);
        auto up_st = stat_fd(up->fd(), STATX_INO);
        auto c_st = stat_fd(c->fd(), STATX_INO);
        if (!up_st || !c_st || up_st->stx_ino != c_st->stx_ino) ::_exit(107);
        auto top = walk_one(*ex, me, *root, "..");
        if (!top || !ex->is_root(top->fd())) ::_exit(108);
        if (::rename(fx.host("c").c_str(), (fx.top / "outside_too").c_str()) != 0) ::_exit(109);
        auto gone = walk_one(*ex, me, *d, "..");
        ::_exit(gone ? 110 : gone.error().value);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == ENOENT);
}

// ".." asks the kernel about the directory and its parent only, never about
// the path above: no walk up to the export root whose cost grows with depth
// (on main ".." walked up to the root, and gave up with ENOENT past 4096 levels).
BOOST_AUTO_TEST_CASE(dotdot_reaches_the_parent_at_a_depth_of_5000) {
    Fx fx({}, ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    constexpr int kDepth = 5000;
    DirChain chain(fx.host(""), kDepth);
    Node above;
    Node cur = fx.root.clone();
    for (int i = 0; i < kDepth; ++i) {
        above = cur.clone();
        cur = must(walk_one(fx.ex, fx.me, cur, "d"));
    }
    Node up = must(walk_one(fx.ex, fx.me, cur, ".."));
    BOOST_TEST(must(qid_of(fx.ex, up)) == must(qid_of(fx.ex, above)));
}

// Like the kernel's own "..", which needs search permission on the directory
// only: a directory above the parent that the caller may no longer search does
// not matter (on main the walk up to the root failed there with EACCES).
BOOST_AUTO_TEST_CASE(dotdot_needs_no_permission_above_the_parent) {
    if (::geteuid() != 0) return;  // passthrough switches to the guest's ids
    Fx fx(model(SecurityModel::kPassthrough));
    fx.make_dir("a");
    fx.make_dir("a/b");
    fx.make_dir("a/b/c");
    Caller guest{1000, 1000};
    Node a = must(walk_one(fx.ex, guest, fx.root, "a"));
    Node b = must(walk_one(fx.ex, guest, a, "b"));
    Node c = must(walk_one(fx.ex, guest, b, "c"));
    BOOST_REQUIRE(::chmod(fx.host("a").c_str(), 0700) == 0);
    BOOST_TEST(must(qid_of(fx.ex, must(walk_one(fx.ex, guest, c, "..")))) ==
               must(qid_of(fx.ex, b)));
    BOOST_TEST(must(qid_of(fx.ex, must(walk_one(fx.ex, guest, b, "..")))) ==
               must(qid_of(fx.ex, a)));
    BOOST_TEST(err(walk_one(fx.ex, guest, a, "b")) == EACCES);  // the host's chmod holds
}

// Inode numbers above 2^56 keep their low 44 bits; only their high parts take
// table entries (on main every such file took one, without bound).
BOOST_AUTO_TEST_CASE(wide_inode_numbers_take_a_bounded_table_not_one_entry_per_file) {
    QidMap map;
    struct statx st {};
    st.stx_mode = S_IFREG | 0644;
    st.stx_dev_major = 8;
    std::set<std::uint64_t> paths;
    for (std::uint64_t i = 0; i < 100000; ++i) {
        st.stx_ino = (std::uint64_t{1} << 60) | i;
        paths.insert(must(map.qid(st)).path);
    }
    BOOST_TEST(paths.size() == 100000u);
    st.stx_ino = (std::uint64_t{1} << 60) | 7;
    BOOST_TEST(paths.count(must(map.qid(st)).path) == 1u);  // stable

    // Each further high part takes an entry, up to the cap.
    for (std::uint64_t k = 1; k < QidMap::kMaxWidePrefixes; ++k) {
        st.stx_ino = (std::uint64_t{1} << 63) | (k << 44) | 5;
        BOOST_REQUIRE(paths.insert(must(map.qid(st)).path).second);
    }
    st.stx_ino = (std::uint64_t{1} << 63) | (std::uint64_t{QidMap::kMaxWidePrefixes} << 44);
    BOOST_TEST(err(map.qid(st)) == EOVERFLOW);
    // Known high parts and narrow inode numbers keep working.
    st.stx_ino = (std::uint64_t{1} << 60) | 123456789;
    BOOST_TEST(err(map.qid(st)) == 0);
    st.stx_ino = 42;
    BOOST_TEST(err(map.qid(st)) == 0);
}

BOOST_AUTO_TEST_CASE(qid_path_keeps_devices_apart_and_version_follows_changes) {
    QidMap map;
    struct statx a {};
    a.stx_mode = S_IFREG | 0644;
    a.stx_ino = 42;
    a.stx_dev_major = 8;
    struct statx b = a;
    b.stx_dev_major = 9;
    auto qa = must(map.qid(a));
    auto qb = must(map.qid(b));
    BOOST_TEST(qa.path != qb.path);
    BOOST_TEST(must(map.qid(a)).path == qa.path);
    struct statx wide = a;
    wide.stx_ino = ~std::uint64_t{0};
    BOOST_TEST(must(map.qid(wide)).path != qa.path);
    a.stx_mtime.tv_nsec = 1;
    BOOST_TEST(must(map.qid(a)).version != qa.version);
    a.stx_size = 10;
    auto q2 = must(map.qid(a));
    a.stx_ctime.tv_sec = 5;
    BOOST_TEST(must(map.qid(a)).version != q2.version);
}

BOOST_AUTO_TEST_CASE(qid_version_changes_when_the_file_is_written) {
    Fx fx;
    fx.write_file("f", "one");
    Node f = must(fx.walk("f"));
    auto before = must(qid_of(fx.ex, f));
    fx.write_file("f", "two and more");
    auto after = must(qid_of(fx.ex, f));
    BOOST_TEST(before.path == after.path);
    BOOST_TEST(before.version != after.version);
}

BOOST_AUTO_TEST_SUITE_END()
