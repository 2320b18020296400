// The workloads of the suite, each run against one Target on the shared
// export prepared by setup_export(), each measured into one Measurement.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/driver/target.hpp"

namespace xen9p::bench {

struct WorkloadConfig {
    std::uint64_t big_file_size = 1ull << 30;
    // Wall-clock budget of each time-bounded measurement.
    double seconds = 2.0;
    unsigned metadata_files = 5000;
    unsigned readdir_entries = 100'000;
    unsigned small_files = 10'000;
    // Payload of one sequential read/write: msize minus the I/O header.
    std::uint32_t chunk = 128 * 1024;
    // Requests in flight for sequential I/O (Linux reads ahead with several).
    unsigned seq_depth = 4;
    std::vector<unsigned> guests{1, 2, 4};
    // How each operation's cost grows with its work (issue 18): listings of,
    // walks into and creates in directories of these many entries, and walks
    // of these many components.
    std::vector<unsigned> scaling_entries{1000, 10'000, 100'000, 1'000'000};
    std::vector<unsigned> scaling_depths{1, 10, 100, 1000};
    unsigned scaling_creates = 500;  // per directory size
    // Run only these workloads (by name); empty: all of them.
    std::vector<std::string> only;
};

struct Measurement {
    std::string workload;
    std::string target;
    std::string unit;  // "MiB/s" or "ops/s"
    double value = 0;
    double seconds = 0;
    std::uint64_t ops = 0;
    std::uint64_t bytes = 0;
    std::string error;  // set when the workload failed on this target
    // CPU the serving processes used per op (µs), negative when not measured
    // (direct syscalls, or a server whose processes could not be read).
    double server_cpu_us_per_op = -1;
};

// Names of the files and directories the workloads use, under the export root.
inline constexpr const char* kBigFile = "big.dat";
inline constexpr const char* kDeepPath = "a/b/c/d/e";
inline constexpr const char* kBigDir = "bigdir";
inline constexpr const char* kDeepChain = "deep";  // deep/d/d/...: the walks of each depth

// The workload families of the scaling runs, each measured at every size:
// readdir_N (entries/s of a listing of N entries), walk_in_N and create_in_N
// (ops/s in a directory of N entries), walk_depth_D (ops/s of D components).
// "1e3" for 1000; other sizes as they are.
std::string size_name(unsigned size);
// The directory of `entries` entries the scaling runs use.
std::string scaling_dir(unsigned entries);

// Creates the shared tree (big file written and read once so the page cache is
// hot, the 5-level path, the big directory) with direct syscalls.
Status setup_export(const std::string& dir, const WorkloadConfig& config);

// Makes the tree under `dir` readable and writable by anyone: the ring's
// workers run as unprivileged per-guest uids, and a toolstack hands them a
// share that is theirs to use.
Status open_to_all(const std::string& dir);

// One workload of the suite. Each runs on one session of a target (a guest's
// device, a connection), except parallel_read_xN, which opens N of them.
struct Workload {
    std::string name;
    std::string unit;  // of Measurement::value
    // Runs it against `target`, whose scratch directory make_scratch() has
    // made; nullopt when the target cannot run it (fewer sessions than N).
    // A failure is recorded in the Measurement's error.
    std::function<std::optional<Measurement>(Target& target)> run;
};

// The suite in order (create_close before unlink, small_files_write before
// small_files_read), only those `config.only` names if it names any.
// `config` must outlive the workloads.
std::vector<Workload> workloads(const WorkloadConfig& config);

// Creates the target's own empty directory under the export for the
// metadata and small-file workloads; remove_scratch() deletes it.
Status make_scratch(const std::string& export_dir, const Target& target);
void remove_scratch(const std::string& export_dir, const Target& target);

// memcpy bandwidth of this machine (the upper bound of any copying transport),
// of 64 MiB blocks and of one chunk.
std::vector<Measurement> measure_memcpy(const WorkloadConfig& config);

}  // namespace xen9p::bench
