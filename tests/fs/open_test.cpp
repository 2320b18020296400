#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "backend/fs/attr.hpp"
#include "backend/fs/open_file.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/fs/fs_fixture.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;
namespace dotl = xen9p::p9proto::dotl;

BOOST_AUTO_TEST_SUITE(opening)

BOOST_AUTO_TEST_CASE(open_reads_a_file_and_reports_its_qid) {
    Fx fx;
    fx.write_file("f", "data");
    Node f = must(fx.walk("f"));
    auto o = must(open_node(fx.ex, fx.me, f, dotl::kRdonly));
    char buf[8] = {};
    BOOST_TEST(::read(o.file.fd(), buf, sizeof(buf)) == 4);
    BOOST_TEST(o.qid == must(qid_of(fx.ex, f)));
}

BOOST_AUTO_TEST_CASE(open_refuses_fifos_sockets_and_device_nodes) {
    Fx fx;
    BOOST_REQUIRE(::mkfifo(fx.host("fifo").c_str(), 0666) == 0);
    BOOST_TEST(err(open_node(fx.ex, fx.me, must(fx.walk("fifo")), dotl::kRdonly)) == ENXIO);
    if (::mknod(fx.host("null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        BOOST_TEST(err(open_node(fx.ex, fx.me, must(fx.walk("null")), dotl::kRdwr)) == ENXIO);
    }
    int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_REQUIRE(s >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = fx.host("sock");
    BOOST_REQUIRE(path.size() < sizeof(addr.sun_path));
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    BOOST_REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::close(s);
    BOOST_TEST(err(open_node(fx.ex, fx.me, must(fx.walk("sock")), dotl::kRdonly)) == ENXIO);
}

BOOST_AUTO_TEST_CASE(open_of_a_symlink_is_eloop_never_followed) {
    Fx fx;
    fx.write_file("target", "t");
    BOOST_REQUIRE(::symlink("target", fx.host("link").c_str()) == 0);
    BOOST_TEST(err(open_node(fx.ex, fx.me, must(fx.walk("link")), dotl::kRdonly)) == ELOOP);
}

BOOST_AUTO_TEST_CASE(open_with_directory_flag_on_a_file_is_enotdir) {
    Fx fx;
    fx.write_file("f", "x");
    BOOST_TEST(err(open_node(fx.ex, fx.me, must(fx.walk("f")), dotl::kRdonly | dotl::kDirectory)) ==
               ENOTDIR);
}

BOOST_AUTO_TEST_CASE(open_directory_for_writing_is_eisdir) {
    Fx fx;
    fx.make_dir("d");
    BOOST_TEST(err(open_node(fx.ex, fx.me, must(fx.walk("d")), dotl::kWronly)) == EISDIR);
    BOOST_TEST(err(open_node(fx.ex, fx.me, must(fx.walk("d")), dotl::kRdonly)) == 0);
}

BOOST_AUTO_TEST_CASE(read_only_export_opens_for_reading_only) {
    ExportConfig cfg;
    cfg.read_only = true;
    Fx fx(cfg);
    fx.write_file("f", "x");
    Node f = must(fx.walk("f"));
    BOOST_TEST(err(open_node(fx.ex, fx.me, f, dotl::kRdonly)) == 0);
    BOOST_TEST(err(open_node(fx.ex, fx.me, f, dotl::kWronly)) == EROFS);
    BOOST_TEST(err(open_node(fx.ex, fx.me, f, dotl::kRdonly | dotl::kTrunc)) == EROFS);
    BOOST_TEST(err(create_file(fx.ex, fx.me, fx.root, "n", dotl::kRdwr, 0644, 0)) == EROFS);
}

BOOST_AUTO_TEST_CASE(o_direct_is_stripped_unless_the_export_allows_it) {
    Fx fx;
    fx.write_file("f", "x");
    auto o = must(open_node(fx.ex, fx.me, must(fx.walk("f")), dotl::kRdonly | dotl::kDirect));
    BOOST_TEST((::fcntl(o.file.fd(), F_GETFL) & O_DIRECT) == 0);
    ExportConfig cfg;
    cfg.allow_direct_io = true;
    Fx fx2(cfg);
    fx2.write_file("f", "x");
    auto d = open_node(fx2.ex, fx2.me, must(fx2.walk("f")), dotl::kRdonly | dotl::kDirect);
    if (d) {
        BOOST_TEST((::fcntl(d->file.fd(), F_GETFL) & O_DIRECT) != 0);
    } else {
        BOOST_TEST(d.error().value == EINVAL);  // a host fs without O_DIRECT
    }
}

BOOST_AUTO_TEST_CASE(create_makes_the_exact_mode_and_refuses_existing_names) {
    Fx fx;
    mode_t old = ::umask(077);
    auto c = create_file(fx.ex, fx.me, fx.root, "new", dotl::kRdwr, 0664, 0);
    ::umask(old);
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(c->qid == must(qid_of(fx.ex, c->node)));
    BOOST_TEST(::write(c->file.fd(), "abc", 3) == 3);
    struct stat st {};
    BOOST_REQUIRE(::stat(fx.host("new").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0664u);
    BOOST_TEST(st.st_size == 3);
    BOOST_TEST(err(create_file(fx.ex, fx.me, fx.root, "new", dotl::kRdwr, 0644, 0)) == EEXIST);
    BOOST_TEST(err(create_file(fx.ex, fx.me, fx.root, "a/b", dotl::kRdwr, 0644, 0)) == EINVAL);
    BOOST_TEST(err(create_file(fx.ex, fx.me, fx.root, std::string(300, 'x'), dotl::kRdwr, 0644,
                               0)) == ENAMETOOLONG);
}

BOOST_AUTO_TEST_CASE(fsync_and_datasync_on_an_open_file) {
    Fx fx;
    auto c = must(create_file(fx.ex, fx.me, fx.root, "f", dotl::kWronly, 0644, 0));
    must(fsync_file(c.file, false));
    must(fsync_file(c.file, true));
    BOOST_TEST(err(fsync_file(OpenFile(), true)) == EBADF);
}

BOOST_AUTO_TEST_SUITE_END()
