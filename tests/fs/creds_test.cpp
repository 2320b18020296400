#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/fs/attr.hpp"
#include "backend/fs/entries.hpp"
#include "backend/fs/open_file.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/fs/fs_fixture.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;
namespace dotl = xen9p::p9proto::dotl;

BOOST_AUTO_TEST_SUITE(credentials)

BOOST_AUTO_TEST_CASE(passthrough_checks_permissions_as_the_guest_user) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kPassthrough));
    fx.write_file("secret", "s", 0600);
    fx.make_dir("private");
    BOOST_REQUIRE(::chmod(fx.host("private").c_str(), 0700) == 0);
    fx.write_file("private/f", "x");
    Caller guest{1000, 1000};
    Node secret = must(fx.walk("secret"));
    BOOST_TEST(err(open_node(fx.ex, guest, secret, dotl::kRdonly)) == EACCES);
    BOOST_TEST(err(open_node(fx.ex, fx.me, secret, dotl::kRdonly)) == 0);  // root may
    BOOST_TEST(err(walk_one(fx.ex, guest, must(fx.walk("private")), "f")) == EACCES);
    BOOST_TEST(err(unlink_at(fx.ex, guest, fx.root, "secret", 0)) == EACCES);
    p9proto::Tsetattr req;
    req.valid = p9proto::setattr::kUid;
    req.uid = 1000;
    BOOST_TEST(err(setattr(fx.ex, guest, secret, nullptr, req)) == EPERM);
    // The guard restored the thread's ids: root still owns what it creates.
    must(make_dir(fx.ex, fx.me, fx.root, "rootdir", 0755, 0));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("rootdir").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 0u);
}

BOOST_AUTO_TEST_CASE(passthrough_files_are_owned_by_the_guest_ids) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kPassthrough));
    BOOST_REQUIRE(::chmod(fx.host("").c_str(), 0777) == 0);
    Caller guest{1000, 1000};
    must(create_file(fx.ex, guest, fx.root, "f", dotl::kRdwr, 0640, 2000));
    must(make_dir(fx.ex, guest, fx.root, "d", 0750, 1000));
    must(make_symlink(fx.ex, guest, fx.root, "l", "f", 1000));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 1000u);
    BOOST_TEST(st.st_gid == 2000u);
    BOOST_REQUIRE(::stat(fx.host("d").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 1000u);
    BOOST_REQUIRE(::lstat(fx.host("l").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 1000u);
}

// A lock owner's description is re-opened: as the caller, or a worker whose
// own fsuid holds no file-system capability (the kernel drops them once the
// fsuid left 0) cannot open the guest's files (real Xen: flock and F_SETLK
// failed EACCES).
BOOST_AUTO_TEST_CASE(passthrough_locks_reopen_as_the_caller) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kPassthrough));
    BOOST_REQUIRE(::chmod(fx.host("").c_str(), 0777) == 0);
    Caller guest{1000, 1000};
    auto mine = must(create_file(fx.ex, guest, fx.root, "mine", dotl::kRdwr, 0600, 1000));
    fx.write_file("roots", "x", 0600);
    auto roots = must(open_node(fx.ex, fx.me, must(fx.walk("roots")), dotl::kRdwr));
    // The worker between requests: its own fsuid, not 0 (this thread only;
    // back to 0, which gives the capabilities back, at the end).
    struct WorkerFsuid {
        WorkerFsuid() { ::setfsuid(131079); }
        ~WorkerFsuid() { ::setfsuid(0); }
    } worker;
    p9proto::Tlock req;
    req.type = p9proto::lock::kWriteLock;
    req.length = 1;
    req.proc_id = 1;
    req.client_id = p9proto::Text{"guest"};
    BOOST_TEST(must(mine.file.locks().lock(fx.ex, guest, mine.file, req)) ==
               p9proto::lock::kStatusSuccess);
    BOOST_TEST(must(roots.file.locks().lock(fx.ex, fx.me, roots.file, req)) ==
               p9proto::lock::kStatusSuccess);
    p9proto::Tgetlock q;
    q.type = p9proto::lock::kUnlock;
    q.length = 1;
    q.proc_id = 2;
    q.client_id = p9proto::Text{"guest"};
    BOOST_TEST(must(mine.file.locks().getlock(fx.ex, guest, mine.file, q)).type ==
               p9proto::lock::kWriteLock);
}

BOOST_AUTO_TEST_CASE(none_model_ignores_chown_the_server_may_not_do) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kNone));
    fx.write_file("f", "x");
    BOOST_REQUIRE(::chown(fx.host("f").c_str(), 65534, 65534) == 0);
    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        // An unprivileged server, as the worker is.
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
            ::_exit(100);
        }
        auto f = fx.walk("f");
        if (!f) ::_exit(101);
        p9proto::Tsetattr req;
        req.valid = p9proto::setattr::kUid | p9proto::setattr::kGid;
        req.uid = 0;
        req.gid = 0;
        auto r = setattr(fx.ex, Caller{0, 0}, *f, nullptr, req);
        ::_exit(r ? 0 : r.error().value);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 65534u);  // ignored, not done
}

BOOST_AUTO_TEST_CASE(none_model_gives_new_nodes_to_the_caller_when_the_server_may) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kNone));
    Caller guest{1000, 1000};
    must(create_file(fx.ex, guest, fx.root, "f", dotl::kRdwr, 02755, 2000));
    must(make_dir(fx.ex, guest, fx.root, "d", 0750, 1001));
    must(make_symlink(fx.ex, guest, fx.root, "l", "f", 1002));
    must(make_node(fx.ex, guest, fx.root, "p", S_IFIFO | 0640, 0, 0, 1003));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 1000u);
    BOOST_TEST(st.st_gid == 2000u);
    // The mode is set after the chown, which would have cleared setgid.
    BOOST_TEST((st.st_mode & 07777) == 02755u);
    BOOST_REQUIRE(::stat(fx.host("d").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 1000u);
    BOOST_TEST(st.st_gid == 1001u);
    BOOST_TEST((st.st_mode & 07777) == 0750u);
    BOOST_REQUIRE(::lstat(fx.host("l").c_str(), &st) == 0);
    BOOST_TEST(S_ISLNK(st.st_mode));
    BOOST_TEST(st.st_uid == 1000u);
    BOOST_TEST(st.st_gid == 1002u);
    BOOST_REQUIRE(::stat(fx.host("p").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 1000u);
    BOOST_TEST(st.st_gid == 1003u);
    // The symlink was created as the server: the target keeps its owner.
    BOOST_REQUIRE(::stat(fx.host("l").c_str(), &st) == 0);
    BOOST_TEST(st.st_gid == 2000u);
}

BOOST_AUTO_TEST_CASE(none_model_leaves_the_owner_for_a_caller_without_n_uname) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kNone));
    Caller unnamed{65534, 65534, false};
    must(create_file(fx.ex, unnamed, fx.root, "f", dotl::kRdwr, 0640, 65534));
    must(make_dir(fx.ex, unnamed, fx.root, "d", 0750, 65534));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 0u);
    BOOST_TEST((st.st_mode & 07777) == 0640u);
    BOOST_REQUIRE(::stat(fx.host("d").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 0u);
}

BOOST_AUTO_TEST_CASE(none_model_unprivileged_server_keeps_what_it_creates) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kNone));
    BOOST_REQUIRE(::chmod(fx.top.path().c_str(), 0755) == 0);
    BOOST_REQUIRE(::chmod(fx.host("").c_str(), 0777) == 0);
    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
            ::_exit(100);
        }
        // Opened as the unprivileged server, as the worker does (its /proc/self).
        auto ex = Export::open(fx.top / "export", model(SecurityModel::kNone));
        if (!ex) ::_exit(101);
        auto root = ex->root();
        if (!root) ::_exit(102);
        Caller guest{1000, 1000};
        auto f = create_file(*ex, guest, *root, "f", dotl::kRdwr, 0640, 1000);
        if (!f) ::_exit(f.error().value);
        auto d = make_dir(*ex, guest, *root, "d", 0750, 1000);
        ::_exit(d ? 0 : d.error().value);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("f").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 65534u);
    BOOST_TEST((st.st_mode & 07777) == 0640u);
    BOOST_REQUIRE(::stat(fx.host("d").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 65534u);
}

namespace {

// Makes the calling process what a passthrough worker is: a non-zero uid whose
// permitted and effective sets hold the passthrough capabilities.
bool become_passthrough_worker(uid_t uid, gid_t gid) {
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return false;
    if (::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0) return false;
    std::uint32_t kept = 0;
    for (const int cap :
         {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SETUID, CAP_SETGID, CAP_MKNOD})
        kept |= 1u << cap;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    data[0].permitted = kept;
    data[0].effective = kept;
    return ::syscall(SYS_capset, &header, data) == 0;
}

}  // namespace

// The kernel lowers a thread's fs capabilities only when its fsuid leaves 0,
// and a worker's fsuid is its own non-zero uid: without more, a non-root
// caller's requests ran with DAC_OVERRIDE until the first root request.
BOOST_AUTO_TEST_CASE(passthrough_gives_a_non_root_caller_no_capability_from_the_first_request) {
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kPassthrough));
    fx.write_file("secret", "s", 0600);
    const std::string export_dir = fx.host("");
    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        if (!become_passthrough_worker(131072 + 9, 131072)) ::_exit(100);
        auto ex = Export::open(export_dir, model(SecurityModel::kPassthrough));
        if (!ex) ::_exit(101);
        auto root = ex->root();
        if (!root) ::_exit(102);
        const Caller guest{1000, 1000};
        const Caller root_user{0, 0};
        auto secret = walk_one(*ex, guest, *root, "secret");
        if (!secret) ::_exit(103);
        // The first request of all: a non-root caller may not read root's 0600 file.
        if (err(open_node(*ex, guest, *secret, dotl::kRdonly)) != EACCES) ::_exit(1);
        if (err(open_node(*ex, root_user, *secret, dotl::kRdonly)) != 0) ::_exit(2);
        if (err(open_node(*ex, guest, *secret, dotl::kRdonly)) != EACCES) ::_exit(3);
        if (err(open_node(*ex, root_user, *secret, dotl::kRdonly)) != 0) ::_exit(4);
        ::_exit(0);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
