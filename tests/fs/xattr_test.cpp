#include <sys/xattr.h>

#include <cstring>
#include <string>
#include <vector>

#include "backend/fs/xattr.hpp"
#include "tests/fs/fs_fixture.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;

namespace {

std::span<const std::byte> bytes(std::string_view s) {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::string text(const std::vector<std::byte>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}

// Host filesystems without user xattrs make these tests meaningless.
bool host_has_user_xattrs(const Fx& fx) {
    std::string p = fx.host("probe");
    ::close(::open(p.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    bool ok = ::setxattr(p.c_str(), "user.probe", "1", 1, 0) == 0;
    ::unlink(p.c_str());
    return ok;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xattr)

BOOST_AUTO_TEST_CASE(xattr_set_get_list_remove_round_trip_with_flags) {
    Fx fx;
    if (!host_has_user_xattrs(fx)) return;
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    must(xattr_set(fx.ex, fx.me, f, "user.a", bytes("value"), 0));
    BOOST_TEST(text(must(xattr_get(fx.ex, fx.me, f, "user.a"))) == "value");
    BOOST_TEST(err(xattr_set(fx.ex, fx.me, f, "user.a", bytes("v"), proto::kXattrCreate)) ==
               EEXIST);
    BOOST_TEST(err(xattr_set(fx.ex, fx.me, f, "user.b", bytes("v"), proto::kXattrReplace)) ==
               ENODATA);
    must(xattr_set(fx.ex, fx.me, f, "user.a", bytes("second"), proto::kXattrReplace));
    BOOST_TEST(text(must(xattr_get(fx.ex, fx.me, f, "user.a"))) == "second");
    must(xattr_set(fx.ex, fx.me, f, "user.b", bytes(""), proto::kXattrCreate));
    auto list = text(must(xattr_list(fx.ex, fx.me, f)));
    BOOST_TEST(list.find(std::string("user.a\0", 7)) != std::string::npos);
    BOOST_TEST(list.find(std::string("user.b\0", 7)) != std::string::npos);
    must(xattr_remove(fx.ex, fx.me, f, "user.a"));
    BOOST_TEST(err(xattr_get(fx.ex, fx.me, f, "user.a")) == ENODATA);
    BOOST_TEST(err(xattr_remove(fx.ex, fx.me, f, "user.a")) == ENODATA);
    BOOST_TEST(err(xattr_set(fx.ex, fx.me, f, "user.c", bytes("v"), 3)) == EINVAL);
}

BOOST_AUTO_TEST_CASE(xattr_values_above_64k_are_refused) {
    Fx fx;
    if (!host_has_user_xattrs(fx)) return;
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    std::vector<std::byte> big(kMaxXattrSize + 1, std::byte{'z'});
    BOOST_TEST(err(xattr_set(fx.ex, fx.me, f, "user.big", big, 0)) == E2BIG);
    BOOST_TEST(err(xattr_get(fx.ex, fx.me, f, std::string(300, 'n'))) == ERANGE);
}

BOOST_AUTO_TEST_CASE(mapped_xattr_hides_and_protects_the_virtfs_names) {
    Fx fx(model(SecurityModel::kMappedXattr));
    if (!host_has_user_xattrs(fx)) return;
    fx.write_file("f", "x");
    BOOST_REQUIRE(::setxattr(fx.host("f").c_str(), "user.virtfs.uid", "\x01\0\0\0", 4, 0) == 0);
    BOOST_REQUIRE(::setxattr(fx.host("f").c_str(), "user.other", "o", 1, 0) == 0);
    Node f = must(fx.walk("f"));
    auto list = text(must(xattr_list(fx.ex, fx.me, f)));
    BOOST_TEST(list == std::string("user.other\0", 11));
    BOOST_TEST(err(xattr_get(fx.ex, fx.me, f, "user.virtfs.uid")) == ENODATA);
    BOOST_TEST(err(xattr_set(fx.ex, fx.me, f, "user.virtfs.uid", bytes("0000"), 0)) == EACCES);
    BOOST_TEST(err(xattr_remove(fx.ex, fx.me, f, "user.virtfs.uid")) == EACCES);
}

BOOST_AUTO_TEST_CASE(mapped_xattr_keeps_posix_acls_off_the_host_file) {
    Fx fx(model(SecurityModel::kMappedXattr));
    if (!host_has_user_xattrs(fx)) return;
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    must(xattr_set(fx.ex, fx.me, f, "system.posix_acl_access", bytes("acl-bytes"), 0));
    char raw[32] = {};
    BOOST_TEST(::getxattr(fx.host("f").c_str(), "user.virtfs.system.posix_acl_access", raw,
                          sizeof(raw)) == 9);
    BOOST_TEST(::getxattr(fx.host("f").c_str(), "system.posix_acl_access", raw, sizeof(raw)) < 0);
    BOOST_TEST(text(must(xattr_get(fx.ex, fx.me, f, "system.posix_acl_access"))) == "acl-bytes");
    BOOST_TEST(text(must(xattr_list(fx.ex, fx.me, f))) ==
               std::string("system.posix_acl_access\0", 24));
    must(xattr_remove(fx.ex, fx.me, f, "system.posix_acl_access"));
    BOOST_TEST(err(xattr_get(fx.ex, fx.me, f, "system.posix_acl_access")) == ENODATA);
}

BOOST_AUTO_TEST_CASE(xattr_set_on_a_read_only_export_is_erofs) {
    ExportConfig cfg;
    cfg.read_only = true;
    Fx fx(cfg);
    fx.write_file("f", "x");
    BOOST_TEST(err(xattr_set(fx.ex, fx.me, must(fx.walk("f")), "user.a", bytes("v"), 0)) == EROFS);
}

BOOST_AUTO_TEST_SUITE_END()
