#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

BOOST_AUTO_TEST_SUITE(entries)

BOOST_AUTO_TEST_CASE(mkdir_symlink_and_mknod_create_typed_entries) {
    Fx fx;
    auto d = must(make_dir(fx.ex, fx.me, fx.root, "d", 0750, 0));
    BOOST_TEST(d.type == p9proto::qid_type::kDir);
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("d").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0750u);
    BOOST_TEST(err(make_dir(fx.ex, fx.me, fx.root, "d", 0755, 0)) == EEXIST);

    auto l = must(make_symlink(fx.ex, fx.me, fx.root, "l", "/etc/passwd", 0));
    BOOST_TEST(l.type == p9proto::qid_type::kSymlink);
    BOOST_TEST(must(read_link(fx.ex, fx.me, must(fx.walk("l")))) == "/etc/passwd");

    must(make_node(fx.ex, fx.me, fx.root, "p", S_IFIFO | 0600, 0, 0, 0));
    BOOST_REQUIRE(::lstat(fx.host("p").c_str(), &st) == 0);
    BOOST_TEST(S_ISFIFO(st.st_mode));
    BOOST_TEST(err(make_node(fx.ex, fx.me, fx.root, "bad", S_IFDIR | 0600, 0, 0, 0)) == EINVAL);
}

// docs/threat-model.md: under `none` the guest creates files, dirs, symlinks
// (and FIFOs and sockets, refused at open) but no device nodes; in issue 15 a
// guest made a world-writable node of the host's disk through a root server.
// Passthrough trusts the guest's root: device nodes are made, refused at open;
// mapped-xattr stores them as regular files (mapped_test).
BOOST_AUTO_TEST_CASE(device_nodes_are_made_only_where_the_model_allows_them) {
    struct stat disk {};
    BOOST_REQUIRE(::stat("/", &disk) == 0);
    const auto disk_major = major(disk.st_dev), disk_minor = minor(disk.st_dev);
    struct stat st {};
    {
        Fx fx(model(SecurityModel::kNone));
        BOOST_TEST(err(make_node(fx.ex, fx.me, fx.root, "disk", S_IFBLK | 0666, disk_major,
                                 disk_minor, 0)) == EPERM);
        BOOST_TEST(err(make_node(fx.ex, fx.me, fx.root, "null", S_IFCHR | 0666, 1, 3, 0)) == EPERM);
        BOOST_TEST(::lstat(fx.host("disk").c_str(), &st) != 0);
        BOOST_TEST(::lstat(fx.host("null").c_str(), &st) != 0);
        must(make_node(fx.ex, fx.me, fx.root, "fifo", S_IFIFO | 0600, 0, 0, 0));
        must(make_node(fx.ex, fx.me, fx.root, "sock", S_IFSOCK | 0600, 0, 0, 0));
        BOOST_REQUIRE(::lstat(fx.host("sock").c_str(), &st) == 0);
        BOOST_TEST(S_ISSOCK(st.st_mode));
        BOOST_TEST(err(open_node(fx.ex, fx.me, must(fx.walk("fifo")), p9proto::dotl::kRdonly)) ==
                   ENXIO);
    }
    if (::geteuid() != 0) return;
    Fx fx(model(SecurityModel::kPassthrough));
    auto made = make_node(fx.ex, fx.me, fx.root, "null", S_IFCHR | 0666, 1, 3, 0);
    if (err(made) == EPERM) return;  // a device cgroup or user namespace forbids it
    must(made);
    BOOST_REQUIRE(::lstat(fx.host("null").c_str(), &st) == 0);
    BOOST_TEST(S_ISCHR(st.st_mode));
    BOOST_TEST(st.st_rdev == makedev(1, 3));
    BOOST_TEST(err(open_node(fx.ex, fx.me, must(fx.walk("null")), p9proto::dotl::kRdwr)) == ENXIO);
}

BOOST_AUTO_TEST_CASE(readlink_of_a_non_link_is_einval) {
    Fx fx;
    fx.write_file("f", "x");
    BOOST_TEST(err(read_link(fx.ex, fx.me, must(fx.walk("f")))) == EINVAL);
}

BOOST_AUTO_TEST_CASE(unlinkat_reports_enotempty_eisdir_enotdir_enoent) {
    Fx fx;
    fx.make_dir("d");
    fx.write_file("d/f", "x");
    fx.write_file("f", "x");
    BOOST_TEST(err(unlink_at(fx.ex, fx.me, fx.root, "d", p9proto::kAtRemoveDir)) == ENOTEMPTY);
    BOOST_TEST(err(unlink_at(fx.ex, fx.me, fx.root, "d", 0)) == EISDIR);
    BOOST_TEST(err(unlink_at(fx.ex, fx.me, fx.root, "f", p9proto::kAtRemoveDir)) == ENOTDIR);
    BOOST_TEST(err(unlink_at(fx.ex, fx.me, fx.root, "gone", 0)) == ENOENT);
    BOOST_TEST(err(unlink_at(fx.ex, fx.me, fx.root, "f", 7)) == EINVAL);
    BOOST_TEST(err(unlink_at(fx.ex, fx.me, fx.root, "..", 0)) == EINVAL);
    must(unlink_at(fx.ex, fx.me, fx.root, "f", 0));
    BOOST_TEST(::access(fx.host("f").c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(rename_moves_the_node_and_remove_follows_it) {
    Fx fx;
    fx.make_dir("a");
    fx.make_dir("b");
    fx.write_file("a/f", "x");
    Node f = must(fx.walk("a/f"));
    Node b = must(fx.walk("b"));
    must(rename_node(fx.ex, fx.me, f, b, "g"));
    BOOST_TEST(::access(fx.host("b/g").c_str(), F_OK) == 0);
    BOOST_TEST(f.name() == "g");
    must(remove_node(fx.ex, fx.me, f));
    BOOST_TEST(::access(fx.host("b/g").c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(remove_after_someone_else_renamed_the_entry_is_estale) {
    Fx fx;
    fx.write_file("f", "x");
    fx.write_file("other", "y");
    Node f = must(fx.walk("f"));
    BOOST_REQUIRE(::rename(fx.host("f").c_str(), fx.host("moved").c_str()) == 0);
    BOOST_REQUIRE(::rename(fx.host("other").c_str(), fx.host("f").c_str()) == 0);
    BOOST_TEST(err(remove_node(fx.ex, fx.me, f)) == ESTALE);
    BOOST_TEST(::access(fx.host("f").c_str(), F_OK) == 0);  // the other file survives
    BOOST_TEST(err(remove_node(fx.ex, fx.me, fx.root)) == EBUSY);
}

BOOST_AUTO_TEST_CASE(renameat_renames_and_reports_errors) {
    Fx fx;
    fx.make_dir("d");
    fx.write_file("d/x", "1");
    fx.make_dir("e");
    fx.write_file("f", "x");
    Node d = must(fx.walk("d"));
    must(rename_at(fx.ex, fx.me, fx.root, "f", d, "g"));
    BOOST_TEST(::access(fx.host("d/g").c_str(), F_OK) == 0);
    BOOST_TEST(err(rename_at(fx.ex, fx.me, fx.root, "nope", d, "z")) == ENOENT);
    BOOST_TEST(err(rename_at(fx.ex, fx.me, fx.root, "e", fx.root, "d")) == ENOTEMPTY);
    BOOST_TEST(err(rename_at(fx.ex, fx.me, d, "g", fx.root, "e")) == EISDIR);
}

BOOST_AUTO_TEST_CASE(rename_across_filesystems_is_exdev) {
    if (::geteuid() != 0) return;  // needs a private mount
    Fx fx;
    fx.make_dir("mnt");
    fx.write_file("f", "x");
    pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        if (::unshare(CLONE_NEWNS) != 0) ::_exit(100);
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(101);
        if (::mount("tmpfs", fx.host("mnt").c_str(), "tmpfs", 0, nullptr) != 0) ::_exit(102);
        // Fds opened before unshare see the old namespace's mounts: reopen.
        auto ex = Export::open(fx.host(""), ExportConfig{});
        if (!ex) ::_exit(103);
        auto root = ex->root();
        if (!root) ::_exit(103);
        auto mnt = walk_one(*ex, fx.me, *root, "mnt");
        if (!mnt) ::_exit(103);
        auto r = rename_at(*ex, fx.me, *root, "f", *mnt, "f");
        // Entries on the submount get qids apart from the export's own.
        auto q_root = qid_of(*ex, *root);
        auto q_mnt = qid_of(*ex, *mnt);
        if (!q_root || !q_mnt) ::_exit(104);
        if ((q_root->path >> 56) == (q_mnt->path >> 56)) ::_exit(105);
        ::_exit(r ? 0 : r.error().value);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == EXDEV);
}

BOOST_AUTO_TEST_CASE(link_adds_a_name_and_refuses_directories) {
    Fx fx;
    fx.write_file("f", "x");
    fx.make_dir("d");
    must(make_link(fx.ex, fx.me, fx.root, must(fx.walk("f")), "g"));
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("g").c_str(), &st) == 0);
    BOOST_TEST(st.st_nlink == 2u);
    BOOST_TEST(err(make_link(fx.ex, fx.me, fx.root, must(fx.walk("d")), "e")) == EPERM);
    BOOST_TEST(err(make_link(fx.ex, fx.me, fx.root, must(fx.walk("f")), "g")) == EEXIST);
}

BOOST_AUTO_TEST_CASE(every_mutation_on_a_read_only_export_is_erofs) {
    ExportConfig cfg;
    cfg.read_only = true;
    Fx fx(cfg);
    fx.write_file("f", "x");
    fx.make_dir("d");
    Node f = must(fx.walk("f"));
    Node d = must(fx.walk("d"));
    BOOST_TEST(err(make_dir(fx.ex, fx.me, fx.root, "n", 0755, 0)) == EROFS);
    BOOST_TEST(err(make_symlink(fx.ex, fx.me, fx.root, "n", "t", 0)) == EROFS);
    BOOST_TEST(err(make_node(fx.ex, fx.me, fx.root, "n", S_IFREG | 0644, 0, 0, 0)) == EROFS);
    BOOST_TEST(err(make_link(fx.ex, fx.me, fx.root, f, "n")) == EROFS);
    BOOST_TEST(err(rename_node(fx.ex, fx.me, f, d, "n")) == EROFS);
    BOOST_TEST(err(rename_at(fx.ex, fx.me, fx.root, "f", d, "n")) == EROFS);
    BOOST_TEST(err(unlink_at(fx.ex, fx.me, fx.root, "f", 0)) == EROFS);
    BOOST_TEST(err(remove_node(fx.ex, fx.me, f)) == EROFS);
    p9proto::Tsetattr req;
    req.valid = p9proto::setattr::kMode;
    req.mode = 0600;
    BOOST_TEST(err(setattr(fx.ex, fx.me, f, nullptr, req)) == EROFS);
    BOOST_TEST(::access(fx.host("f").c_str(), F_OK) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
