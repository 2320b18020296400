// `xen9pd serve` run as root confines itself as a worker does: PID 1 of a PID
// namespace of its own (in a child of the process started), the export as
// its root, a non-root uid (the export's owner unless --uid), no capability
// under `none`, seccomp. --no-sandbox keeps the old behaviour for callers
// that need it.
#define BOOST_TEST_MODULE sandbox_serve
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.hpp"
#include "client/client.hpp"
#include "client/operations.hpp"
#include "client/stream_transport.hpp"
#include "tests/sandbox/confined_child.hpp"

namespace xen9p::test {
namespace {

std::string status_field(pid_t pid, const std::string& name) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(name + ":")) {
            auto value = line.substr(name.size() + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            return value;
        }
    }
    return "";
}

// The process that serves: serve's child when serve runs it in a PID
// namespace of its own, serve itself when it has no child.
pid_t serving_pid(pid_t serve) {
    const auto pid = std::to_string(serve);
    std::ifstream in("/proc/" + pid + "/task/" + pid + "/children");
    pid_t child = 0;
    return in >> child ? child : serve;
}

std::string pid_namespace(pid_t pid) {
    return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/ns/pid").string();
}

// The pid directories of the private proc instance `pid` holds open (its
// self/fd), as root sees them: root may ptrace everything, so this lists at
// least what the process itself can see there.
std::vector<std::string> pids_in_private_proc(pid_t pid) {
    std::vector<std::string> pids;
    const std::filesystem::path fds = "/proc/" + std::to_string(pid) + "/fd";
    for (const auto& entry : std::filesystem::directory_iterator(fds)) {
        struct statfs fs {};
        if (::statfs(entry.path().c_str(), &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC) continue;
        const UniqueFd fd_dir(::open(entry.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        BOOST_REQUIRE(fd_dir);
        // self/fd -> the instance's root.
        const UniqueFd proc_root(
            ::openat(fd_dir.get(), "../..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        BOOST_REQUIRE(proc_root);
        const std::filesystem::path root = "/proc/self/fd/" + std::to_string(proc_root.get());
        for (const auto& p : std::filesystem::directory_iterator(root)) {
            const auto name = p.path().filename().string();
            if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
                pids.push_back(name);
        }
        return pids;
    }
    BOOST_FAIL("no proc instance among the fds of " << pid);
    return pids;
}

// A process of `uid` that another process of that uid may ptrace (a user's
// shell or editor): what a confined serve must not see. Killed on destruction.
class DumpableProcess {
  public:
    DumpableProcess(uid_t uid, gid_t gid) {
        pid_ = ::fork();
        BOOST_REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            // Changing uid clears the dumpable flag; an exec would set it again.
            if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 ||
                ::setresuid(uid, uid, uid) != 0 || ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
                ::_exit(1);
            for (;;)
                ::pause();
        }
    }
    ~DumpableProcess() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    DumpableProcess(const DumpableProcess&) = delete;
    DumpableProcess& operator=(const DumpableProcess&) = delete;

    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
};

// `xen9pd serve` on a unix socket beside the export; killed and reaped on destruction.
class Serve {
  public:
    Serve(const std::filesystem::path& dir, std::vector<std::string> extra)
        : socket_((dir / "sock").string()), log_((dir / "serve.log").string()) {
        std::vector<std::string> args{XEN9PD_PATH, "serve",
                                      "--export",  (dir / "export").string(),
                                      "--listen",  "unix:" + socket_};
        args.insert(args.end(), extra.begin(), extra.end());
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        BOOST_REQUIRE(log_fd >= 0);
        pid_ = ::fork();
        BOOST_REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::dup2(log_fd, 1);
            ::dup2(log_fd, 2);
            ::execv(XEN9PD_PATH, argv.data());
            ::_exit(127);
        }
        ::close(log_fd);
    }
    ~Serve() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    Serve(const Serve&) = delete;
    Serve& operator=(const Serve&) = delete;

    pid_t pid() const { return pid_; }

    // Connected and attached, or nullopt once the daemon has exited (bounded
    // wait for it to listen, not a timing assertion).
    std::unique_ptr<client::Client> attach() {
        for (int i = 0; i < 500; ++i) {
            if (auto t = client::StreamTransport::connect_unix(socket_); t) {
                auto c = std::make_unique<client::Client>(
                    std::make_unique<client::StreamTransport>(std::move(*t)));
                BOOST_REQUIRE(c->negotiate(65536).has_value());
                BOOST_REQUIRE(client::attach(*c, 0, "root", "", 0).has_value());
                return c;
            }
            if (exited()) return nullptr;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return nullptr;
    }

    // Stops it with SIGTERM; the waitpid status.
    int stop() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        BOOST_REQUIRE(::waitpid(pid_, &status, 0) == pid_);
        pid_ = -1;
        return status;
    }

    // Waits for it to exit by itself; the waitpid status.
    int wait_exit() {
        int status = 0;
        BOOST_REQUIRE(::waitpid(pid_, &status, 0) == pid_);
        pid_ = -1;
        return status;
    }

    std::string log() const {
        std::ifstream in(log_);
        return {std::istreambuf_iterator<char>(in), {}};
    }

  private:
    bool exited() {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
        pid_ = -1;
        return true;
    }

    std::string socket_;
    std::string log_;
    pid_t pid_ = -1;
};

struct ServeDir {
    TempDir dir;
    std::filesystem::path export_dir = dir.path / "export";
    ServeDir() {
        std::filesystem::create_directory(export_dir);
        std::ofstream(export_dir / "marker") << "inside";
        std::ofstream(dir.path / "sentinel") << "outside";
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(serve_run_as_root_confines_itself_to_the_export_as_its_owner) {
    if (::geteuid() != 0) return;
    ServeDir d;
    BOOST_REQUIRE(::chown(d.export_dir.c_str(), kWorkerUid, kWorkerGid) == 0);
    Serve serve(d.dir.path, {});
    auto c = serve.attach();
    BOOST_REQUIRE_MESSAGE(c != nullptr, serve.log());
    const auto uid = std::to_string(kWorkerUid);
    const auto gid = std::to_string(kWorkerGid);
    const pid_t served = serving_pid(serve.pid());
    BOOST_TEST(status_field(served, "Uid") == uid + "\t" + uid + "\t" + uid + "\t" + uid);
    BOOST_TEST(status_field(served, "Gid") == gid + "\t" + gid + "\t" + gid + "\t" + gid);
    BOOST_TEST(status_field(served, "CapEff") == "0000000000000000");
    BOOST_TEST(status_field(served, "CapPrm") == "0000000000000000");
    BOOST_TEST(status_field(served, "NoNewPrivs") == "1");
    BOOST_TEST(status_field(served, "Seccomp") == "2");
    const std::filesystem::path root = "/proc/" + std::to_string(served) + "/root";
    BOOST_TEST(std::filesystem::exists(root / "marker"));
    BOOST_TEST(!std::filesystem::exists(root / d.dir.path.relative_path() / "sentinel"));
    BOOST_TEST(!std::filesystem::exists(root / "etc" / "passwd"));
    // It still serves: the client reads the export's file.
    std::string_view name[] = {"marker"};
    BOOST_REQUIRE(client::walk(*c, 0, 1, name).has_value());
    BOOST_REQUIRE(client::lopen(*c, 1, 0).has_value());
    auto data = client::read_all(*c, 1);
    BOOST_REQUIRE(data.has_value());
    BOOST_TEST(std::string(reinterpret_cast<const char*>(data->data()), data->size()) == "inside");
    c.reset();
    // Stopping makes no call outside the allow-list.
    const int status = serve.stop();
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST((WIFEXITED(status) ? WEXITSTATUS(status) : -1) == 0, serve.log());
}

BOOST_AUTO_TEST_CASE(serve_of_a_root_owned_export_without_a_uid_refuses_to_run_as_root) {
    if (::geteuid() != 0) return;
    ServeDir d;
    Serve serve(d.dir.path, {});
    const int status = serve.wait_exit();
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST((WIFEXITED(status) ? WEXITSTATUS(status) : 0) == 1);
    BOOST_TEST(serve.log().find("--no-sandbox") != std::string::npos, serve.log());
}

BOOST_AUTO_TEST_CASE(serve_confines_itself_to_the_uid_given) {
    if (::geteuid() != 0) return;
    ServeDir d;
    Serve serve(d.dir.path,
                {"--uid", std::to_string(kWorkerUid + 1), "--gid", std::to_string(kWorkerGid)});
    BOOST_REQUIRE_MESSAGE(serve.attach() != nullptr, serve.log());
    const auto uid = std::to_string(kWorkerUid + 1);
    const pid_t served = serving_pid(serve.pid());
    BOOST_TEST(status_field(served, "Uid") == uid + "\t" + uid + "\t" + uid + "\t" + uid);
    BOOST_TEST(status_field(served, "Seccomp") == "2");
}

BOOST_AUTO_TEST_CASE(serve_with_no_sandbox_keeps_the_callers_identity) {
    if (::geteuid() != 0) return;
    ServeDir d;
    Serve serve(d.dir.path, {"--no-sandbox"});
    BOOST_REQUIRE_MESSAGE(serve.attach() != nullptr, serve.log());
    BOOST_TEST(status_field(serve.pid(), "Uid") == "0\t0\t0\t0");
    BOOST_TEST(status_field(serve.pid(), "Seccomp") == "0");
}

}  // namespace xen9p::test

namespace xen9p::test {

// Confined, serve runs as PID 1 of a PID namespace of its own: its private
// proc shows it alone, not every process of its uid, whose /proc/<pid>/root
// and /proc/<pid>/mem led out of the sandbox. SIGTERM to the process started
// stops both with status 0 and leaves no process behind.
BOOST_AUTO_TEST_CASE(confined_serve_sees_no_other_process_of_its_uid) {
    if (::geteuid() != 0) return;
    ServeDir d;
    BOOST_REQUIRE(::chown(d.export_dir.c_str(), kWorkerUid, kWorkerGid) == 0);
    const DumpableProcess victim(kWorkerUid, kWorkerGid);
    Serve serve(d.dir.path, {});
    BOOST_REQUIRE_MESSAGE(serve.attach() != nullptr, serve.log());
    const pid_t served = serving_pid(serve.pid());
    const auto uid = std::to_string(kWorkerUid);
    BOOST_REQUIRE(status_field(served, "Uid") == uid + "\t" + uid + "\t" + uid + "\t" + uid);
    BOOST_REQUIRE(status_field(victim.pid(), "Uid") == uid + "\t" + uid + "\t" + uid + "\t" + uid);
    BOOST_TEST(pid_namespace(served) != pid_namespace(::getpid()));
    // Its pid on the host, then 1 in its own namespace.
    BOOST_TEST(status_field(served, "NSpid") == std::to_string(served) + "\t1");
    // The other process has no pid in serve's namespace.
    BOOST_TEST(status_field(victim.pid(), "NSpid") == std::to_string(victim.pid()));
    BOOST_TEST(pids_in_private_proc(served) == std::vector<std::string>{"1"});

    const int status = serve.stop();
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST((WIFEXITED(status) ? WEXITSTATUS(status) : -1) == 0, serve.log());
    BOOST_TEST((::kill(served, 0) == -1 && errno == ESRCH));
}

// However the process started ends (here SIGKILL, which it cannot pass on),
// the serving process in its PID namespace ends with it.
BOOST_AUTO_TEST_CASE(confined_serve_dies_with_the_process_that_started_it) {
    if (::geteuid() != 0) return;
    ServeDir d;
    BOOST_REQUIRE(::chown(d.export_dir.c_str(), kWorkerUid, kWorkerGid) == 0);
    // Orphans come to this process, so the test can collect the serving one.
    BOOST_REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0);
    Serve serve(d.dir.path, {});
    BOOST_REQUIRE_MESSAGE(serve.attach() != nullptr, serve.log());
    const pid_t served = serving_pid(serve.pid());
    BOOST_REQUIRE_MESSAGE(served != serve.pid(), "serve has no serving child");
    ::kill(serve.pid(), SIGKILL);
    serve.wait_exit();
    // Bounded wait for the kernel's parent-death signal, not a timing check.
    int status = 0;
    pid_t reaped = 0;
    for (int i = 0; i < 1000 && reaped == 0; ++i) {
        reaped = ::waitpid(served, &status, WNOHANG);
        if (reaped == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (reaped == 0) {
        ::kill(served, SIGKILL);
        ::waitpid(served, nullptr, 0);
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
    BOOST_TEST(reaped == served);
    BOOST_TEST(WIFSIGNALED(status));
    BOOST_TEST((WIFSIGNALED(status) ? WTERMSIG(status) : 0) == SIGKILL);
}

}  // namespace xen9p::test
