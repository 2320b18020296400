#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "backend/fs/open_file.hpp"
#include "backend/fs/readdir.hpp"
#include "p9proto/dirent.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/fs/fs_fixture.hpp"

using namespace xen9p;
using namespace xen9p::fs;
using namespace xen9p::fs::test;

namespace {

struct Batch {
    std::vector<std::string> names;
    std::uint64_t last_offset = 0;
    std::size_t bytes = 0;
};

Batch read_batch(Fx& fx, OpenFile& dir, std::uint64_t offset, std::size_t count) {
    std::vector<std::byte> buf(count);
    Batch b;
    b.bytes = must(read_dir(fx.ex, dir, offset, buf));
    BOOST_REQUIRE(b.bytes <= count);
    p9proto::DirentReader reader(std::span<const std::byte>(buf.data(), b.bytes));
    while (auto e = reader.next()) {
        b.names.emplace_back(e->name);
        b.last_offset = e->offset;
    }
    BOOST_REQUIRE(!reader.failed());
    return b;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(readdir)

BOOST_AUTO_TEST_CASE(readdir_of_100k_entries_resumes_from_cookies_without_loss) {
    // 100k inodes on a journaling fs take long on a busy machine: prefer tmpfs.
    struct stat shm {};
    Fx fx(ExportConfig{},
          ::stat("/dev/shm", &shm) == 0 && S_ISDIR(shm.st_mode) ? "/dev/shm" : "/tmp");
    fx.make_dir("big");
    int dir = ::open(fx.host("big").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    BOOST_REQUIRE(dir >= 0);
    constexpr int kEntries = 100000;
    for (int i = 0; i < kEntries; ++i) {
        std::string name = "entry_" + std::to_string(i);
        int fd = ::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        BOOST_REQUIRE(fd >= 0);
        ::close(fd);
    }
    ::close(dir);
    Node big = must(fx.walk("big"));
    auto o = must(open_node(fx.ex, fx.me, big, p9proto::dotl::kRdonly | p9proto::dotl::kDirectory));

    std::set<std::string> seen;
    std::uint64_t offset = 0;
    std::uint64_t mid_offset = 0;
    std::string mid_next;
    std::size_t calls = 0;
    for (;;) {
        Batch b = read_batch(fx, o.file, offset, 8192);
        if (b.names.empty()) break;
        ++calls;
        for (auto& n : b.names)
            BOOST_REQUIRE_MESSAGE(seen.insert(n).second, "duplicate " << n);
        if (calls == 20) mid_offset = b.last_offset;
        if (calls == 21) mid_next = b.names.front();
        offset = b.last_offset;
    }
    BOOST_TEST(seen.size() == static_cast<std::size_t>(kEntries) + 2);  // with "." and ".."
    BOOST_TEST(calls > 100u);
    // A cookie stays valid on a fresh open of the directory.
    auto again = must(open_node(fx.ex, fx.me, big, p9proto::dotl::kRdonly));
    BOOST_TEST(read_batch(fx, again.file, mid_offset, 8192).names.front() == mid_next);
}

BOOST_AUTO_TEST_CASE(readdir_never_exceeds_count_and_einval_when_nothing_fits) {
    Fx fx;
    fx.make_dir("d");
    fx.write_file("d/" + std::string(200, 'a'), "x");
    auto o = must(open_node(fx.ex, fx.me, must(fx.walk("d")), p9proto::dotl::kRdonly));
    std::set<std::string> seen;
    std::uint64_t offset = 0;
    for (int i = 0; i < 10; ++i) {
        std::vector<std::byte> buf(300);
        auto n = read_dir(fx.ex, o.file, offset, buf);
        BOOST_REQUIRE(n.has_value());
        if (*n == 0) break;
        BOOST_TEST(*n <= 300u);
        p9proto::DirentReader reader(std::span<const std::byte>(buf.data(), *n));
        while (auto e = reader.next()) {
            seen.insert(std::string(e->name));
            offset = e->offset;
        }
    }
    BOOST_TEST(seen.size() == 3u);
    std::vector<std::byte> tiny(20);
    BOOST_TEST(err(read_dir(fx.ex, o.file, 0, tiny)) == EINVAL);
}

BOOST_AUTO_TEST_CASE(a_continued_listing_reads_no_entry_its_reply_does_not_take) {
    Fx fx;
    fx.make_dir("d");
    for (int length = 1; length <= 40; ++length) {
        for (int i = 0; i < 10; ++i) {
            std::string name = std::string(static_cast<std::size_t>(length), 'a' + i % 26);
            name.back() = static_cast<char>('0' + i);
            fx.write_file("d/" + name, "");
        }
    }
    auto o = must(open_node(fx.ex, fx.me, must(fx.walk("d")), p9proto::dotl::kRdonly));
    std::set<std::string> seen;
    std::uint64_t offset = 0;
    for (std::size_t count : {300, 4096, 1000, 128, 8192, 700}) {
        Batch b = read_batch(fx, o.file, offset, count);
        if (b.names.empty()) break;
        for (auto& n : b.names)
            BOOST_REQUIRE_MESSAGE(seen.insert(n).second, "duplicate " << n);
        // The descriptor stands just past the last entry the reply took, so
        // the next call reads on from there without a seek.
        BOOST_TEST(static_cast<std::uint64_t>(::lseek(o.file.fd(), 0, SEEK_CUR)) == b.last_offset);
        offset = b.last_offset;
    }
    for (;;) {
        Batch b = read_batch(fx, o.file, offset, 2000);
        if (b.names.empty()) break;
        for (auto& n : b.names)
            BOOST_REQUIRE_MESSAGE(seen.insert(n).second, "duplicate " << n);
        offset = b.last_offset;
    }
    BOOST_TEST(seen.size() == 400u + 2);
}

BOOST_AUTO_TEST_CASE(reading_on_and_seeking_back_list_the_same_entries) {
    Fx fx;
    fx.make_dir("d");
    for (int i = 0; i < 3000; ++i)
        fx.write_file("d/f" + std::string(static_cast<std::size_t>(i % 7), 'x') + std::to_string(i),
                      "");
    Node d = must(fx.walk("d"));
    auto on = must(open_node(fx.ex, fx.me, d, p9proto::dotl::kRdonly));
    std::vector<Batch> batches;
    std::uint64_t offset = 0;
    for (;;) {
        Batch b = read_batch(fx, on.file, offset, 1500);
        if (b.names.empty()) break;
        offset = b.last_offset;
        batches.push_back(std::move(b));
    }
    BOOST_REQUIRE(batches.size() > 10u);
    // Each batch again, from its cookie, on one descriptor that seeks back and
    // forth, and on one fresh descriptor per batch: the same names.
    auto back = must(open_node(fx.ex, fx.me, d, p9proto::dotl::kRdonly));
    for (std::size_t i = 0; i < batches.size(); ++i) {
        std::size_t j = (i * 7) % batches.size();
        std::uint64_t start = j == 0 ? 0 : batches[j - 1].last_offset;
        BOOST_TEST(read_batch(fx, back.file, start, 1500).names == batches[j].names);
        auto fresh = must(open_node(fx.ex, fx.me, d, p9proto::dotl::kRdonly));
        BOOST_TEST(read_batch(fx, fresh.file, start, 1500).names == batches[j].names);
    }
}

BOOST_AUTO_TEST_CASE(readdir_on_a_file_is_enotdir) {
    Fx fx;
    fx.write_file("f", "x");
    auto o = must(open_node(fx.ex, fx.me, must(fx.walk("f")), p9proto::dotl::kRdonly));
    std::vector<std::byte> buf(1024);
    BOOST_TEST(err(read_dir(fx.ex, o.file, 0, buf)) == ENOTDIR);
}

BOOST_AUTO_TEST_SUITE_END()
