#include "bench/driver/server_cpu.hpp"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace xen9p::bench {
namespace {

// utime + stime of /proc/<pid>/stat in clock ticks; fields 14 and 15, counted
// after the command name's closing parenthesis (the name may hold spaces).
std::optional<unsigned long long> cpu_ticks(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(in, stat)) return std::nullopt;
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i < 14 && fields >> field; ++i) {
    }
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    if (!(fields >> utime >> stime)) return std::nullopt;
    return utime + stime;
}

}  // namespace

double live_threads_cpu_seconds(int pid) {
    namespace fsys = std::filesystem;
    std::error_code ec;
    std::uint64_t ns = 0;
    for (fsys::directory_iterator it("/proc/" + std::to_string(pid) + "/task", ec), end;
         !ec && it != end; it.increment(ec)) {
        std::ifstream in(it->path() / "schedstat");
        std::uint64_t run = 0;
        if (in >> run) ns += run;
    }
    return static_cast<double>(ns) / 1e9;
}

std::optional<double> server_cpu_seconds(Target& target) {
    const auto pids = target.serving_pids();
    if (pids.empty()) return std::nullopt;
    unsigned long long ticks = 0;
    for (int pid : pids) {
        auto t = cpu_ticks(pid);
        if (!t) return std::nullopt;
        ticks += *t;
    }
    return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace xen9p::bench
