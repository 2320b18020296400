// diod's own client tools (diodls, diodcat) against `xen9pd serve` on a unix
// socket: they send Tauth first and go on only on Rlerror(ENOENT), then list
// directories and read files at the msize given.
#define BOOST_TEST_MODULE diod_tools
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>
#include <thread>

#include "base/unique_fd.hpp"
#include "tests/server/server_fixture.hpp"

extern char** environ;

namespace xen9p::server::test {
namespace {

// `xen9pd serve` as a child process, killed and reaped on destruction.
class Daemon {
  public:
    Daemon(const std::string& export_dir, const std::string& socket) : socket_(socket) {
        std::vector<std::string> args{XEN9PD_PATH, "serve", "--export", export_dir, "--listen",
                                      "unix:" + socket, "--log-level", "warning",
                                      // The file layer alone is under test here.
                                      "--no-sandbox"};
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        BOOST_REQUIRE(::posix_spawn(&pid_, XEN9PD_PATH, nullptr, nullptr, argv.data(), environ) ==
                      0);
        // Ready once it accepts a connection: the socket file exists from
        // bind(), before listen() (bounded wait, not a timing assertion).
        bool listening = false;
        for (int i = 0; i < 500 && !(listening = accepts(socket)); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        BOOST_REQUIRE(listening);
    }
    ~Daemon() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

  private:
    static bool accepts(const std::string& path) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path.copy(addr.sun_path, sizeof addr.sun_path - 1);
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }

    std::string socket_;
    pid_t pid_ = -1;
};

struct Output {
    int status = -1;
    std::string text;
};

// Runs a shell command line, returning its exit status and stdout.
Output run(const std::string& command) {
    Output out;
    FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
    BOOST_REQUIRE(pipe != nullptr);
    std::array<char, 4096> buffer;
    std::size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
        out.text.append(buffer.data(), n);
    int status = ::pclose(pipe);
    out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return out;
}

std::set<std::string> lines(const std::string& text) {
    std::set<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.insert(line);
    return out;
}

struct DiodFx {
    DiodFx() : export_dir(top / "export"), socket(top / "sock") {
        BOOST_REQUIRE(::mkdir(export_dir.c_str(), 0755) == 0);
        BOOST_REQUIRE(::mkdir((export_dir + "/sub").c_str(), 0755) == 0);
        write_file(export_dir + "/hello.txt", "hello, diod\n");
        std::string big(700001, '\0');
        for (std::size_t i = 0; i < big.size(); ++i)
            big[i] = static_cast<char>(i * 7919 % 253);
        write_file(export_dir + "/sub/big.bin", big);
        daemon.emplace(export_dir, socket);
    }
    std::string tool(std::string_view name, const std::string& args,
                     const std::string& aname = "") const {
        return std::string(name) + " -t 10 -s " + socket + " -a " +
               (aname.empty() ? export_dir : aname) + " " + args;
    }

    TempDir top;
    std::string export_dir;
    std::string socket;
    std::optional<Daemon> daemon;
};

std::string checksum(const std::string& command) {
    return run(command + " | md5sum").text;
}

}  // namespace

BOOST_AUTO_TEST_CASE(diodls_lists_the_export_and_a_subdirectory) {
    DiodFx fx;
    auto root = run(fx.tool(DIODLS_PATH, "/"));
    BOOST_TEST(root.status == 0);
    auto names = lines(root.text);
    BOOST_TEST(names.contains("hello.txt"));
    BOOST_TEST(names.contains("sub"));
    auto sub = run(fx.tool(DIODLS_PATH, "/sub"));
    BOOST_TEST(sub.status == 0);
    BOOST_TEST(lines(sub.text).contains("big.bin"));
}

BOOST_AUTO_TEST_CASE(diodcat_reads_files_intact_at_several_msizes) {
    DiodFx fx;
    BOOST_TEST(run(fx.tool(DIODCAT_PATH, "/hello.txt")).text == "hello, diod\n");
    std::string expected = checksum("cat " + fx.export_dir + "/sub/big.bin");
    for (int msize : {4096, 8192, 65536, 1048576}) {
        BOOST_TEST_CONTEXT("msize " << msize) {
            BOOST_TEST(checksum(fx.tool(DIODCAT_PATH, "-m " + std::to_string(msize) +
                                                          " /sub/big.bin")) == expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(diod_tools_fail_on_missing_files_and_a_wrong_aname) {
    DiodFx fx;
    BOOST_TEST(run(fx.tool(DIODCAT_PATH, "/no-such-file")).status != 0);
    BOOST_TEST(run(fx.tool(DIODLS_PATH, "/no-such-dir")).status != 0);
    BOOST_TEST(run(fx.tool(DIODLS_PATH, "/", "/not/the/export")).status != 0);
    // The daemon still serves after those errors.
    BOOST_TEST(run(fx.tool(DIODCAT_PATH, "/hello.txt")).text == "hello, diod\n");
}

}  // namespace xen9p::server::test
