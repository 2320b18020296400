#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "backend/fs/attr.hpp"
#include "backend/fs/entries.hpp"
#include "backend/fs/open_file.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/fs/fs_fixture.hpp"
#include "tests/fs/usage_recount.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;
namespace dotl = xen9p::p9proto::dotl;

namespace {

ExportConfig limited(std::uint32_t files, std::uint32_t mib, std::uint32_t open, bool auto_delete) {
    ExportConfig cfg;
    cfg.limits.max_files = files;
    cfg.limits.max_space_mib = mib;
    cfg.limits.max_open_files = open;
    cfg.limits.auto_delete = auto_delete;
    return cfg;
}

constexpr std::uint64_t kKiB = 1024;

// A guest's Twrite as the server runs it: check, write, measure.
void write_through(Export& ex, OpenFile& file, std::uint64_t offset, std::size_t length) {
    must(prepare_write(ex, file, offset, length));
    std::string data(length, 'w');
    BOOST_REQUIRE(::pwrite(file.fd(), data.data(), length, static_cast<off_t>(offset)) ==
                  static_cast<ssize_t>(length));
    finish_write(ex, file);
}

Usage counted(Export& ex) {
    return Usage{ex.limits().files(), ex.limits().bytes()};
}

// A chain of `depth` directories "d" below `top`/export with file "deep" (5000
// bytes) at its bottom, made through fds (no path length limit).
void make_deep_tree(const TempDir& top, int depth) {
    int dir = ::open((top / "export").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    BOOST_REQUIRE(dir >= 0);
    for (int i = 0; i < depth; ++i) {
        BOOST_REQUIRE(::mkdirat(dir, "d", 0755) == 0);
        int sub = ::openat(dir, "d", O_PATH | O_DIRECTORY | O_CLOEXEC);
        ::close(dir);
        BOOST_REQUIRE(sub >= 0);
        dir = sub;
    }
    int fd = ::openat(dir, "deep", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ::close(dir);
    BOOST_REQUIRE(fd >= 0);
    std::string data(5000, 'x');
    BOOST_REQUIRE(::write(fd, data.data(), data.size()) == 5000);
    ::close(fd);
}

// The export is opened before the files exist; the scan is tested separately.
void age(Fx& fx, std::string_view rel, time_t mtime) {
    struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
    BOOST_REQUIRE(::utimensat(AT_FDCWD, fx.host(rel).c_str(), times, 0) == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(max_files_refuses_the_file_past_the_limit) {
    Fx fx(limited(2, 0, 0, false));
    must(create_file(fx.ex, fx.me, fx.root, "a", dotl::kRdwr, 0644, 0));
    must(make_node(fx.ex, fx.me, fx.root, "b", S_IFREG | 0644, 0, 0, 0));
    BOOST_TEST(err(create_file(fx.ex, fx.me, fx.root, "c", dotl::kRdwr, 0644, 0)) == ENOSPC);
    BOOST_TEST(err(make_dir(fx.ex, fx.me, fx.root, "d", 0755, 0)) == ENOSPC);
    must(unlink_at(fx.ex, fx.me, fx.root, "a", 0));
    BOOST_TEST(err(create_file(fx.ex, fx.me, fx.root, "c", dotl::kRdwr, 0644, 0)) == 0);
}

BOOST_AUTO_TEST_CASE(scan_at_open_counts_existing_files) {
    TempDir top;
    BOOST_REQUIRE(::mkdir((top / "export").c_str(), 0755) == 0);
    BOOST_REQUIRE(::mkdir((top / "export/sub").c_str(), 0755) == 0);
    for (auto name : {"export/x", "export/sub/y"}) {
        int fd = ::open((top / name).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(::write(fd, "12345", 5) == 5);
        ::close(fd);
    }
    auto ex = must(Export::open(top / "export", limited(3, 1, 0, false)));
    BOOST_TEST(ex.limits().files() == 3u);  // sub counts, the root does not
    BOOST_TEST(counted(ex) == recount(top / "export"));
}

BOOST_AUTO_TEST_CASE(auto_delete_removes_the_oldest_file_nobody_has_open) {
    Fx fx(limited(2, 0, 0, true));
    must(create_file(fx.ex, fx.me, fx.root, "old", dotl::kRdwr, 0644, 0));
    must(create_file(fx.ex, fx.me, fx.root, "mid", dotl::kRdwr, 0644, 0));
    age(fx, "old", 1000);
    age(fx, "mid", 2000);
    // "old" is open: the next oldest goes instead.
    auto held = must(open_node(fx.ex, fx.me, must(fx.walk("old")), dotl::kRdonly));
    must(create_file(fx.ex, fx.me, fx.root, "new", dotl::kRdwr, 0644, 0));
    BOOST_TEST(::access(fx.host("old").c_str(), F_OK) == 0);
    BOOST_TEST(::access(fx.host("mid").c_str(), F_OK) != 0);
    BOOST_TEST(::access(fx.host("new").c_str(), F_OK) == 0);
}

BOOST_AUTO_TEST_CASE(max_space_refuses_growth_past_the_limit) {
    Fx fx(limited(0, 1, 0, false));
    auto c = must(create_file(fx.ex, fx.me, fx.root, "f", dotl::kRdwr, 0644, 0));
    write_through(fx.ex, c.file, 0, 512 * 1024);
    BOOST_TEST(err(prepare_write(fx.ex, c.file, 512 * 1024, 1024 * 1024)) == ENOSPC);
    p9proto::Tsetattr req;
    req.valid = p9proto::setattr::kSize;
    req.size = 2 * 1024 * 1024;
    BOOST_TEST(err(setattr(fx.ex, fx.me, c.node, &c.file, req)) == ENOSPC);
    req.size = 1024;
    must(setattr(fx.ex, fx.me, c.node, &c.file, req));
    BOOST_TEST(fx.ex.limits().bytes() <= 1024u * 1024u);
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
}

BOOST_AUTO_TEST_CASE(max_space_with_auto_delete_makes_room) {
    Fx fx(limited(0, 1, 0, true));
    fx.write_file("junk", std::string(900 * 1024, 'j'));
    auto ex2 = must(Export::open(fx.host(""), limited(0, 1, 0, true)));
    Node root = must(ex2.root());
    auto c = must(create_file(ex2, fx.me, root, "f", dotl::kRdwr, 0644, 0));
    must(prepare_write(ex2, c.file, 0, 512 * 1024));
    BOOST_TEST(::access(fx.host("junk").c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(max_open_files_is_emfile_until_one_closes) {
    Fx fx(limited(0, 0, 2, false));
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    auto a = must(open_node(fx.ex, fx.me, f, dotl::kRdonly));
    {
        auto b = must(open_node(fx.ex, fx.me, f, dotl::kRdonly));
        BOOST_TEST(err(open_node(fx.ex, fx.me, f, dotl::kRdonly)) == EMFILE);
        BOOST_TEST(err(create_file(fx.ex, fx.me, fx.root, "n", dotl::kRdwr, 0644, 0)) == EMFILE);
        BOOST_TEST(::access(fx.host("n").c_str(), F_OK) != 0);
    }
    BOOST_TEST(err(open_node(fx.ex, fx.me, f, dotl::kRdonly)) == 0);
}

// Issue 15 item 7: the bytes of a file unlinked while a fid has it open stay
// counted until the last close (they were dropped at unlink).
BOOST_AUTO_TEST_CASE(an_unlinked_file_held_open_keeps_its_space_until_closed) {
    Fx fx(limited(0, 1, 0, false));
    auto held = must(create_file(fx.ex, fx.me, fx.root, "held", dotl::kRdwr, 0644, 0));
    write_through(fx.ex, held.file, 0, 700 * kKiB);
    must(unlink_at(fx.ex, fx.me, fx.root, "held", 0));
    int fds[] = {held.file.fd()};
    BOOST_TEST(counted(fx.ex) == recount(fx.host(""), fds));
    BOOST_TEST(err(prepare_write(fx.ex, held.file, 700 * kKiB, 400 * kKiB)) == ENOSPC);
    auto other = must(create_file(fx.ex, fx.me, fx.root, "other", dotl::kRdwr, 0644, 0));
    BOOST_TEST(err(prepare_write(fx.ex, other.file, 0, 400 * kKiB)) == ENOSPC);
    held = Created{};  // the last close (and the fid's node) frees it
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
    write_through(fx.ex, other.file, 0, 400 * kKiB);
}

// Issue 15 item 8: truncating an unlinked open file takes its bytes off once
// (they were subtracted a second time, from files that still exist).
BOOST_AUTO_TEST_CASE(truncating_an_unlinked_open_file_uncounts_no_other_file) {
    Fx fx(limited(0, 1, 0, false));
    {
        auto keep = must(create_file(fx.ex, fx.me, fx.root, "keep", dotl::kRdwr, 0644, 0));
        write_through(fx.ex, keep.file, 0, 600 * kKiB);
    }
    for (int round = 0; round < 3; ++round) {
        auto gone = must(create_file(fx.ex, fx.me, fx.root, "gone", dotl::kRdwr, 0644, 0));
        write_through(fx.ex, gone.file, 0, 300 * kKiB);
        must(unlink_at(fx.ex, fx.me, fx.root, "gone", 0));
        p9proto::Tsetattr req;
        req.valid = p9proto::setattr::kSize;
        req.size = 0;
        must(setattr(fx.ex, fx.me, gone.node, &gone.file, req));
        int fds[] = {gone.file.fd()};
        BOOST_TEST(counted(fx.ex) == recount(fx.host(""), fds));
    }
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
    auto more = must(create_file(fx.ex, fx.me, fx.root, "more", dotl::kRdwr, 0644, 0));
    BOOST_TEST(err(prepare_write(fx.ex, more.file, 0, 600 * kKiB)) == ENOSPC);
}

// Issue 15 item 9: the scan at open has no depth limit (it stopped at 128, and
// every new worker forgot the deeper files).
BOOST_AUTO_TEST_CASE(a_file_200_directories_deep_is_counted_after_restart) {
    TempDir top;
    BOOST_REQUIRE(::mkdir((top / "export").c_str(), 0755) == 0);
    make_deep_tree(top, 200);
    auto ex = must(Export::open(top / "export", limited(1000, 1, 0, false)));
    BOOST_TEST(ex.limits().files() == 201u);  // 200 directories and the file
    BOOST_TEST(counted(ex) == recount(top / "export"));
}

// ... and holds a bounded number of fds at any depth: the worker's
// RLIMIT_NOFILE is max-open-files + 64.
BOOST_AUTO_TEST_CASE(the_scan_of_a_deep_tree_needs_few_descriptors) {
    TempDir top;
    BOOST_REQUIRE(::mkdir((top / "export").c_str(), 0755) == 0);
    make_deep_tree(top, 200);
    std::string path = top / "export";
    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        // Boost.Test's own fds stay open: 16 leaves room for a handful more.
        struct rlimit lim {
            16, 16
        };
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::_exit(2);
        auto ex = Export::open(path, limited(1000, 1, 0, false));
        ::_exit(ex && ex->limits().files() == 201 ? 0 : 1);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
}

// Issue 15 item 10: every inode type counts toward max-files (only regular
// files did).
BOOST_AUTO_TEST_CASE(directories_symlinks_and_fifos_count_toward_max_files) {
    Fx fx(limited(3, 0, 0, false));
    must(make_dir(fx.ex, fx.me, fx.root, "dir", 0755, 0));
    must(make_symlink(fx.ex, fx.me, fx.root, "link", "dir", 0));
    must(make_node(fx.ex, fx.me, fx.root, "fifo", S_IFIFO | 0644, 0, 0, 0));
    BOOST_TEST(err(make_dir(fx.ex, fx.me, fx.root, "dir2", 0755, 0)) == ENOSPC);
    BOOST_TEST(err(make_symlink(fx.ex, fx.me, fx.root, "link2", "dir", 0)) == ENOSPC);
    BOOST_TEST(err(make_node(fx.ex, fx.me, fx.root, "fifo2", S_IFIFO | 0644, 0, 0, 0)) == ENOSPC);
    BOOST_TEST(err(create_file(fx.ex, fx.me, fx.root, "file", dotl::kRdwr, 0644, 0)) == ENOSPC);
    BOOST_TEST(fx.ex.limits().files() == 3u);
    must(unlink_at(fx.ex, fx.me, fx.root, "dir", p9proto::kAtRemoveDir));
    must(make_node(fx.ex, fx.me, fx.root, "fifo2", S_IFIFO | 0644, 0, 0, 0));
}

// ... and what symlinks and directories allocate counts toward max-space.
BOOST_AUTO_TEST_CASE(symlink_targets_count_toward_max_space) {
    Fx fx(limited(0, 1, 0, false));
    std::string target(4000, 't');
    int made = 0;
    for (; made < 300; ++made) {
        auto made_one = make_symlink(fx.ex, fx.me, fx.root, "l" + std::to_string(made), target, 0);
        if (!made_one) {
            BOOST_TEST(made_one.error().value == ENOSPC);
            break;
        }
    }
    BOOST_TEST(made < 300);
    BOOST_TEST(fx.ex.limits().bytes() <= 1024 * kKiB);
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
}

BOOST_AUTO_TEST_CASE(hard_links_count_once) {
    Fx fx(limited(10, 1, 0, false));
    {
        auto c = must(create_file(fx.ex, fx.me, fx.root, "f", dotl::kRdwr, 0644, 0));
        write_through(fx.ex, c.file, 0, 100 * kKiB);
    }
    Usage one = counted(fx.ex);
    must(make_link(fx.ex, fx.me, fx.root, must(fx.walk("f")), "g"));
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
    BOOST_TEST(counted(fx.ex).files == one.files);
    must(unlink_at(fx.ex, fx.me, fx.root, "f", 0));
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
    must(unlink_at(fx.ex, fx.me, fx.root, "g", 0));
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
    BOOST_TEST(counted(fx.ex).files == one.files - 1);
}

// A file unlinked while only a walked fid (never opened: an O_PATH node, and
// clones of it) references it keeps its space until the last such fid goes (it
// was dropped at unlink: every walked fid could pin up to max-space).
BOOST_AUTO_TEST_CASE(walked_fids_cannot_pin_unlinked_files_past_max_space) {
    Fx fx(limited(0, 1, 0, false));
    std::vector<Node> walked;
    int pinned = 0;
    for (int round = 0; round < 4; ++round) {
        std::string name = "f" + std::to_string(round);
        {
            auto c = must(create_file(fx.ex, fx.me, fx.root, name, dotl::kRdwr, 0644, 0));
            if (err(prepare_write(fx.ex, c.file, 0, 700 * kKiB)) == ENOSPC) break;
            std::string data(700 * kKiB, 'w');
            BOOST_REQUIRE(::pwrite(c.file.fd(), data.data(), data.size(), 0) ==
                          static_cast<ssize_t>(data.size()));
            finish_write(fx.ex, c.file);
        }
        walked.push_back(must(fx.walk(name)));
        must(unlink_at(fx.ex, fx.me, fx.root, name, 0));
        ++pinned;
    }
    BOOST_TEST(pinned == 1);
    std::vector<int> fds;
    for (const Node& node : walked)
        fds.push_back(node.fd());
    BOOST_TEST(counted(fx.ex) == recount(fx.host(""), fds));

    // A clone (Twalk with no names) holds it as well; it goes with the last one.
    std::optional<Node> clone(walked.front().clone());
    walked.clear();
    int clone_fd[] = {clone->fd()};
    BOOST_TEST(counted(fx.ex) == recount(fx.host(""), clone_fd));
    auto other = must(create_file(fx.ex, fx.me, fx.root, "other", dotl::kRdwr, 0644, 0));
    BOOST_TEST(err(prepare_write(fx.ex, other.file, 0, 400 * kKiB)) == ENOSPC);
    clone.reset();
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
    write_through(fx.ex, other.file, 0, 700 * kKiB);
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
}

// A directory removed while a walked fid references it (or a fid walked
// below it before its entries went) stays counted until that fid goes.
BOOST_AUTO_TEST_CASE(a_removed_directory_held_by_a_walked_fid_counts_until_it_goes) {
    Fx fx(limited(2, 0, 0, false));
    must(make_dir(fx.ex, fx.me, fx.root, "d", 0755, 0));
    std::optional<Node> dir(must(fx.walk("d")));
    must(unlink_at(fx.ex, fx.me, fx.root, "d", p9proto::kAtRemoveDir));
    int fds[] = {dir->fd()};
    BOOST_TEST(counted(fx.ex) == recount(fx.host(""), fds));
    must(make_dir(fx.ex, fx.me, fx.root, "e", 0755, 0));
    BOOST_TEST(err(make_dir(fx.ex, fx.me, fx.root, "f", 0755, 0)) == ENOSPC);
    dir.reset();
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
    must(make_dir(fx.ex, fx.me, fx.root, "f", 0755, 0));
}

// ".." of a removed directory reaches an inode that may have lost its last
// name too: pinned from then on, it counts again at once.
BOOST_AUTO_TEST_CASE(a_removed_directory_reached_through_dotdot_counts_again) {
    Fx fx(limited(10, 0, 0, false));
    must(make_dir(fx.ex, fx.me, fx.root, "d", 0755, 0));
    Node d = must(fx.walk("d"));
    must(make_dir(fx.ex, fx.me, d, "e", 0755, 0));
    must(make_dir(fx.ex, fx.me, must(fx.walk("d/e")), "f", 0755, 0));
    Node f = must(fx.walk("d/e/f"));  // holds e as its parent, not d
    d = Node();
    must(unlink_at(fx.ex, fx.me, must(fx.walk("d/e")), "f", p9proto::kAtRemoveDir));
    must(unlink_at(fx.ex, fx.me, must(fx.walk("d")), "e", p9proto::kAtRemoveDir));
    must(unlink_at(fx.ex, fx.me, fx.root, "d", p9proto::kAtRemoveDir));
    int held[] = {f.fd(), f.parent_fd()};
    BOOST_TEST(counted(fx.ex) == recount(fx.host(""), held));
    Node e = must(walk_one(fx.ex, fx.me, f, ".."));
    Node up = must(walk_one(fx.ex, fx.me, e, ".."));
    int all[] = {f.fd(), f.parent_fd(), e.fd(), up.fd()};
    BOOST_TEST(counted(fx.ex) == recount(fx.host(""), all));
    f = Node();
    e = Node();
    up = Node();
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
}

// Auto-delete spares what a walked fid holds: removing its name would free
// nothing while the fid lives.
BOOST_AUTO_TEST_CASE(auto_delete_spares_a_file_a_walked_fid_holds) {
    Fx fx(limited(2, 0, 0, true));
    must(create_file(fx.ex, fx.me, fx.root, "old", dotl::kRdwr, 0644, 0));
    must(create_file(fx.ex, fx.me, fx.root, "mid", dotl::kRdwr, 0644, 0));
    age(fx, "old", 1000);
    age(fx, "mid", 2000);
    Node held = must(fx.walk("old"));
    must(create_file(fx.ex, fx.me, fx.root, "new", dotl::kRdwr, 0644, 0));
    BOOST_TEST(::access(fx.host("old").c_str(), F_OK) == 0);
    BOOST_TEST(::access(fx.host("mid").c_str(), F_OK) != 0);
    BOOST_TEST(counted(fx.ex) == recount(fx.host("")));
}

BOOST_AUTO_TEST_SUITE_END()
