// `xen9pd serve` run as root confines itself as a worker does: the export as
// its root, a non-root uid (the export's owner unless --uid), no capability
// under `none`, seccomp. --no-sandbox keeps the old behaviour for callers
// that need it.
#define BOOST_TEST_MODULE sandbox_serve
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
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

#include "tests/sandbox/confined_child.hpp"
#include "xenring/client/client.hpp"
#include "xenring/client/operations.hpp"
#include "xenring/client/stream_transport.hpp"

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
    BOOST_TEST(status_field(serve.pid(), "Uid") == uid + "\t" + uid + "\t" + uid + "\t" + uid);
    BOOST_TEST(status_field(serve.pid(), "Gid") == gid + "\t" + gid + "\t" + gid + "\t" + gid);
    BOOST_TEST(status_field(serve.pid(), "CapEff") == "0000000000000000");
    BOOST_TEST(status_field(serve.pid(), "CapPrm") == "0000000000000000");
    BOOST_TEST(status_field(serve.pid(), "NoNewPrivs") == "1");
    BOOST_TEST(status_field(serve.pid(), "Seccomp") == "2");
    const std::filesystem::path root = "/proc/" + std::to_string(serve.pid()) + "/root";
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
    BOOST_TEST(status_field(serve.pid(), "Uid") == uid + "\t" + uid + "\t" + uid + "\t" + uid);
    BOOST_TEST(status_field(serve.pid(), "Seccomp") == "2");
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
