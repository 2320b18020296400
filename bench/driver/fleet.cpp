#include "bench/driver/fleet.hpp"

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "bench/driver/random.hpp"
#include "bench/driver/server_cpu.hpp"
#include "bench/driver/server_memory.hpp"
#include "bench/driver/workloads.hpp"

namespace xen9p::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint32_t kBlock = 4096;

double since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// The guests of one fleet size, each attached with the big file open.
struct Guest {
    std::unique_ptr<Fs> fs;
    Handle file = 0;
};

// What one guest, or all of them, read.
struct Moved {
    std::uint64_t ops = 0;
    std::uint64_t bytes = 0;
};

// Reads the file until `stop`: sequentially from a starting point of its own
// (wrapping around, `depth` chunks in flight) or 4 KiB blocks at random
// offsets one at a time.
Result<Moved> read_until(Guest& guest, const FleetConfig& config, bool sequential, unsigned index,
                         const std::atomic<bool>& stop) {
    const std::uint32_t chunk = sequential ? std::min(config.chunk, guest.fs->max_io()) : kBlock;
    std::vector<std::byte> buffer(chunk);
    const std::uint64_t span = config.file_size / chunk * chunk;
    std::uint64_t offset = (span / 64 * (index % 64)) / chunk * chunk;
    Random random(index);
    Moved moved;
    NextOp next = [&](IoOp& op) {
        if (stop.load(std::memory_order_relaxed)) return false;
        if (sequential) {
            op = {offset, chunk};
            offset = (offset + chunk) % span;
        } else {
            op = {(random.next() % (config.file_size / kBlock)) * kBlock, kBlock};
        }
        ++moved.ops;
        return true;
    };
    auto bytes =
        guest.fs->io(guest.file, IoKind::kRead, next, sequential ? config.seq_depth : 1, buffer);
    if (!bytes) return std::unexpected(bytes.error());
    moved.bytes = *bytes;
    return moved;
}

// Guests [first, end) read, each in a thread of its own, until finish() (or
// destruction) stops them.
class Readers {
  public:
    Readers(std::vector<Guest>& guests, std::size_t first, const FleetConfig& config,
            bool sequential)
        : results_(guests.size() - first, Moved{}) {
        for (std::size_t i = first; i < guests.size(); ++i) {
            threads_.emplace_back([&, i, first, sequential] {
                results_[i - first] =
                    read_until(guests[i], config, sequential, static_cast<unsigned>(i), stop_);
            });
        }
    }
    ~Readers() { (void)finish(); }

    // Stops the readers and sums what they moved (the first error, if any).
    Result<Moved> finish() {
        stop_.store(true);
        threads_.clear();
        Moved total;
        for (const auto& r : results_) {
            if (!r) return std::unexpected(r.error());
            total.ops += r->ops;
            total.bytes += r->bytes;
        }
        return total;
    }

  private:
    std::atomic<bool> stop_{false};
    std::vector<Result<Moved>> results_;
    std::vector<std::jthread> threads_;
};

// Every guest reading for the time budget: what they moved per second.
Result<double> aggregate(std::vector<Guest>& guests, const FleetConfig& config, bool sequential) {
    const auto start = Clock::now();
    Readers readers(guests, 0, config, sequential);
    std::this_thread::sleep_for(std::chrono::duration<double>(config.seconds));
    auto moved = readers.finish();
    const double seconds = since(start);
    if (!moved) return std::unexpected(moved.error());
    return sequential ? static_cast<double>(moved->bytes) / (1 << 20) / seconds
                      : static_cast<double>(moved->ops) / seconds;
}

struct Percentiles {
    double p50_us = 0;
    double p99_us = 0;
};

// Guest 0's 4 KiB reads at random offsets, one at a time, each timed.
Result<Percentiles> light_latency(Guest& guest, const FleetConfig& config) {
    std::vector<std::byte> buffer(kBlock);
    std::vector<double> micros;
    Random random(88172645463325252ull);
    const auto start = Clock::now();
    while (since(start) < config.seconds || micros.empty()) {
        const IoOp one{(random.next() % (config.file_size / kBlock)) * kBlock, kBlock};
        bool issued = false;
        NextOp next = [&](IoOp& op) {
            if (issued) return false;
            op = one;
            issued = true;
            return true;
        };
        const auto op_start = Clock::now();
        auto moved = guest.fs->io(guest.file, IoKind::kRead, next, 1, buffer);
        if (!moved) return std::unexpected(moved.error());
        micros.push_back(since(op_start) * 1e6);
    }
    std::sort(micros.begin(), micros.end());
    auto at = [&](double q) {
        return micros[std::min(micros.size() - 1, static_cast<std::size_t>(q * micros.size()))];
    };
    return Percentiles{at(0.5), at(0.99)};
}

// The CPU that processes use from its construction on, per second of wall
// time, to the nanosecond (an idle process's few wake-ups are well below a tick).
class CpuMeter {
  public:
    explicit CpuMeter(std::vector<int> pids)
        : pids_(std::move(pids)), from_(used()), start_(Clock::now()) {}
    double ms_per_s() const { return (used() - from_) * 1e3 / since(start_); }

  private:
    double used() const {
        double sum = 0;
        for (int pid : pids_)
            sum += live_threads_cpu_seconds(pid);
        return sum;
    }

    std::vector<int> pids_;
    double from_;
    Clock::time_point start_;
};

// Attaches all guests at once, each opening the file.
Result<std::vector<Guest>> attach_all(Target& target, unsigned count) {
    std::vector<Guest> guests(count);
    std::vector<Status> attached(count);
    {
        std::vector<std::jthread> threads;
        for (unsigned i = 0; i < count; ++i) {
            threads.emplace_back([&, i] {
                auto fs = target.connect(i);
                if (!fs) {
                    attached[i] = std::unexpected(fs.error());
                    return;
                }
                auto file = (*fs)->open(kBigFile, O_RDONLY);
                if (!file) {
                    attached[i] = std::unexpected(file.error());
                    return;
                }
                guests[i] = Guest{std::move(*fs), *file};
            });
        }
    }
    for (const auto& status : attached) {
        if (!status) return std::unexpected(status.error());
    }
    return guests;
}

Status measure_size(const RingConfig& ring_config, const FleetConfig& config, FleetPoint& point) {
    auto ring_for_size = ring_config;
    ring_for_size.guests = point.guests;
    auto platform = start_ring_platform(ring_for_size);
    if (!platform) return std::unexpected(platform.error());
    const auto export_dir = ((*platform)->export_parent() / "share").string();
    WorkloadConfig tree;
    tree.big_file_size = config.file_size;
    tree.readdir_entries = 0;
    tree.scaling_entries.clear();
    tree.scaling_depths.clear();
    if (auto made = setup_export(export_dir, tree); !made) return made;
    if (auto opened = open_to_all(export_dir); !opened) return opened;

    const auto start = Clock::now();
    auto target = (*platform)->start(export_dir);
    if (!target) return std::unexpected(target.error());
    auto guests = attach_all(**target, point.guests);
    if (!guests) return std::unexpected(guests.error());
    point.attach_s = since(start);

    const int supervisor = (*platform)->supervisor_pid();
    const auto workers = (*target)->serving_pids();
    // Idle memory: attached, before any load (the last workers' start-up done).
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    point.supervisor_idle_rss_kib = process_kib(supervisor, "status", "VmRSS");
    for (int pid : workers) {
        point.worker_idle_rss_kib =
            std::max(point.worker_idle_rss_kib, process_kib(pid, "status", "VmRSS"));
        point.workers_idle_pss_kib += process_kib(pid, "smaps_rollup", "Pss");
    }
    auto solo = light_latency((*guests)[0], config);
    if (!solo) return std::unexpected(solo.error());
    point.light_solo_p50_us = solo->p50_us;
    point.light_solo_p99_us = solo->p99_us;

    const CpuMeter supervisor_busy({supervisor});
    auto seq = aggregate(*guests, config, true);
    if (!seq) return std::unexpected(seq.error());
    auto rand = aggregate(*guests, config, false);
    if (!rand) return std::unexpected(rand.error());
    point.supervisor_busy_cpu_ms_per_s = supervisor_busy.ms_per_s();
    point.seq_read_mib_s = *seq;
    point.rand_read_ops_s = *rand;
    if (point.guests > 1) {
        Readers busy(*guests, 1, config, true);
        auto loaded = light_latency((*guests)[0], config);
        auto moved = busy.finish();
        if (!loaded) return std::unexpected(loaded.error());
        if (!moved) return std::unexpected(moved.error());
        point.light_busy_p50_us = loaded->p50_us;
        point.light_busy_p99_us = loaded->p99_us;
    }
    point.supervisor_peak_hwm_kib = process_kib(supervisor, "status", "VmHWM");
    for (int pid : workers) {
        point.worker_peak_hwm_kib =
            std::max(point.worker_peak_hwm_kib, process_kib(pid, "status", "VmHWM"));
    }
    // Idle: once each worker sent the report of the loads and, a second
    // later, found nothing new (its reporter then sleeps), nobody has
    // anything to do.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    const CpuMeter supervisor_cpu({supervisor});
    const CpuMeter workers_cpu(workers);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    point.supervisor_idle_cpu_ms_per_s = supervisor_cpu.ms_per_s();
    point.workers_idle_cpu_ms_per_s = workers_cpu.ms_per_s();
    for (auto& guest : *guests)
        (void)guest.fs->close(guest.file);
    return {};
}

}  // namespace

std::vector<FleetPoint> run_fleet(const RingConfig& ring, const FleetConfig& config) {
    std::vector<FleetPoint> points;
    for (unsigned size : config.sizes) {
        FleetPoint point;
        point.guests = size;
        std::fprintf(stderr, "xen9p-bench: %u guests\n", size);
        if (auto measured = measure_size(ring, config, point); !measured) {
            point.error = measured.error().message();
            std::fprintf(stderr, "  %u guests: error: %s\n", size, point.error.c_str());
        }
        points.push_back(std::move(point));
    }
    return points;
}

}  // namespace xen9p::bench
