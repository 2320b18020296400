// The CPU time the processes serving a target have used (user and system, all
// their threads, io_uring's helper threads included), read from
// /proc/<pid>/stat: taken before and after a workload, it gives what each op
// cost the server.
#pragma once

#include <optional>

#include "bench/driver/target.hpp"

namespace xen9p::bench {

// Seconds the live threads of `pid` have run, to the nanosecond (from their
// schedstat; threads that exited are not counted): fine enough to tell an
// idle process's 0 from the 10 ms ticks of /proc/<pid>/stat. 0 when it is gone.
double live_threads_cpu_seconds(int pid);

// Seconds of CPU of every serving process of `target`; nullopt when it has none.
std::optional<double> server_cpu_seconds(Target& target);

}  // namespace xen9p::bench
