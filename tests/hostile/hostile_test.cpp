// The malicious-client suite against xen9pd over each transport: `xen9pd
// serve` on a unix socket, and a worker of `xen9pd run` on the Xen rings of the
// simulated platform. Each case starts a daemon, runs one attack on one
// connection, and checks the aftermath: the daemon lives, its peak memory
// stayed within a bound over its start, and a new client is served. Attacks
// live in attacks.cpp.
#define BOOST_TEST_MODULE hostile
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/mpl/list.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "client/client.hpp"
#include "client/operations.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/hostile/attacks.hpp"
#include "tests/hostile/daemon_process.hpp"
#include "tests/hostile/ring_daemon.hpp"

namespace xen9p::hostile {

// The transports: the daemon under attack, how the attacker connects and how
// its connection is cut from the client side.
struct OverSocket {
    using Daemon = DaemonProcess;
    using Attacker = client::StreamTransport;
    static std::unique_ptr<Daemon> start(DaemonLimits limits) {
        return std::make_unique<Daemon>(limits);
    }
    static std::unique_ptr<Attacker> attacker(Daemon& daemon) { return daemon.connect(); }
    static void cut(Attacker& attacker) { ::shutdown(attacker.fd(), SHUT_RDWR); }
};

struct OverRing {
    using Daemon = RingDaemon;
    using Attacker = AttackerRing;
    // The worker's own limits hold; ctx().limits says which.
    static std::unique_ptr<Daemon> start(DaemonLimits) { return std::make_unique<Daemon>(); }
    static std::unique_ptr<Attacker> attacker(Daemon& daemon) { return daemon.attacker(); }
    static void cut(Attacker& attacker) { attacker.cut(); }
};

using Transports = boost::mpl::list<OverSocket, OverRing>;

namespace {

// Peak memory the daemon may add over its start during one attack: its
// slots are max_in_flight x 2 x msize (2 MiB for `serve` here, 32 MiB for a
// worker's 256); the rest is slack for the sanitizer build's allocator.
constexpr std::size_t kMemoryBoundKib = 64 * 1024;

struct IgnoreSigpipe {
    // A connection the daemon closed must fail a send, not kill the test.
    IgnoreSigpipe() { ::signal(SIGPIPE, SIG_IGN); }
};
BOOST_TEST_GLOBAL_FIXTURE(IgnoreSigpipe);

template <class Over>
class Siege {
  public:
    explicit Siege(DaemonLimits limits = {}) : daemon_(Over::start(limits)) {
        attacker_ = Over::attacker(*daemon_);
        ctx_.limits = daemon_->limits();
        ctx_.export_dir = daemon_->export_dir();
        ctx_.outside_dir = daemon_->outside_dir();
        ctx_.second_client_works = [this] { witness(); };
        ctx_.cut_attacker = [this] { Over::cut(*attacker_); };
        ctx_.memory = [this] { return daemon_->memory(); };
        ctx_.open_fds = [this] { return daemon_->open_fds(); };
        start_ = daemon_->memory();
    }

    client::ClientTransport& attacker() { return *attacker_; }
    const AttackContext& ctx() const { return ctx_; }
    typename Over::Daemon& daemon() { return *daemon_; }

    // A second connection reads the witness file.
    void witness() {
        client::Client c(daemon_->connect());
        BOOST_REQUIRE(c.negotiate(8192).has_value());
        BOOST_REQUIRE(client::attach(c, 0, "root", "", 0).has_value());
        const std::string_view name[] = {"witness"};
        BOOST_REQUIRE(client::walk(c, 0, 1, name).has_value());
        BOOST_REQUIRE(client::lopen(c, 1, p9proto::dotl::kRdonly).has_value());
        auto data = client::read_all(c, 1);
        BOOST_REQUIRE(data.has_value());
        BOOST_CHECK_EQUAL(std::string(reinterpret_cast<const char*>(data->data()), data->size()),
                          DaemonProcess::kWitnessText);
        BOOST_CHECK(client::clunk(c, 1).has_value());
    }

    // The daemon survived within its memory bound and still serves.
    void check_aftermath() {
        const Memory now = daemon_->memory();
        BOOST_TEST_MESSAGE("xen9pd memory: start VmRSS " << start_.rss_kib << " KiB, peak VmHWM "
                                                         << now.hwm_kib << " KiB");
        BOOST_CHECK(daemon_->running());
        BOOST_CHECK_LT(now.hwm_kib, start_.rss_kib + kMemoryBoundKib);
        witness();
    }

  private:
    std::unique_ptr<typename Over::Daemon> daemon_;
    std::unique_ptr<typename Over::Attacker> attacker_;
    AttackContext ctx_;
    Memory start_;
};

void make_file(const std::string& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    BOOST_REQUIRE(out.good());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(fid_flood_gets_emfile_past_max_fids, Over, Transports) {
    Siege<Over> s({.max_fids = 300, .max_in_flight = 16});
    fid_flood(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(tag_flood_answers_every_tag_once_within_max_in_flight, Over,
                              Transports) {
    Siege<Over> s({.max_fids = 64, .max_in_flight = 16});
    tag_flood(s.attacker(), s.ctx());
    s.check_aftermath();
    s.ctx().cut_attacker();
    s.witness();  // over a socket, the attacker's session has ended and been logged by now
    BOOST_CHECK_GT(s.daemon().max_in_flight_seen(), 0u);
    BOOST_CHECK_LE(s.daemon().max_in_flight_seen(), s.ctx().limits.max_in_flight);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(readdir_with_tiny_counts_on_a_huge_directory_stays_within_count, Over,
                              Transports) {
    Siege<Over> s;
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

BOOST_AUTO_TEST_CASE_TEMPLATE(sixteen_name_walks_of_a_deep_tree_stay_inside_the_export, Over,
                              Transports) {
    Siege<Over> s;
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

BOOST_AUTO_TEST_CASE_TEMPLATE(xattr_values_above_64k_get_e2big, Over, Transports) {
    Siege<Over> s;
    xattr_above_64k(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(xattrcreate_with_lying_sizes_sets_nothing, Over, Transports) {
    Siege<Over> s;
    xattrcreate_lying(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(twrite_counts_beyond_msize_are_refused_and_oversized_frames_close,
                              Over, Transports) {
    Siege<Over> s;
    twrite_beyond_msize(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(lock_floods_get_enolck_and_give_back_their_fds, Over, Transports) {
    Siege<Over> s;
    lock_flood(s.attacker(), s.ctx());
    s.check_aftermath();
}

BOOST_AUTO_TEST_CASE_TEMPLATE(walks_racing_symlink_and_rename_swaps_never_leave_the_export, Over,
                              Transports) {
    Siege<Over> s;
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

BOOST_AUTO_TEST_CASE_TEMPLATE(a_client_that_never_reads_replies_is_throttled, Over, Transports) {
    Siege<Over> s({.max_fids = 64, .max_in_flight = 16});
    never_reads_replies(s.attacker(), s.ctx());
    s.check_aftermath();
}

}  // namespace
}  // namespace xen9p::hostile
