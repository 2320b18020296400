// xen9p-bench: runs the workload suite against each target on one shared
// export and writes results.json, results.md and plot.dat into --out.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/parse_number.hpp"
#include "bench/driver/fleet.hpp"
#include "bench/driver/report.hpp"
#include "bench/driver/ring_target.hpp"
#include "bench/driver/server_cpu.hpp"
#include "bench/driver/socket_targets.hpp"
#include "bench/driver/workloads.hpp"

namespace xen9p::bench {
namespace {

constexpr const char* kUsage =
    "usage: xen9p-bench [--quick|--smoke] [--out DIR] [--targets a,b,...]\n"
    "       [--xen9pd PATH] [--sim PATH] [--diod PATH] [--msize N] [--seconds S]\n"
    "       [--only workload,...] [--poll-window-us N] [--fleet N,...|none] [--keep]\n"
    "targets: direct, xen9pd-ring, xen9pd-unix, diod-unix (default: all)\n"
    "--fleet: the guest counts of the many-guests runs (xen9pd-ring; `--only fleet`\n"
    "         runs only them)\n";

struct Options {
    std::string mode = "default";
    std::string out = "bench-results";
    std::vector<std::string> targets{"direct", "xen9pd-ring", "xen9pd-unix", "diod-unix"};
    std::string xen9pd = XEN9P_BENCH_XEN9PD;
    std::string sim = XEN9P_BENCH_SIM;
    std::string diod = "/usr/sbin/diod";
    std::uint32_t msize = 128 * 1024 + 24;
    std::optional<double> seconds;
    std::optional<std::uint32_t> poll_window_us;  // the ring daemon's, when given
    std::vector<std::string> only;
    std::optional<std::vector<unsigned>> fleet;  // the mode's sizes when unset
    bool keep = false;
};

std::vector<std::string> split(std::string_view list) {
    std::vector<std::string> items;
    while (!list.empty()) {
        auto comma = list.find(',');
        if (comma != 0) items.emplace_back(list.substr(0, comma));
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return items;
}

std::optional<Options> parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--quick" || arg == "--smoke") {
            options.mode = arg.substr(2);
            continue;
        }
        if (arg == "--keep") {
            options.keep = true;
            continue;
        }
        if (i + 1 >= argc) return std::nullopt;
        std::string_view value = argv[++i];
        if (arg == "--out") {
            options.out = value;
        } else if (arg == "--targets") {
            options.targets = split(value);
        } else if (arg == "--xen9pd") {
            options.xen9pd = value;
        } else if (arg == "--only") {
            options.only = split(value);
        } else if (arg == "--sim") {
            options.sim = value;
        } else if (arg == "--diod") {
            options.diod = value;
        } else if (arg == "--msize") {
            const auto msize = parse_number<std::uint32_t>(value);
            if (!msize) return std::nullopt;
            options.msize = *msize;
        } else if (arg == "--seconds") {
            double seconds = std::strtod(std::string(value).c_str(), nullptr);
            if (!(seconds > 0)) return std::nullopt;
            options.seconds = seconds;
        } else if (arg == "--fleet") {
            std::vector<unsigned> sizes;
            for (const auto& item : split(value == "none" ? "" : value)) {
                const auto size = parse_number<unsigned>(item);
                if (!size || *size == 0) return std::nullopt;
                sizes.push_back(*size);
            }
            options.fleet = sizes;
        } else if (arg == "--poll-window-us") {
            const auto window = parse_number<std::uint32_t>(value);
            if (!window) return std::nullopt;
            options.poll_window_us = *window;
        } else {
            return std::nullopt;
        }
    }
    return options;
}

WorkloadConfig config_for(const Options& options) {
    WorkloadConfig config;
    if (options.mode == "quick") {
        config.big_file_size = 128ull << 20;
        config.seconds = 0.3;
        config.metadata_files = 1000;
        config.readdir_entries = 10'000;
        config.small_files = 1000;
        config.scaling_entries = {1000, 10'000};
        config.scaling_depths = {1, 10, 100};
        config.scaling_creates = 200;
    } else if (options.mode == "smoke") {
        config.big_file_size = 4ull << 20;
        config.seconds = 0.05;
        config.metadata_files = 20;
        config.readdir_entries = 100;
        config.small_files = 20;
        config.guests = {1, 2};
        // Past 16 components a walk takes more than one Twalk.
        config.scaling_entries = {100};
        config.scaling_depths = {1, 20};
        config.scaling_creates = 10;
    }
    if (options.seconds) config.seconds = *options.seconds;
    config.only = options.only;
    config.chunk = options.msize - 24;  // P9_IOHDRSZ
    return config;
}

FleetConfig fleet_config_for(const Options& options, const WorkloadConfig& workloads) {
    FleetConfig config;
    config.chunk = workloads.chunk;
    config.seq_depth = workloads.seq_depth;
    config.seconds = workloads.seconds;
    if (options.mode == "quick") {
        config.file_size = 64ull << 20;
    } else if (options.mode == "smoke") {
        config.sizes = {1, 2};
        config.file_size = 4ull << 20;
    }
    if (options.fleet) config.sizes = *options.fleet;
    return config;
}

std::string utc_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

Result<std::unique_ptr<Target>> start_target(const std::string& name, const Options& options,
                                             const std::string& run_dir,
                                             const std::string& export_dir, RingPlatform* ring) {
    SocketServerConfig server{
        .binary = "", .export_dir = export_dir, .work_dir = run_dir, .msize = options.msize};
    if (name == "direct") return direct_target(export_dir);
    if (name == "xen9pd-ring") {
        if (!ring) return fail(ENODEV);
        return ring->start(export_dir);
    }
    if (name == "xen9pd-unix") {
        server.binary = options.xen9pd;
        return start_xen9pd_unix(server);
    }
    if (name == "diod-unix") {
        server.binary = options.diod;
        return start_diod_unix(server);
    }
    return fail(EINVAL);
}

bool wants(const Options& options, const std::string& target) {
    return std::find(options.targets.begin(), options.targets.end(), target) !=
           options.targets.end();
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    return static_cast<bool>(out);
}

int run(const Options& options) {
    auto config = config_for(options);
    char pattern[] = "/tmp/xen9p-bench.XXXXXX";
    if (!::mkdtemp(pattern)) {
        std::perror("xen9p-bench: mkdtemp");
        return 1;
    }
    const std::string run_dir = pattern;
    std::string export_dir = run_dir + "/export";
    // The ring's daemon only serves exports below its allowed root, so with the
    // ring in the run every target shares a directory there.
    std::unique_ptr<RingPlatform> ring;
    if (wants(options, "xen9pd-ring")) {
        auto platform = start_ring_platform({.sim_binary = options.sim,
                                             .xen9pd_binary = options.xen9pd,
                                             .msize = options.msize,
                                             .guests = 4,
                                             .poll_window_us = options.poll_window_us});
        if (!platform) {
            std::fprintf(stderr, "xen9p-bench: cannot start xen9p-sim: %s\n",
                         platform.error().message().c_str());
        } else {
            ring = std::move(*platform);
            export_dir = (ring->export_parent() / "share").string();
        }
    }
    std::error_code ec;
    std::filesystem::create_directories(export_dir, ec);

    RunInfo info;
    info.mode = options.mode;
    info.started_utc = utc_now();
    info.cpus = static_cast<unsigned>(::sysconf(_SC_NPROCESSORS_ONLN));
    info.msize = options.msize;
    info.config = config;
    info.targets = options.targets;
    ::getloadavg(info.load_before, 3);

    std::fprintf(stderr, "xen9p-bench: %s mode, export %s\n", options.mode.c_str(),
                 export_dir.c_str());
    int status = 0;
    std::vector<Measurement> results;
    // `--only fleet` runs no workload of the suite: it needs no tree.
    const auto suite = workloads(config);
    auto ready = suite.empty() ? Status{} : setup_export(export_dir, config);
    if (ready && !suite.empty()) ready = open_to_all(export_dir);
    if (!ready) {
        std::fprintf(stderr, "xen9p-bench: setup: %s\n", ready.error().message().c_str());
        status = 1;
    } else if (!suite.empty()) {
        for (auto& m : measure_memcpy(config))
            results.push_back(std::move(m));
        // All targets run at once and each workload goes round them in turn:
        // the values of one row are measured seconds apart, not a whole run
        // apart, so a change of load on a shared machine bends their ratios less.
        std::vector<std::unique_ptr<Target>> started;
        for (const auto& name : options.targets) {
            std::fprintf(stderr, "xen9p-bench: starting %s\n", name.c_str());
            auto target = start_target(name, options, run_dir, export_dir, ring.get());
            Status scratch = target ? make_scratch(export_dir, **target) : Status{};
            if (!target || !scratch) {
                std::fprintf(stderr, "xen9p-bench: cannot start %s: %s\n", name.c_str(),
                             (target ? scratch.error() : target.error()).message().c_str());
                status = 1;
                continue;
            }
            started.push_back(std::move(*target));
        }
        for (auto& target : started) {
            if (target->name() != "direct") info.memory.push_back(idle_memory(*target));
        }
        for (const auto& workload : suite) {
            for (auto& target : started) {
                const auto cpu_before = server_cpu_seconds(*target);
                auto m = workload.run(*target);
                if (!m) continue;
                const auto cpu_after = server_cpu_seconds(*target);
                if (cpu_before && cpu_after && m->ops > 0) {
                    m->server_cpu_us_per_op =
                        (*cpu_after - *cpu_before) * 1e6 / static_cast<double>(m->ops);
                }
                std::fprintf(stderr, "  %-22s %-12s %12.1f %s%s%s\n", m->workload.c_str(),
                             m->target.c_str(), m->value, m->unit.c_str(),
                             m->error.empty() ? "" : "  error: ", m->error.c_str());
                if (!m->error.empty()) status = 1;
                results.push_back(std::move(*m));
            }
        }
        // A polling server must stop polling once its guest is idle.
        std::vector<std::pair<Target*, double>> idle_from;
        for (auto& target : started) {
            if (auto cpu = server_cpu_seconds(*target)) idle_from.emplace_back(target.get(), *cpu);
        }
        if (!idle_from.empty()) {
            constexpr auto kIdle = std::chrono::seconds(1);
            std::this_thread::sleep_for(kIdle);
            for (auto& [target, from] : idle_from) {
                if (auto cpu = server_cpu_seconds(*target)) {
                    info.idle_cpu_ms_per_s.emplace_back(target->name(), (*cpu - from) * 1e3);
                }
            }
        }
        for (auto& target : started) {
            for (auto& m : info.memory) {
                if (m.target == target->name()) finish_memory(*target, m);
            }
            remove_scratch(export_dir, *target);
        }
    }
    // Each fleet size starts a platform of its own: the suite's is gone first.
    ring.reset();
    const bool fleet_wanted =
        options.only.empty() ||
        std::find(options.only.begin(), options.only.end(), "fleet") != options.only.end();
    if (wants(options, "xen9pd-ring") && fleet_wanted) {
        info.fleet = run_fleet({.sim_binary = options.sim,
                                .xen9pd_binary = options.xen9pd,
                                .msize = options.msize,
                                .poll_window_us = options.poll_window_us},
                               fleet_config_for(options, config));
        for (const auto& point : info.fleet) {
            if (!point.error.empty()) status = 1;
        }
    }
    ::getloadavg(info.load_after, 3);

    std::filesystem::create_directories(options.out, ec);
    bool written = write_file(options.out + "/results.json", to_json(info, results)) &&
                   write_file(options.out + "/results.md", to_markdown(info, results)) &&
                   write_file(options.out + "/plot.dat", to_plot_data(info, results)) &&
                   write_file(options.out + "/scaling.dat", to_scaling_plot_data(info, results)) &&
                   write_file(options.out + "/fleet.dat", to_fleet_plot_data(info));
    if (!written) {
        std::fprintf(stderr, "xen9p-bench: cannot write into %s\n", options.out.c_str());
        status = 1;
    }
    if (options.keep) {
        std::fprintf(stderr, "xen9p-bench: kept %s\n", run_dir.c_str());
    } else {
        std::filesystem::remove_all(run_dir, ec);
    }
    return status;
}

}  // namespace
}  // namespace xen9p::bench

int main(int argc, char** argv) {
    auto options = xen9p::bench::parse(argc, argv);
    if (!options) {
        std::fputs(xen9p::bench::kUsage, stderr);
        return 2;
    }
    return xen9p::bench::run(*options);
}
