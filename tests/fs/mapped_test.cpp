#include <endian.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "backend/fs/attr.hpp"
#include "backend/fs/entries.hpp"
#include "backend/fs/open_file.hpp"
#include "backend/fs/readdir.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/fs/fs_fixture.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;
namespace ga = xen9p::p9proto::getattr;
namespace sa = xen9p::p9proto::setattr;

namespace {

bool mapped_usable(Fx& fx) {
    std::string p = fx.host("probe");
    ::close(::open(p.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    bool ok = ::setxattr(p.c_str(), "user.probe", "1", 1, 0) == 0;
    ::unlink(p.c_str());
    return ok;
}

template <class T>
T host_xattr(const std::string& path, const char* name) {
    T raw{};
    BOOST_REQUIRE(::getxattr(path.c_str(), name, &raw, sizeof(raw)) == sizeof(raw));
    if constexpr (sizeof(T) == 4) return le32toh(raw);
    return le64toh(raw);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mapped_xattr)

BOOST_AUTO_TEST_CASE(created_files_carry_qemu_format_metadata_and_getattr_reports_it) {
    Fx fx(model(SecurityModel::kMappedXattr));
    if (!mapped_usable(fx)) return;
    Caller guest{1000, 1000};
    auto c = must(create_file(fx.ex, guest, fx.root, "f", p9proto::dotl::kRdwr, 0644, 100));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0600u);  // host view: the worker's private file
    BOOST_TEST(st.st_uid == ::geteuid());
    BOOST_TEST(host_xattr<std::uint32_t>(fx.host("f"), "user.virtfs.uid") == 1000u);
    BOOST_TEST(host_xattr<std::uint32_t>(fx.host("f"), "user.virtfs.gid") == 100u);
    BOOST_TEST(host_xattr<std::uint32_t>(fx.host("f"), "user.virtfs.mode") == (S_IFREG | 0644u));
    auto r = must(getattr(fx.ex, c.node, ga::kAll));
    BOOST_TEST(r.uid == 1000u);
    BOOST_TEST(r.gid == 100u);
    BOOST_TEST(r.mode == (S_IFREG | 0644u));

    auto d = must(make_dir(fx.ex, guest, fx.root, "d", 0755, 100));
    BOOST_TEST(d.type == p9proto::qid_type::kDir);
    BOOST_REQUIRE(::stat(fx.host("d").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0700u);
    BOOST_TEST(must(getattr(fx.ex, must(fx.walk("d")), ga::kAll)).mode == (S_IFDIR | 0755u));
}

BOOST_AUTO_TEST_CASE(mknod_stores_devices_as_regular_files_never_as_host_devices) {
    Fx fx(model(SecurityModel::kMappedXattr));
    if (!mapped_usable(fx)) return;
    Caller guest{1000, 1000};
    must(make_node(fx.ex, guest, fx.root, "tty", S_IFCHR | 0620, 4, 1, 5));
    struct stat st {};
    BOOST_REQUIRE(::lstat(fx.host("tty").c_str(), &st) == 0);
    BOOST_TEST(S_ISREG(st.st_mode));
    BOOST_TEST(host_xattr<std::uint64_t>(fx.host("tty"), "user.virtfs.rdev") == makedev(4, 1));
    auto r = must(getattr(fx.ex, must(fx.walk("tty")), ga::kAll));
    BOOST_TEST(r.mode == (S_IFCHR | 0620u));
    BOOST_TEST(r.rdev == makedev(4, 1));
    BOOST_TEST(r.gid == 5u);
}

BOOST_AUTO_TEST_CASE(symlinks_are_regular_files_holding_the_target) {
    Fx fx(model(SecurityModel::kMappedXattr));
    if (!mapped_usable(fx)) return;
    Caller guest{1000, 1000};
    must(make_symlink(fx.ex, guest, fx.root, "l", "../../etc/shadow", 1000));
    struct stat st {};
    BOOST_REQUIRE(::lstat(fx.host("l").c_str(), &st) == 0);
    BOOST_TEST(S_ISREG(st.st_mode));
    Node l = must(fx.walk("l"));
    BOOST_TEST(must(read_link(fx.ex, guest, l)) == "../../etc/shadow");
    BOOST_TEST(must(getattr(fx.ex, l, ga::kAll)).mode == (S_IFLNK | 0777u));
}

BOOST_AUTO_TEST_CASE(chown_and_chmod_change_only_the_stored_metadata) {
    Fx fx(model(SecurityModel::kMappedXattr));
    if (!mapped_usable(fx)) return;
    Caller guest{1000, 1000};
    auto c = must(create_file(fx.ex, guest, fx.root, "f", p9proto::dotl::kRdwr, 0644, 1000));
    p9proto::Tsetattr req;
    req.valid = sa::kUid | sa::kGid | sa::kMode;
    req.uid = 0;
    req.gid = 0;
    req.mode = 04755;
    must(setattr(fx.ex, guest, c.node, nullptr, req));
    auto r = must(getattr(fx.ex, c.node, ga::kAll));
    BOOST_TEST(r.uid == 0u);
    BOOST_TEST(r.mode == (S_IFREG | 04755u));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0600u);
}

BOOST_AUTO_TEST_SUITE_END()
