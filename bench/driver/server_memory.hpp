// The memory of the processes serving a target, read from /proc: VmRSS when
// idle (after start, before the workloads) and VmHWM, the peak, once every
// workload has run. For xen9pd-ring these are the per-device workers (each a
// keeper and the server it forked; the
// largest of them is reported), for the socket targets the server process.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "bench/driver/target.hpp"

namespace xen9p::bench {

struct ServerMemory {
    std::string target;
    std::size_t processes = 0;     // serving processes seen at the end
    std::size_t idle_rss_kib = 0;  // largest VmRSS before the workloads
    std::size_t peak_hwm_kib = 0;  // largest VmHWM after them
    std::size_t rss_kib = 0;       // largest VmRSS after them
};

// The `Key:   N kB` line of /proc/<pid>/<file> (status, smaps_rollup) in
// KiB, 0 when absent.
std::size_t process_kib(int pid, std::string_view file, std::string_view key);

// The idle snapshot of `target` (processes, idle_rss_kib).
ServerMemory idle_memory(Target& target);
// Adds the peak and final values to `memory`.
void finish_memory(Target& target, ServerMemory& memory);

}  // namespace xen9p::bench
