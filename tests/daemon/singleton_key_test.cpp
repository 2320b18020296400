// Which pid in libxl's xen-9pfs/pid key is a live 9pfs daemon: another
// xen9pd or the stock xen-9pfsd, never a dead pid, a pid the kernel gave to
// an unrelated process since, or one of xen9pd's own workers.
#define BOOST_TEST_MODULE singleton_key
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backend/supervisor/singleton_key.hpp"

namespace fs = std::filesystem;
using xen9p::supervisor::is_nine_pfs_daemon;

extern char** environ;

namespace {

// A child running `argv` in `dir`, killed and reaped at the end of the scope.
class Child {
  public:
    Child(const fs::path& dir, std::vector<std::string> argv) {
        std::vector<char*> raw;
        for (auto& a : argv)
            raw.push_back(a.data());
        raw.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
        BOOST_REQUIRE(::posix_spawn(&pid_, raw[0], &actions, nullptr, raw.data(), environ) == 0);
        posix_spawn_file_actions_destroy(&actions);
        // Until exec has happened /proc/<pid>/exe is still the test's, and
        // for a moment during exec the new image has no arguments yet.
        BOOST_REQUIRE(wait_for_exec(fs::path(argv[0])));
    }
    ~Child() { reap(); }
    pid_t pid() const { return pid_; }
    void reap() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

  private:
    bool wait_for_exec(const fs::path& program) {
        const auto proc = "/proc/" + std::to_string(pid_);
        for (int i = 0; i < 500; ++i) {
            std::error_code ec;
            std::ifstream cmdline(proc + "/cmdline");
            if (fs::equivalent(proc + "/exe", program, ec) && cmdline.peek() != EOF) return true;
            ::usleep(10'000);
        }
        return false;
    }
    pid_t pid_ = -1;
};

struct Programs {
    Programs() {
        dir = fs::temp_directory_path() / ("singleton_key_test." + std::to_string(::getpid()));
        fs::create_directories(dir);
        // Copies of sh play the daemons: a copy is its own executable file.
        fs::copy_file("/bin/sh", dir / "xen9pd");
        fs::copy_file("/bin/sh", dir / "xen-9pfsd.distrib");
        fs::copy_file("/bin/sh", dir / "unrelated");
        std::ofstream(dir / "worker") << "sleep 60\n";
    }
    ~Programs() { fs::remove_all(dir); }
    fs::path dir;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(pid_in_the_key, Programs)

BOOST_AUTO_TEST_CASE(another_xen9pd_daemon_is_a_daemon) {
    Child daemon(dir, {(dir / "xen9pd").string(), "-c", "sleep 60"});
    BOOST_TEST(is_nine_pfs_daemon(daemon.pid(), dir / "xen9pd"));
}

BOOST_AUTO_TEST_CASE(the_stock_xen_9pfsd_also_when_diverted_is_a_daemon) {
    Child stock(dir, {(dir / "xen-9pfsd.distrib").string(), "-c", "sleep 60"});
    BOOST_TEST(is_nine_pfs_daemon(stock.pid(), dir / "xen9pd"));
}

BOOST_AUTO_TEST_CASE(a_reused_pid_of_an_unrelated_process_is_not) {
    Child other(dir, {(dir / "unrelated").string(), "-c", "sleep 60"});
    BOOST_TEST(!is_nine_pfs_daemon(other.pid(), dir / "xen9pd"));
}

BOOST_AUTO_TEST_CASE(a_worker_of_xen9pd_is_not_the_daemon) {
    // argv {xen9pd, "worker"}: sh runs the script named worker in `dir`.
    Child worker(dir, {(dir / "xen9pd").string(), "worker"});
    BOOST_TEST(!is_nine_pfs_daemon(worker.pid(), dir / "xen9pd"));
}

BOOST_AUTO_TEST_CASE(a_dead_pid_is_not) {
    Child gone(dir, {(dir / "xen9pd").string(), "-c", "sleep 60"});
    const pid_t pid = gone.pid();
    gone.reap();
    BOOST_TEST(!is_nine_pfs_daemon(pid, dir / "xen9pd"));
    BOOST_TEST(!is_nine_pfs_daemon(0, dir / "xen9pd"));
    BOOST_TEST(!is_nine_pfs_daemon(-1, dir / "xen9pd"));
}

BOOST_AUTO_TEST_SUITE_END()
