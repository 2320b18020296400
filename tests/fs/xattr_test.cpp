#include <endian.h>
#include <sys/xattr.h>

#include <cstring>
#include <set>
#include <string>
#include <utility>
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

// The names of a NUL-separated list.
std::set<std::string> names(const std::vector<std::byte>& list) {
    std::set<std::string> out;
    std::string all = text(list);
    for (std::size_t pos = 0; pos < all.size();) {
        std::size_t end = all.find('\0', pos);
        if (end == std::string::npos) end = all.size();
        out.insert(all.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

// A file capability granting CAP_SETUID (struct vfs_cap_data, revision 2,
// effective): what the attack in issue 15 set on a file of the export.
std::string setuid_capability() {
    std::string v(20, '\0');
    const std::uint32_t words[5] = {htole32(0x02000001u), htole32(1u << 7), 0, 0, 0};
    std::memcpy(v.data(), words, sizeof(words));
    return v;
}

// An access ACL that also lets uid 1000 read (user::rw-, user:1000:r--,
// group::r--, mask::r--, other::r--), as setfacl sends it.
std::string acl_for_uid_1000() {
    std::string v;
    auto le16 = [&v](std::uint16_t x) {
        v.push_back(static_cast<char>(x & 0xff));
        v.push_back(static_cast<char>(x >> 8));
    };
    auto le32 = [&](std::uint32_t x) {
        le16(static_cast<std::uint16_t>(x & 0xffff));
        le16(static_cast<std::uint16_t>(x >> 16));
    };
    le32(2);  // POSIX_ACL_XATTR_VERSION
    struct Entry {
        std::uint16_t tag, perm;
        std::uint32_t id;
    };
    for (Entry e : {Entry{0x01, 6, ~0u}, Entry{0x02, 4, 1000}, Entry{0x04, 4, ~0u},
                    Entry{0x10, 4, ~0u}, Entry{0x20, 4, ~0u}}) {
        le16(e.tag);
        le16(e.perm);
        le32(e.id);
    }
    return v;
}

// Names of the host's namespaces are refused (EOPNOTSUPP) for get, set and
// remove, and left out of lists, whatever the host file carries.
void host_namespaces_are_refused(Fx& fx, const Node& f) {
    const std::string cap = setuid_capability();
    for (const char* name : {"security.capability", "trusted.x", "security.selinux",
                             "system.nfs4_acl", "system.posix_acl_evil", "other.x"}) {
        BOOST_TEST_CONTEXT(name) {
            BOOST_TEST(err(xattr_set(fx.ex, fx.me, f, name, bytes(cap), 0)) == EOPNOTSUPP);
            BOOST_TEST(err(xattr_get(fx.ex, fx.me, f, name)) == EOPNOTSUPP);
            BOOST_TEST(err(xattr_remove(fx.ex, fx.me, f, name)) == EOPNOTSUPP);
        }
    }
    char raw[64];
    BOOST_TEST(::getxattr(fx.host("f").c_str(), "security.capability", raw, sizeof(raw)) < 0);
    BOOST_TEST(::getxattr(fx.host("f").c_str(), "trusted.x", raw, sizeof(raw)) < 0);
    // What the host set itself stays the host's.
    BOOST_REQUIRE(::setxattr(fx.host("f").c_str(), "trusted.host", "h", 1, 0) == 0);
    BOOST_REQUIRE(::setxattr(fx.host("f").c_str(), "security.host", "h", 1, 0) == 0);
    must(xattr_set(fx.ex, fx.me, f, "user.mine", bytes("m"), 0));
    BOOST_TEST(names(must(xattr_list(fx.ex, fx.me, f))) == std::set<std::string>{"user.mine"});
    BOOST_TEST(err(xattr_get(fx.ex, fx.me, f, "trusted.host")) == EOPNOTSUPP);
    BOOST_TEST(err(xattr_remove(fx.ex, fx.me, f, "security.host")) == EOPNOTSUPP);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xattr)

// The guest's names are user.* (and POSIX ACLs where the model maps them): in
// issue 15 a guest set security.capability and trusted.* on host files.
BOOST_AUTO_TEST_CASE(none_serves_user_names_only) {
    if (::geteuid() != 0) return;  // trusted.* needs CAP_SYS_ADMIN to set up
    Fx fx(model(SecurityModel::kNone));
    if (!host_has_user_xattrs(fx)) return;
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    host_namespaces_are_refused(fx, f);
    // ACLs would carry the guest's uid claims into the host's permission checks.
    const std::string acl = acl_for_uid_1000();
    BOOST_TEST(err(xattr_set(fx.ex, fx.me, f, "system.posix_acl_access", bytes(acl), 0)) ==
               EOPNOTSUPP);
    BOOST_TEST(err(xattr_get(fx.ex, fx.me, f, "system.posix_acl_default")) == EOPNOTSUPP);
}

BOOST_AUTO_TEST_CASE(passthrough_serves_user_names_and_posix_acls_of_the_host_file) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kPassthrough));
    if (!host_has_user_xattrs(fx)) return;
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    host_namespaces_are_refused(fx, f);
    const std::string acl = acl_for_uid_1000();
    auto set = xattr_set(fx.ex, fx.me, f, "system.posix_acl_access", bytes(acl), 0);
    if (err(set) == EOPNOTSUPP) return;  // a host file system without ACLs
    must(set);
    BOOST_TEST(must(xattr_get(fx.ex, fx.me, f, "system.posix_acl_access")).size() == acl.size());
}

BOOST_AUTO_TEST_CASE(mapped_xattr_serves_user_names_and_its_stored_posix_acls) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kMappedXattr));
    if (!host_has_user_xattrs(fx)) return;
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    host_namespaces_are_refused(fx, f);
    must(xattr_set(fx.ex, fx.me, f, "system.posix_acl_default", bytes(acl_for_uid_1000()), 0));
    BOOST_TEST(names(must(xattr_list(fx.ex, fx.me, f))) ==
               (std::set<std::string>{"user.mine", "system.posix_acl_default"}));
}

BOOST_AUTO_TEST_CASE(xattr_set_get_list_remove_round_trip_with_flags) {
    Fx fx;
    if (!host_has_user_xattrs(fx)) return;
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    must(xattr_set(fx.ex, fx.me, f, "user.a", bytes("value"), 0));
    BOOST_TEST(text(must(xattr_get(fx.ex, fx.me, f, "user.a"))) == "value");
    BOOST_TEST(err(xattr_set(fx.ex, fx.me, f, "user.a", bytes("v"), p9proto::kXattrCreate)) ==
               EEXIST);
    BOOST_TEST(err(xattr_set(fx.ex, fx.me, f, "user.b", bytes("v"), p9proto::kXattrReplace)) ==
               ENODATA);
    must(xattr_set(fx.ex, fx.me, f, "user.a", bytes("second"), p9proto::kXattrReplace));
    BOOST_TEST(text(must(xattr_get(fx.ex, fx.me, f, "user.a"))) == "second");
    must(xattr_set(fx.ex, fx.me, f, "user.b", bytes(""), p9proto::kXattrCreate));
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
