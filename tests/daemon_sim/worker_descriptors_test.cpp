// What a worker holds of the supervisor, and what it can make the supervisor
// do through what it holds: its descriptors are its own (pipes, sockets,
// anonymous, on its export's mount or in its private proc), its output
// reaches the log through the supervisor at a bounded rate and attributed
// to its device, and a flood on its control socket costs the supervisor
// little time.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <set>
#include <thread>

#include "tests/daemon_sim/daemon_fixture.hpp"
#include "tests/daemon_sim/rogue_worker.hpp"

namespace xen9p::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The mount ids of the mounts in `pid`'s mount namespace.
std::set<std::string> mount_ids(pid_t pid) {
    std::ifstream info("/proc/" + std::to_string(pid) + "/mountinfo");
    std::set<std::string> ids;
    for (std::string line; std::getline(info, line);)
        ids.insert(line.substr(0, line.find(' ')));
    return ids;
}

// The mnt_id of `pid`'s descriptor `fd`.
std::string fd_mount_id(pid_t pid, const std::string& fd) {
    std::ifstream info("/proc/" + std::to_string(pid) + "/fdinfo/" + fd);
    for (std::string line; std::getline(info, line);)
        if (line.starts_with("mnt_id:")) return line.substr(line.find_first_not_of(" \t", 7));
    return "";
}

bool same_file(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::size_t count_lines(const std::string& text, std::string_view a, std::string_view b = "") {
    std::istringstream lines(text);
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line);)
        n += line.find(a) != std::string::npos && line.find(b) != std::string::npos;
    return n;
}

// utime + stime of `pid`, in clock ticks.
long cpu_ticks(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string field;
    long ticks = 0;
    // Fields 14 and 15 of stat(5); the stream starts at field 3.
    for (int i = 3; i <= 15 && fields >> field; ++i)
        if (i >= 14) ticks += std::stol(field);
    return ticks;
}

struct RogueWorkerFixture : DaemonFixture {
    RogueWorkerFixture() : DaemonFixture(XEN9PD_ROGUE_BINARY) {}
};

}  // namespace

BOOST_AUTO_TEST_CASE(worker_holds_no_descriptor_of_the_supervisor_or_its_parent) {
    DaemonFixture f{DaemonFixture::StartLater{}};
    // A descriptor the admin's shell left open: the daemon inherits it.
    const auto stray_path = f.sim->dir() / "stray";
    const int stray = ::open(stray_path.c_str(), O_CREAT | O_RDWR, 0600);
    BOOST_REQUIRE(stray >= 0);
    const auto started = f.sim->start_daemon({"--log-level", "debug"});
    ::close(stray);
    must(started);
    const auto share = f.add_guest(1);
    auto c = f.mount(1);
    const auto pid = f.wait_server(1);
    BOOST_REQUIRE(pid);

    struct stat log_file {
    }, stray_file{}, dev_null{};
    BOOST_REQUIRE(::stat(f.sim->daemon_log().c_str(), &log_file) == 0);
    BOOST_REQUIRE(::stat(stray_path.c_str(), &stray_file) == 0);
    BOOST_REQUIRE(::stat("/dev/null", &dev_null) == 0);
    struct stat host_proc {};
    BOOST_REQUIRE(::stat("/proc/self", &host_proc) == 0);
    const auto own_mounts = mount_ids(*pid);
    const auto fds = "/proc/" + std::to_string(*pid) + "/fd";
    std::size_t seen = 0;
    for (const auto& entry : fs::directory_iterator(fds)) {
        const auto fd = entry.path().filename().string();
        std::error_code ec;
        const auto target = fs::read_symlink(entry.path(), ec).string();
        if (ec) continue;  // closed meanwhile
        ++seen;
        struct stat st {};
        BOOST_REQUIRE(::stat(entry.path().c_str(), &st) == 0);
        BOOST_TEST_CONTEXT("worker fd " << fd << " -> " << target) {
            BOOST_TEST(!same_file(st, log_file), "not the supervisor's log");
            BOOST_TEST(!same_file(st, stray_file), "not the daemon's stray descriptor");
            BOOST_TEST(!same_file(st, dev_null), "not /dev/null");
            BOOST_TEST(!S_ISCHR(st.st_mode), "no device (tty, /dev/null)");
            if (fd == "0" || fd == "1" || fd == "2") BOOST_TEST(S_ISFIFO(st.st_mode), "a pipe");
            const bool anonymous = target.starts_with("pipe:") || target.starts_with("socket:") ||
                                   target.starts_with("anon_inode:");
            // The private proc may be a detached mount, in no namespace.
            struct statfs sf {};
            const bool private_proc = ::statfs(entry.path().c_str(), &sf) == 0 &&
                                      sf.f_type == PROC_SUPER_MAGIC &&
                                      st.st_dev != host_proc.st_dev;
            if (!anonymous && !private_proc)
                BOOST_TEST(own_mounts.contains(fd_mount_id(*pid, fd)),
                           "on a mount of the worker's own (its export)");
        }
    }
    BOOST_TEST(seen >= 4u);
    (void)share;
}

BOOST_FIXTURE_TEST_SUITE(worker_output, RogueWorkerFixture)

BOOST_AUTO_TEST_CASE(worker_output_is_logged_for_its_device_at_a_bounded_rate) {
    const auto rogue_export = add_guest(1, std::string(kFloodsOutputTag));
    add_guest(2);
    auto other = mount(2);
    auto rogue = must(sim->connect(1, 0, 3s));
    const auto start = std::chrono::steady_clock::now();
    std::ofstream(rogue_export / kMisbehaveNow).close();
    BOOST_REQUIRE(simxen::wait_until([&] { return !exists(rogue_export / kMisbehaveNow); }));
    check_other_guests_served(3, 2);
    std::this_thread::sleep_for(2s);
    const auto log = daemon_log();
    const auto seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // The forged line is the worker's, quoted in a line of its own device.
    BOOST_TEST(count_lines(log, "msg=\"forged by worker\"") == 0u);
    BOOST_TEST(count_lines(log, "device=9pfs/1/0", "forged by worker") == 1u);
    // The device's bucket for its workers' lines: 20, then 5 a second.
    const auto flood = count_lines(log, "flood line from worker");
    BOOST_TEST_MESSAGE("flood lines logged in " << seconds << " s: " << flood << " of "
                                                << kFloodLines);
    BOOST_TEST(flood >= 1u);
    BOOST_TEST(flood <= static_cast<std::size_t>(20 + 5 * seconds + 5));
    BOOST_TEST(count_lines(log, "flood line from worker", "device=9pfs/1/0") == flood);
    BOOST_TEST(count_lines(log, "device=9pfs/1/0", "log lines dropped by the rate limit") >= 1u);
}

BOOST_AUTO_TEST_CASE(worker_flooding_its_control_socket_costs_the_supervisor_little) {
    const auto rogue_export = add_guest(1, std::string(kFloodsControlTag));
    add_guest(2);
    auto other = mount(2);
    auto rogue = must(sim->connect(1, 0, 3s));
    const pid_t daemon = sim->daemon()->pid();
    const auto before = cpu_ticks(daemon);
    std::ofstream(rogue_export / kMisbehaveNow).close();
    BOOST_REQUIRE(simxen::wait_until([&] { return !exists(rogue_export / kMisbehaveNow); }));
    std::this_thread::sleep_for(3s);
    const auto used = static_cast<double>(cpu_ticks(daemon) - before) /
                      static_cast<double>(::sysconf(_SC_CLK_TCK));
    BOOST_TEST_MESSAGE("supervisor CPU during 3 s of flood: " << used << " s");
    BOOST_TEST(used < 0.5);
    check_other_guests_served(3, 2);
    BOOST_TEST(count_lines(daemon_log(), "device=9pfs/1/0", "sends faster than it reports") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
