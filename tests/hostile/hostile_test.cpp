// The malicious-client suite against `xen9pd serve` over a unix socket: each
// case starts a daemon, runs one attack on one connection, and checks the
// aftermath: the daemon lives, its peak memory stayed within a bound over its
// start, and a new client is served. Attacks live in attacks.cpp.
#define BOOST_TEST_MODULE hostile
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "p9proto/open_flags.hpp"
#include "tests/hostile/attacks.hpp"
#include "tests/hostile/daemon_process.hpp"
#include "xenring/client/client.hpp"
#include "xenring/client/operations.hpp"

namespace xen9p::hostile {
namespace {

// Peak memory the daemon may add over its start during one attack: its
// slots are max_in_flight x 2 x msize (2 MiB here); the rest is slack for
// the sanitizer build's allocator.
constexpr std::size_t kMemoryBoundKib = 64 * 1024;

struct IgnoreSigpipe {
    // A connection the daemon closed must fail a send, not kill the test.
    IgnoreSigpipe() { ::signal(SIGPIPE, SIG_IGN); }
};
BOOST_TEST_GLOBAL_FIXTURE(IgnoreSigpipe);

class Siege {
  public:
    explicit Siege(DaemonLimits limits = {}) : daemon_(limits) {
        attacker_ = daemon_.connect();
        ctx_.limits = limits;
        ctx_.export_dir = daemon_.export_dir();
        ctx_.outside_dir = daemon_.outside_dir();
        ctx_.second_client_works = [this] { witness(); };
        ctx_.cut_attacker = [this] { ::shutdown(attacker_->fd(), SHUT_RDWR); };
        ctx_.memory = [this] { return daemon_.memory(); };
        ctx_.open_fds = [this] { return daemon_.open_fds(); };
        start_ = daemon_.memory();
    }

    client::ClientTransport& attacker() { return *attacker_; }
    const AttackContext& ctx() const { return ctx_; }
    DaemonProcess& daemon() { return daemon_; }

    // A second connection reads the witness file.
    void witness() {
        client::Client c(daemon_.connect());
        BOOST_REQUIRE(c.negotiate(8192).has_value());
        BOOST_REQUIRE(client::attach(c, 0, "root", "", 0).has_value());
        const std::string_view name[] = {"witness"};
        BOOST_REQUIRE(client::walk(c, 0, 1, name).has_value());
        BOOST_REQUIRE(client::lopen(c, 1, proto::dotl::kRdonly).has_value());
        auto data = client::read_all(c, 1);
        BOOST_REQUIRE(data.has_value());
        BOOST_CHECK_EQUAL(std::string(reinterpret_cast<const char*>(data->data()), data->size()),
                          DaemonProcess::kWitnessText);
        BOOST_CHECK(client::clunk(c, 1).has_value());
    }

    // The daemon survived within its memory bound and still serves.
    void check_aftermath() {
        const Memory now = daemon_.memory();
        BOOST_TEST_MESSAGE("xen9pd memory: start VmRSS " << start_.rss_kib << " KiB, peak VmHWM "
                                                         << now.hwm_kib << " KiB");
        BOOST_CHECK(daemon_.running());
        BOOST_CHECK_LT(now.hwm_kib, start_.rss_kib + kMemoryBoundKib);
        witness();
    }

  private:
    DaemonProcess daemon_;
    std::unique_ptr<client::StreamTransport> attacker_;
    AttackContext ctx_;
    Memory start_;
};

void make_file(const std::string& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    BOOST_REQUIRE(out.good());
}

BOOST_AUTO_TEST_CASE(fid_flood_gets_emfile_past_max_fids) {
    Siege s({.max_fids = 300, .max_in_flight = 16});
    fid_flood(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE(tag_flood_answers_every_tag_once_within_max_in_flight) {
    Siege s({.max_fids = 64, .max_in_flight = 16});
    tag_flood(s.attacker(), s.ctx());
    s.check_aftermath();
    s.ctx().cut_attacker();
    s.witness();  // the attacker's session has ended and been logged by now
    BOOST_CHECK_GT(s.daemon().logged_max_in_flight(), 0u);
    BOOST_CHECK_LE(s.daemon().logged_max_in_flight(), 16u);
}

BOOST_AUTO_TEST_CASE(readdir_with_tiny_counts_on_a_huge_directory_stays_within_count) {
    Siege s;
    constexpr std::size_t kEntries = 100000;
    const std::string huge = s.ctx().export_dir + "/huge";
    BOOST_REQUIRE(::mkdir(huge.c_str(), 0755) == 0);
    char name[32];
    for (std::size_t i = 0; i < kEntries; ++i) {
        std::snprintf(name, sizeof name, "/f%06zu", i);
        BOOST_REQUIRE(::mknod((huge + name).c_str(), S_IFREG | 0644, 0) == 0);
    }
    readdir_tiny_count(s.attacker(), s.ctx(), kEntries);
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE(sixteen_name_walks_of_a_deep_tree_stay_inside_the_export) {
    Siege s;
    constexpr std::size_t kDepth = 48;
    std::string path = s.ctx().export_dir + "/deep";
    BOOST_REQUIRE(::mkdir(path.c_str(), 0755) == 0);
    for (std::size_t i = 0; i < kDepth; ++i) {
        path += "/d";
        BOOST_REQUIRE(::mkdir(path.c_str(), 0755) == 0);
    }
    make_file(path + "/bottom", "bottom\n");
    deep_walks(s.attacker(), s.ctx(), kDepth);
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE(xattr_values_above_64k_get_e2big) {
    Siege s;
    xattr_above_64k(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE(xattrcreate_with_lying_sizes_sets_nothing) {
    Siege s;
    xattrcreate_lying(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE(twrite_counts_beyond_msize_are_refused_and_oversized_frames_close) {
    Siege s;
    twrite_beyond_msize(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE(lock_floods_get_enolck_and_give_back_their_fds) {
    Siege s;
    lock_flood(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE(walks_racing_symlink_and_rename_swaps_never_leave_the_export) {
    Siege s;
    const std::string race = s.ctx().export_dir + "/race";
    BOOST_REQUIRE(::mkdir(race.c_str(), 0755) == 0);
    BOOST_REQUIRE(::mkdir((race + "/a").c_str(), 0755) == 0);
    make_file(race + "/a/x", "inside\n");
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> swaps{0};
    // The host side: "a" is a directory, then a symlink to the outside (and
    // to its parent), then a directory again, as fast as it goes.
    std::thread swapper([&] {
        const std::string a = race + "/a";
        const std::string parked = race + "/parked";
        const std::string targets[] = {s.ctx().outside_dir, s.ctx().outside_dir + "/.."};
        while (!stop) {
            for (const auto& target : targets) {
                if (::rename(a.c_str(), parked.c_str()) != 0) return;
                if (::symlink(target.c_str(), a.c_str()) != 0) return;
                std::this_thread::yield();
                if (::rename(a.c_str(), (race + "/swapped").c_str()) != 0) return;
                if (::rename(parked.c_str(), a.c_str()) != 0) return;
                if (::unlink((race + "/swapped").c_str()) != 0) return;
                ++swaps;
            }
        }
    });
    walk_during_swaps(s.attacker(), s.ctx(), 400);
    stop = true;
    swapper.join();
    BOOST_TEST_MESSAGE("host swaps during the walks: " << swaps.load());
    BOOST_CHECK_GT(swaps.load(), 0u);
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE(a_client_that_never_reads_replies_is_throttled) {
    Siege s({.max_fids = 64, .max_in_flight = 16});
    never_reads_replies(s.attacker(), s.ctx());
    s.check_aftermath();
}

}  // namespace
}  // namespace xen9p::hostile
