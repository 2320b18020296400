#include <fcntl.h>
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
namespace sa = xen9p::p9proto::setattr;
namespace ga = xen9p::p9proto::getattr;

BOOST_AUTO_TEST_SUITE(attr)

BOOST_AUTO_TEST_CASE(getattr_reports_host_attributes_and_valid_bits) {
    Fx fx;
    fx.write_file("f", "hello", 0640);
    BOOST_REQUIRE(::chown(fx.host("f").c_str(), 1234, 5678) == 0);
    auto r = must(getattr(fx.ex, must(fx.walk("f")), ga::kAll));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST((r.valid & ga::kBasic) == ga::kBasic);
    BOOST_TEST(r.mode == (S_IFREG | 0640u));
    BOOST_TEST(r.uid == 1234u);
    BOOST_TEST(r.gid == 5678u);
    BOOST_TEST(r.size == 5u);
    BOOST_TEST(r.nlink == 1u);
    BOOST_TEST(r.mtime_sec == static_cast<std::uint64_t>(st.st_mtim.tv_sec));
    BOOST_TEST(r.mtime_nsec == static_cast<std::uint64_t>(st.st_mtim.tv_nsec));
    if (r.valid & ga::kBtime) BOOST_TEST(r.btime_sec != 0u);
}

BOOST_AUTO_TEST_CASE(open_unlink_then_getattr_truncate_and_read_still_work) {
    Fx fx;
    fx.write_file("f", "0123456789");
    Node f = must(fx.walk("f"));
    auto opened = must(open_node(fx.ex, fx.me, f, p9proto::dotl::kRdwr));
    BOOST_REQUIRE(::unlink(fx.host("f").c_str()) == 0);
    BOOST_TEST(must(getattr(fx.ex, f, ga::kBasic)).size == 10u);
    p9proto::Tsetattr req;
    req.valid = sa::kSize;
    req.size = 4;
    must(setattr(fx.ex, fx.me, f, &opened.file, req));
    BOOST_TEST(must(getattr(fx.ex, f, ga::kBasic)).size == 4u);
    char buf[16] = {};
    BOOST_TEST(::pread(opened.file.fd(), buf, sizeof(buf), 0) == 4);
    BOOST_TEST(std::string_view(buf, 4) == "0123");
    // Without the open fid too: the node alone reaches the unlinked inode.
    req.size = 2;
    must(setattr(fx.ex, fx.me, f, nullptr, req));
    BOOST_TEST(must(getattr(fx.ex, f, ga::kBasic)).size == 2u);
}

BOOST_AUTO_TEST_CASE(setattr_mode_on_a_path_node) {
    Fx fx;
    fx.write_file("f", "x", 0644);
    p9proto::Tsetattr req;
    req.valid = sa::kMode;
    req.mode = 04711;
    must(setattr(fx.ex, fx.me, must(fx.walk("f")), nullptr, req));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 04711u);
}

BOOST_AUTO_TEST_CASE(setattr_times_with_set_bits_are_exact_without_them_now) {
    Fx fx;
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    p9proto::Tsetattr req;
    req.valid = sa::kAtime | sa::kMtime | sa::kAtimeSet | sa::kMtimeSet;
    req.atime_sec = 1000;
    req.atime_nsec = 5;
    req.mtime_sec = 2000;
    req.mtime_nsec = 7;
    must(setattr(fx.ex, fx.me, f, nullptr, req));
    auto r = must(getattr(fx.ex, f, ga::kBasic));
    BOOST_TEST(r.atime_sec == 1000u);
    BOOST_TEST(r.atime_nsec == 5u);
    BOOST_TEST(r.mtime_sec == 2000u);
    BOOST_TEST(r.mtime_nsec == 7u);
    req.valid = sa::kMtime;
    must(setattr(fx.ex, fx.me, f, nullptr, req));
    r = must(getattr(fx.ex, f, ga::kBasic));
    BOOST_TEST(r.mtime_sec > 1000000000u);
    BOOST_TEST(r.atime_sec == 1000u);
    req.valid = sa::kMtime | sa::kMtimeSet;
    req.mtime_nsec = 1000000000;
    BOOST_TEST(err(setattr(fx.ex, fx.me, f, nullptr, req)) == EINVAL);
}

BOOST_AUTO_TEST_CASE(setattr_owner_as_root_under_passthrough) {
    Fx fx(model(SecurityModel::kPassthrough));
    fx.write_file("f", "x");
    p9proto::Tsetattr req;
    req.valid = sa::kUid | sa::kGid;
    req.uid = 4321;
    req.gid = 8765;
    must(setattr(fx.ex, fx.me, must(fx.walk("f")), nullptr, req));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 4321u);
    BOOST_TEST(st.st_gid == 8765u);
}

BOOST_AUTO_TEST_CASE(setattr_rejects_unknown_bits_and_size_on_directories) {
    Fx fx;
    fx.make_dir("d");
    p9proto::Tsetattr req;
    req.valid = 1u << 20;
    BOOST_TEST(err(setattr(fx.ex, fx.me, fx.root, nullptr, req)) == EINVAL);
    req.valid = sa::kSize;
    BOOST_TEST(err(setattr(fx.ex, fx.me, must(fx.walk("d")), nullptr, req)) == EISDIR);
}

BOOST_AUTO_TEST_CASE(statfs_reports_the_host_filesystem) {
    Fx fx;
    auto r = must(statfs(fx.root));
    BOOST_TEST(r.namelen == 255u);
    BOOST_TEST(r.bsize > 0u);
    BOOST_TEST(r.blocks > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
