#include <sys/stat.h>
#include <unistd.h>

#include "backend/fs/attr.hpp"
#include "backend/fs/entries.hpp"
#include "backend/fs/open_file.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/fs/fs_fixture.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;
namespace dotl = xen9p::proto::dotl;

namespace {

ExportConfig limited(std::uint32_t files, std::uint32_t mib, std::uint32_t open, bool auto_delete) {
    ExportConfig cfg;
    cfg.limits.max_files = files;
    cfg.limits.max_space_mib = mib;
    cfg.limits.max_open_files = open;
    cfg.limits.auto_delete = auto_delete;
    return cfg;
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
    must(make_dir(fx.ex, fx.me, fx.root, "dirs_do_not_count", 0755, 0));
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
    BOOST_TEST(ex.limits().files() == 2u);
    BOOST_TEST(ex.limits().bytes() == 10u);
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
    must(prepare_write(fx.ex, c.file, 0, 512 * 1024));
    BOOST_TEST(err(prepare_write(fx.ex, c.file, 512 * 1024, 1024 * 1024)) == ENOSPC);
    proto::Tsetattr req;
    req.valid = proto::setattr::kSize;
    req.size = 2 * 1024 * 1024;
    BOOST_TEST(err(setattr(fx.ex, fx.me, c.node, &c.file, req)) == ENOSPC);
    req.size = 1024;
    must(setattr(fx.ex, fx.me, c.node, &c.file, req));
    BOOST_TEST(fx.ex.limits().bytes() <= 1024u * 1024u);
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

BOOST_AUTO_TEST_SUITE_END()
