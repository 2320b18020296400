#include "bench/driver/server_memory.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace xen9p::bench {

std::size_t process_kib(int pid, std::string_view file, std::string_view key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/" + std::string(file));
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
            return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
    }
    return 0;
}

ServerMemory idle_memory(Target& target) {
    ServerMemory m;
    m.target = target.name();
    // A ring target's worker starts when its guest connects (and stays).
    (void)target.connect(0);
    const auto pids = target.serving_pids();
    m.processes = pids.size();
    for (int pid : pids)
        m.idle_rss_kib = std::max(m.idle_rss_kib, process_kib(pid, "status", "VmRSS"));
    return m;
}

void finish_memory(Target& target, ServerMemory& memory) {
    const auto pids = target.serving_pids();
    memory.processes = pids.size();
    for (int pid : pids) {
        memory.peak_hwm_kib = std::max(memory.peak_hwm_kib, process_kib(pid, "status", "VmHWM"));
        memory.rss_kib = std::max(memory.rss_kib, process_kib(pid, "status", "VmRSS"));
    }
}

}  // namespace xen9p::bench
