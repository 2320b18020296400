// Many guests (issue 18): for each fleet size N, a fresh simulated platform
// whose N guests each have one device on one shared export. Measured: the
// time from the daemon's start to every guest attached, the supervisor's and
// the workers' memory and CPU idle and under load, the aggregate throughput of
// sequential and random reads with every guest reading, and the latency of one
// light guest alone and while all the others read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/driver/ring_target.hpp"

namespace xen9p::bench {

struct FleetConfig {
    std::vector<unsigned> sizes{1, 8, 32, 64};
    std::uint64_t file_size = 256ull << 20;  // the file every guest reads
    double seconds = 2.0;                    // per measurement
    std::uint32_t chunk = 128 * 1024;        // of a sequential read
    unsigned seq_depth = 4;                  // sequential reads in flight per guest
};

struct FleetPoint {
    unsigned guests = 0;
    // From `xen9pd run` through the toolstack adding the N devices to every
    // guest attached (Tversion and Tattach answered), guests connecting at once.
    double attach_s = 0;
    // Idle memory is taken once every guest attached, idle CPU over a second
    // after the loads settled, peak memory (VmHWM) after the loads.
    std::size_t supervisor_idle_rss_kib = 0;
    std::size_t supervisor_peak_hwm_kib = 0;  // after the loads
    double supervisor_idle_cpu_ms_per_s = 0;
    double supervisor_busy_cpu_ms_per_s = 0;  // while every guest reads
    // Workers: each device's keeper and the server it forked. The largest one,
    // and all of them together by PSS (shared pages counted once).
    std::size_t worker_idle_rss_kib = 0;
    std::size_t worker_peak_hwm_kib = 0;
    std::size_t workers_idle_pss_kib = 0;
    double workers_idle_cpu_ms_per_s = 0;  // all of them
    // Every guest reading at once: sequential (seq_depth in flight each) and
    // 4 KiB at random offsets (one in flight each).
    double seq_read_mib_s = 0;
    double rand_read_ops_s = 0;
    // One guest's 4 KiB reads at queue depth 1, alone and while the N-1
    // others read sequentially (busy: 0 when N is 1).
    double light_solo_p50_us = 0;
    double light_solo_p99_us = 0;
    double light_busy_p50_us = 0;
    double light_busy_p99_us = 0;
    std::string error;  // set when this size could not be measured
};

// Runs every size of `config` in turn, each on its own platform (`ring`'s
// binaries, msize and poll window; its guest count is the size).
std::vector<FleetPoint> run_fleet(const RingConfig& ring, const FleetConfig& config);

}  // namespace xen9p::bench
