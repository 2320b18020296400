#include "tests/hostile/daemon_process.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace xen9p::hostile {

namespace {

void write_file(const std::string& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    BOOST_REQUIRE(out.good());
}

std::size_t status_kib(pid_t pid, std::string_view key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
            return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
    }
    return 0;
}

}  // namespace

DaemonProcess::DaemonProcess(DaemonLimits limits) : limits_(limits) {
    char tmpl[] = "/dev/shm/xen9p_hostile_XXXXXX";
    BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    top_ = tmpl;
    export_ = top_ + "/export";
    outside_ = top_ + "/outside";
    socket_ = top_ + "/sock";
    log_ = top_ + "/daemon.log";
    BOOST_REQUIRE(::mkdir(export_.c_str(), 0755) == 0);
    BOOST_REQUIRE(::mkdir(outside_.c_str(), 0755) == 0);
    write_file(export_ + "/witness", kWitnessText);
    write_file(outside_ + "/secret", kSecretText);

    std::vector<std::string> args = {XEN9PD_PATH, "serve", "--export", export_, "--listen",
                                     "unix:" + socket_, "--max-fids",
                                     std::to_string(limits.max_fids), "--max-in-flight",
                                     std::to_string(limits.max_in_flight), "--log-level", "info",
                                     // The file layer must hold without the sandbox.
                                     "--no-sandbox"};
    if (limits.max_memory_mib != 0)
        args.insert(args.end(), {"--max-memory", std::to_string(limits.max_memory_mib)});
    if (limits.max_connections != 0)
        args.insert(args.end(), {"--max-connections", std::to_string(limits.max_connections)});
    const rlimit nofile{limits.max_open_files, limits.max_open_files};
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // Prepared before fork: the child only makes async-signal-safe calls.
    std::string asan = "ASAN_OPTIONS=quarantine_size_mb=8";
    if (const char* outer = std::getenv("ASAN_OPTIONS")) asan += std::string(":") + outer;
    std::vector<std::string> env_strings = {asan};
    for (char** e = environ; *e != nullptr; ++e) {
        if (!std::string_view(*e).starts_with("ASAN_OPTIONS=")) env_strings.emplace_back(*e);
    }
    std::vector<char*> envp;
    for (auto& e : env_strings)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    BOOST_REQUIRE(log_fd >= 0);

    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        // Dies with the test (a crashed test must not leave it holding ctest's pipes).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
        if (nofile.rlim_cur != 0 && ::setrlimit(RLIMIT_NOFILE, &nofile) != 0) ::_exit(126);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(log_fd);
    // Ready once a connection is accepted (bounded: a daemon that exits fails the test).
    for (int i = 0; i < 2000; ++i) {
        if (auto t = client::StreamTransport::connect_unix(socket_); t) return;
        BOOST_REQUIRE_MESSAGE(running(), "xen9pd exited at start");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    BOOST_FAIL("xen9pd never accepted a connection");
}

DaemonProcess::~DaemonProcess() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 400 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (::waitpid(pid_, &status, WNOHANG) == 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
        }
    }
    ::nftw(
        top_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 64,
        FTW_DEPTH | FTW_PHYS);
}

std::unique_ptr<client::StreamTransport> DaemonProcess::connect() const {
    auto t = client::StreamTransport::connect_unix(socket_);
    BOOST_REQUIRE_MESSAGE(t.has_value(), "cannot connect to xen9pd");
    return std::make_unique<client::StreamTransport>(std::move(*t));
}

Memory memory_of(pid_t pid) {
    return {status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")};
}

std::size_t open_fds_of(pid_t pid) {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++n;
    return n;
}

Memory DaemonProcess::memory() const {
    return memory_of(pid_);
}

std::size_t DaemonProcess::open_fds() const {
    return open_fds_of(pid_);
}

bool DaemonProcess::running() const {
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
}

std::size_t DaemonProcess::max_in_flight_seen() const {
    std::ifstream in(log_);
    std::string line;
    std::size_t most = 0;
    constexpr std::string_view kKey = "max_in_flight=";
    while (std::getline(in, line)) {
        if (line.find("session ended") == std::string::npos) continue;
        if (auto at = line.find(kKey); at != std::string::npos)
            most = std::max<std::size_t>(
                most, std::strtoull(line.c_str() + at + kKey.size(), nullptr, 10));
    }
    return most;
}

std::vector<std::string> DaemonProcess::log_lines() const {
    std::ifstream in(log_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(std::move(line));
    return lines;
}

double DaemonProcess::cpu_seconds() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the command (which may hold spaces) end with ')'; utime and
    // stime are the 14th and 15th fields, the 12th and 13th after it.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    unsigned long long ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i >= 14) ticks += std::stoull(field);
    }
    return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace xen9p::hostile
