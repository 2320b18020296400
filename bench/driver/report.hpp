// The run's outputs: JSON (everything), a markdown table with the ratios, and a
// whitespace-separated data file the gnuplot script turns into the PNG.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench/driver/fleet.hpp"
#include "bench/driver/server_memory.hpp"
#include "bench/driver/workloads.hpp"

namespace xen9p::bench {

struct RunInfo {
    std::string mode;  // "default", "quick" or "smoke"
    std::string started_utc;
    double load_before[3]{};
    double load_after[3]{};
    unsigned cpus = 0;
    std::uint32_t msize = 0;
    WorkloadConfig config;
    std::vector<std::string> targets;  // in column order
    std::vector<ServerMemory> memory;  // per target that has serving processes
    // CPU its serving processes used during a second with nothing to do
    // after the workloads (ms per s), per target that has them.
    std::vector<std::pair<std::string, double>> idle_cpu_ms_per_s;
    std::vector<FleetPoint> fleet;  // the many-guests runs, by size
};

std::string to_json(const RunInfo& info, const std::vector<Measurement>& results);

// One row per workload, one column per target, then xen9pd/diod and
// xen9pd/direct for each xen9pd target; memcpy bandwidth below the table,
// the servers' CPU per op and while idle, their memory, then the targets of
// issues #9 and #18 for xen9pd-ring (met or missed), the many-guests table
// and its targets. The JSON carries
// the same targets as "goals".
std::string to_markdown(const RunInfo& info, const std::vector<Measurement>& results);

// Header line of target names, then per workload each non-direct target's
// value divided by direct's ("-" when missing).
std::string to_plot_data(const RunInfo& info, const std::vector<Measurement>& results);

// The scaling runs for a log-log plot: one block per family (gnuplot's
// `index`), a header line (the family's name, then the targets), then per
// size the µs per op of each target ("-" where not measured).
std::string to_scaling_plot_data(const RunInfo& info, const std::vector<Measurement>& results);

// The many-guests runs for fleet.gp: a header line, then per fleet size the
// guests, attach time (s), supervisor idle RSS, largest worker idle RSS and
// peak, all workers' idle PSS (MiB), aggregate sequential (MiB/s) and random
// (k ops/s) reads, the light guest's p99 alone and busy (µs); "" without runs.
std::string to_fleet_plot_data(const RunInfo& info);

}  // namespace xen9p::bench
