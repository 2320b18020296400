#include "bench/driver/server_memory.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace xen9p::bench {
namespace {

// A `Key:   N kB` line of /proc/<pid>/status, 0 when absent.
std::size_t status_kib(int pid, std::string_view key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
            return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
    }
    return 0;
}

}  // namespace

ServerMemory idle_memory(Target& target) {
    ServerMemory m;
    m.target = target.name();
    // A ring target's worker starts when its guest connects (and stays).
    (void)target.connect(0);
    const auto pids = target.serving_pids();
    m.processes = pids.size();
    for (int pid : pids)
        m.idle_rss_kib = std::max(m.idle_rss_kib, status_kib(pid, "VmRSS"));
    return m;
}

void finish_memory(Target& target, ServerMemory& memory) {
    const auto pids = target.serving_pids();
    memory.processes = pids.size();
    for (int pid : pids) {
        memory.peak_hwm_kib = std::max(memory.peak_hwm_kib, status_kib(pid, "VmHWM"));
        memory.rss_kib = std::max(memory.rss_kib, status_kib(pid, "VmRSS"));
    }
}

}  // namespace xen9p::bench
