#include "bench/driver/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>

namespace xen9p::bench {
namespace {

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string number(double value) {
    if (!std::isfinite(value)) return "0";
    char text[64];
    std::snprintf(text, sizeof text, "%.6g", value);
    return text;
}

std::string fixed(double value) {
    char text[64];
    std::snprintf(text, sizeof text, value >= 100 ? "%.0f" : "%.2f", value);
    return text;
}

// Workloads in the order they first appear, memcpy left out.
std::vector<std::string> workloads(const std::vector<Measurement>& results) {
    std::vector<std::string> names;
    for (const auto& m : results) {
        if (m.target == "memcpy") continue;
        if (std::find(names.begin(), names.end(), m.workload) == names.end()) {
            names.push_back(m.workload);
        }
    }
    return names;
}

const Measurement* find(const std::vector<Measurement>& results, const std::string& workload,
                        const std::string& target) {
    for (const auto& m : results) {
        if (m.workload == workload && m.target == target) return &m;
    }
    return nullptr;
}

std::optional<double> value(const std::vector<Measurement>& results, const std::string& workload,
                            const std::string& target) {
    const auto* m = find(results, workload, target);
    if (!m || !m->error.empty() || m->value <= 0) return std::nullopt;
    return m->value;
}

bool has_target(const RunInfo& info, const std::string& target) {
    return std::find(info.targets.begin(), info.targets.end(), target) != info.targets.end();
}

// The targets issues #9 and #18 set for xen9pd over the simulated ring: a ratio of
// two measurements of one run that must reach `at_least`.
struct Goal {
    const char* workload;
    const char* target;
    const char* base_workload;
    const char* base_target;
    double at_least;
};

constexpr const char* kRing = "xen9pd-ring";
constexpr Goal kGoals[] = {
    {"seq_read", kRing, "seq_read", "direct", 0.6},
    {"seq_write", kRing, "seq_write", "direct", 0.5},
    {"rand_read_4k_qd32", kRing, "rand_read_4k_qd32", "diod-unix", 3},
    {"create_close", kRing, "create_close", "diod-unix", 2},
    {"getattr", kRing, "getattr", "diod-unix", 2},
    {"unlink", kRing, "unlink", "diod-unix", 2},
    {"walk_5_levels", kRing, "walk_5_levels", "diod-unix", 2},
    {"readdir", kRing, "readdir", "diod-unix", 1},
    {"small_files_write", kRing, "small_files_write", "diod-unix", 2},
    {"small_files_read", kRing, "small_files_read", "diod-unix", 2},
    {"parallel_read_x4", kRing, "parallel_read_x1", kRing, 1.5},
};

// What each op cost the serving processes in CPU, per workload and target.
std::string server_cpu_table(const RunInfo& info, const std::vector<Measurement>& results) {
    std::vector<std::string> targets;
    for (const auto& t : info.targets) {
        if (t != "direct") targets.push_back(t);
    }
    if (targets.empty()) return "";
    std::string out = "\n| server CPU per op (µs) |";
    for (const auto& t : targets)
        out += " " + t + " |";
    out += "\n|---|";
    for (std::size_t i = 0; i < targets.size(); ++i)
        out += "---:|";
    out += "\n";
    for (const auto& w : workloads(results)) {
        out += "| " + w + " |";
        for (const auto& t : targets) {
            const auto* m = find(results, w, t);
            out += m && m->error.empty() && m->server_cpu_us_per_op >= 0
                       ? " " + fixed(m->server_cpu_us_per_op) + " |"
                       : " - |";
        }
        out += "\n";
    }
    for (const auto& [target, ms] : info.idle_cpu_ms_per_s)
        out += "\n" + target + ": server CPU while idle " + fixed(ms) + " ms per s";
    if (!info.idle_cpu_ms_per_s.empty()) out += "\n";
    return out;
}

// One family of the scaling runs: its workload names and what one op is.
struct ScalingFamily {
    std::string prefix;  // workload name = prefix + size_name(size)
    std::string label;
    bool per_entry;  // the value counts entries; the op is a whole listing
    bool depths;     // sized by scaling_depths (else scaling_entries)
};

const ScalingFamily kScalingFamilies[] = {
    {"readdir_", "readdir (one whole listing)", true, false},
    {"walk_in_", "walk to one entry of the directory", false, false},
    {"create_in_", "create + close in the directory", false, false},
    {"walk_depth_", "walk of that many components", false, true},
};

// µs one op of `family` took at `size` on `target`, if measured.
std::optional<double> op_micros(const std::vector<Measurement>& results,
                                const ScalingFamily& family, unsigned size,
                                const std::string& target) {
    const auto name = family.prefix + (family.depths ? std::to_string(size) : size_name(size));
    auto rate = value(results, name, target);
    if (!rate) return std::nullopt;
    return (family.per_entry ? static_cast<double>(size) : 1.0) * 1e6 / *rate;
}

// Per family and target: µs per op at each size, and the exponent of its
// growth between the smallest and the largest size (1: linear in the size,
// 0: constant).
std::string scaling_table(const RunInfo& info, const std::vector<Measurement>& results) {
    std::string out;
    for (const auto& family : kScalingFamilies) {
        const auto& sizes =
            family.depths ? info.config.scaling_depths : info.config.scaling_entries;
        if (sizes.size() < 2) continue;
        std::string rows;
        for (const auto& target : info.targets) {
            auto first = op_micros(results, family, sizes.front(), target);
            auto last = op_micros(results, family, sizes.back(), target);
            if (!first && !last) continue;
            rows += "| " + target + " |";
            for (unsigned size : sizes) {
                auto us = op_micros(results, family, size, target);
                rows += us ? " " + fixed(*us) + " |" : " - |";
            }
            rows += first && last
                        ? " " +
                              fixed(std::log(*last / *first) /
                                    std::log(static_cast<double>(sizes.back()) / sizes.front())) +
                              " |\n"
                        : " - |\n";
        }
        if (rows.empty()) continue;
        out += "\n| " + family.label + " (µs per op) |";
        for (unsigned size : sizes)
            out += " " + (family.depths ? std::to_string(size) : size_name(size)) + " |";
        out += " growth exponent |\n|---|";
        for (std::size_t i = 0; i <= sizes.size(); ++i)
            out += "---:|";
        out += "\n" + rows;
    }
    return out;
}

std::string goal_name(const Goal& g) {
    std::string name = std::string(g.workload) + " " + g.target + " / ";
    // A ratio of two workloads on one target names the other workload only.
    if (std::string_view(g.base_workload) == g.workload) return name + g.base_target;
    name += g.base_workload;
    if (std::string_view(g.base_target) != g.target) name += std::string(" ") + g.base_target;
    return name;
}

std::optional<double> goal_ratio(const std::vector<Measurement>& results, const Goal& g) {
    auto a = value(results, g.workload, g.target);
    auto b = value(results, g.base_workload, g.base_target);
    if (!a || !b) return std::nullopt;
    return *a / *b;
}

// The targets of issue 18's many guests, from the fleet runs that worked.
struct FleetGoal {
    std::string name;
    std::optional<double> value;
    double bound;
    bool at_most;  // else at least
    bool met() const { return value && (at_most ? *value <= bound : *value >= bound); }
};

// The worst ratio of a throughput past the core count to the best one at
// fewer guests: below 1 it fell as guests were added.
std::optional<double> fleet_hold(const RunInfo& info, double FleetPoint::*rate) {
    std::optional<double> worst;
    double best_before = 0;
    for (const auto& p : info.fleet) {
        if (!p.error.empty()) continue;
        if (p.guests > info.cpus && best_before > 0) {
            const double ratio = p.*rate / best_before;
            worst = worst ? std::min(*worst, ratio) : ratio;
        }
        best_before = std::max(best_before, p.*rate);
    }
    return worst;
}

std::vector<FleetGoal> fleet_goals(const RunInfo& info) {
    std::optional<double> worker_mib;
    std::optional<double> supervisor_ms;
    for (const auto& p : info.fleet) {
        if (!p.error.empty()) continue;
        worker_mib =
            std::max(worker_mib.value_or(0), static_cast<double>(p.worker_idle_rss_kib) / 1024);
        supervisor_ms = std::max(supervisor_ms.value_or(0), p.supervisor_idle_cpu_ms_per_s);
    }
    return {
        {"largest idle worker VmRSS (MiB)", worker_mib, 16, true},
        {"supervisor CPU with every guest idle (ms/s)", supervisor_ms, 1, true},
        {"seq read past the core count / best with fewer guests",
         fleet_hold(info, &FleetPoint::seq_read_mib_s), 0.9, false},
        {"random read past the core count / best with fewer guests",
         fleet_hold(info, &FleetPoint::rand_read_ops_s), 0.9, false},
    };
}

std::string mib(std::size_t kib) {
    return fixed(static_cast<double>(kib) / 1024);
}

std::string fleet_table(const RunInfo& info) {
    if (info.fleet.empty()) return "";
    std::string out =
        "\n| guests (xen9pd-ring) | attach all (s) | supervisor RSS idle / peak (MiB) | "
        "supervisor CPU idle / busy (ms/s) | largest worker RSS idle / peak (MiB) | all workers "
        "idle PSS (MiB) | all workers idle CPU (ms/s) | seq read (MiB/s) | 4 KiB rand read "
        "(ops/s) | light guest p50 / p99 alone (µs) | light guest p50 / p99 busy (µs) |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& p : info.fleet) {
        out += "| " + std::to_string(p.guests) + " |";
        if (!p.error.empty()) {
            out += " error: " + p.error + " |\n";
            continue;
        }
        out += " " + fixed(p.attach_s) + " | " + mib(p.supervisor_idle_rss_kib) + " / " +
               mib(p.supervisor_peak_hwm_kib) + " | " + fixed(p.supervisor_idle_cpu_ms_per_s) +
               " / " + fixed(p.supervisor_busy_cpu_ms_per_s) + " | " + mib(p.worker_idle_rss_kib) +
               " / " + mib(p.worker_peak_hwm_kib) + " | " + mib(p.workers_idle_pss_kib) + " | " +
               fixed(p.workers_idle_cpu_ms_per_s) + " | " + fixed(p.seq_read_mib_s) + " | " +
               fixed(p.rand_read_ops_s) + " | " + fixed(p.light_solo_p50_us) + " / " +
               fixed(p.light_solo_p99_us) + " | " +
               (p.guests > 1 ? fixed(p.light_busy_p50_us) + " / " + fixed(p.light_busy_p99_us)
                             : std::string("-")) +
               " |\n";
    }
    out += "\n| many guests (issue #18) | value | goal | |\n|---|---:|---:|---|\n";
    for (const auto& g : fleet_goals(info)) {
        out += "| " + g.name + " | " + (g.value ? fixed(*g.value) : "-") + " | " +
               (g.at_most ? "<= " : ">= ") + fixed(g.bound) + " | " +
               (!g.value  ? "not measured"
                : g.met() ? "met"
                          : "missed") +
               " |\n";
    }
    return out;
}

}  // namespace

std::string to_json(const RunInfo& info, const std::vector<Measurement>& results) {
    const auto& c = info.config;
    std::string out = "{\n";
    out += "  \"mode\": " + json_string(info.mode) + ",\n";
    out += "  \"started_utc\": " + json_string(info.started_utc) + ",\n";
    out += "  \"cpus\": " + std::to_string(info.cpus) + ",\n";
    out += "  \"load_before\": [" + number(info.load_before[0]) + ", " +
           number(info.load_before[1]) + ", " + number(info.load_before[2]) + "],\n";
    out += "  \"load_after\": [" + number(info.load_after[0]) + ", " + number(info.load_after[1]) +
           ", " + number(info.load_after[2]) + "],\n";
    out += "  \"config\": {\"msize\": " + std::to_string(info.msize) +
           ", \"big_file_bytes\": " + std::to_string(c.big_file_size) +
           ", \"seconds\": " + number(c.seconds) +
           ", \"metadata_files\": " + std::to_string(c.metadata_files) +
           ", \"readdir_entries\": " + std::to_string(c.readdir_entries) +
           ", \"small_files\": " + std::to_string(c.small_files) +
           ", \"chunk\": " + std::to_string(c.chunk) +
           ", \"seq_depth\": " + std::to_string(c.seq_depth) + "},\n";
    out += "  \"targets\": [";
    for (std::size_t i = 0; i < info.targets.size(); ++i) {
        out += (i ? ", " : "") + json_string(info.targets[i]);
    }
    out += "],\n  \"goals\": [";
    bool first_goal = true;
    for (const auto& g : kGoals) {
        auto ratio = goal_ratio(results, g);
        if (!ratio) continue;
        out += std::string(first_goal ? "\n" : ",\n") +
               "    {\"goal\": " + json_string(goal_name(g)) + ", \"ratio\": " + number(*ratio) +
               ", \"at_least\": " + number(g.at_least) +
               ", \"met\": " + (*ratio >= g.at_least ? "true" : "false") + "}";
        first_goal = false;
    }
    out += "\n  ],\n  \"server_memory\": [";
    for (std::size_t i = 0; i < info.memory.size(); ++i) {
        const auto& m = info.memory[i];
        out += std::string(i ? ",\n" : "\n") + "    {\"target\": " + json_string(m.target) +
               ", \"processes\": " + std::to_string(m.processes) +
               ", \"idle_rss_kib\": " + std::to_string(m.idle_rss_kib) +
               ", \"peak_hwm_kib\": " + std::to_string(m.peak_hwm_kib) +
               ", \"rss_kib\": " + std::to_string(m.rss_kib) + "}";
    }
    out += "\n  ],\n  \"idle_cpu_ms_per_s\": {";
    for (std::size_t i = 0; i < info.idle_cpu_ms_per_s.size(); ++i) {
        const auto& [target, ms] = info.idle_cpu_ms_per_s[i];
        out += std::string(i ? ", " : "") + json_string(target) + ": " + number(ms);
    }
    out += "},\n  \"fleet\": [";
    for (std::size_t i = 0; i < info.fleet.size(); ++i) {
        const auto& p = info.fleet[i];
        out += std::string(i ? ",\n" : "\n") + "    {\"guests\": " + std::to_string(p.guests);
        if (!p.error.empty()) {
            out += ", \"error\": " + json_string(p.error) + "}";
            continue;
        }
        out += ", \"attach_s\": " + number(p.attach_s) +
               ", \"supervisor_idle_rss_kib\": " + std::to_string(p.supervisor_idle_rss_kib) +
               ", \"supervisor_peak_hwm_kib\": " + std::to_string(p.supervisor_peak_hwm_kib) +
               ", \"supervisor_idle_cpu_ms_per_s\": " + number(p.supervisor_idle_cpu_ms_per_s) +
               ", \"supervisor_busy_cpu_ms_per_s\": " + number(p.supervisor_busy_cpu_ms_per_s) +
               ", \"worker_idle_rss_kib\": " + std::to_string(p.worker_idle_rss_kib) +
               ", \"worker_peak_hwm_kib\": " + std::to_string(p.worker_peak_hwm_kib) +
               ", \"workers_idle_pss_kib\": " + std::to_string(p.workers_idle_pss_kib) +
               ", \"workers_idle_cpu_ms_per_s\": " + number(p.workers_idle_cpu_ms_per_s) +
               ", \"seq_read_mib_s\": " + number(p.seq_read_mib_s) +
               ", \"rand_read_ops_s\": " + number(p.rand_read_ops_s) +
               ", \"light_solo_p50_us\": " + number(p.light_solo_p50_us) +
               ", \"light_solo_p99_us\": " + number(p.light_solo_p99_us) +
               ", \"light_busy_p50_us\": " + number(p.light_busy_p50_us) +
               ", \"light_busy_p99_us\": " + number(p.light_busy_p99_us) + "}";
    }
    out += "\n  ],\n  \"fleet_goals\": [";
    if (!info.fleet.empty()) {
        const auto goals = fleet_goals(info);
        for (std::size_t i = 0; i < goals.size(); ++i) {
            const auto& g = goals[i];
            out += std::string(i ? ",\n" : "\n") + "    {\"goal\": " + json_string(g.name) +
                   ", \"value\": " + (g.value ? number(*g.value) : "null") + ", " +
                   (g.at_most ? "\"at_most\": " : "\"at_least\": ") + number(g.bound) +
                   ", \"met\": " + (g.met() ? "true" : "false") + "}";
        }
    }
    out += "\n  ],\n  \"results\": [\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& m = results[i];
        out += "    {\"workload\": " + json_string(m.workload) +
               ", \"target\": " + json_string(m.target) + ", \"unit\": " + json_string(m.unit) +
               ", \"value\": " + number(m.value) + ", \"seconds\": " + number(m.seconds) +
               ", \"ops\": " + std::to_string(m.ops) + ", \"bytes\": " + std::to_string(m.bytes);
        if (m.server_cpu_us_per_op >= 0)
            out += ", \"server_cpu_us_per_op\": " + number(m.server_cpu_us_per_op);
        if (!m.error.empty()) out += ", \"error\": " + json_string(m.error);
        out += i + 1 < results.size() ? "},\n" : "}\n";
    }
    out += "  ]\n}\n";
    return out;
}

std::string to_markdown(const RunInfo& info, const std::vector<Measurement>& results) {
    std::vector<std::pair<std::string, std::string>> ratios;  // numerator, denominator
    for (const auto& t : info.targets) {
        if (!t.starts_with("xen9pd")) continue;
        if (has_target(info, "diod-unix")) ratios.emplace_back(t, "diod-unix");
        if (has_target(info, "direct")) ratios.emplace_back(t, "direct");
    }
    std::string out = "| workload | unit |";
    for (const auto& t : info.targets)
        out += " " + t + " |";
    for (const auto& [num, den] : ratios)
        out += " " + num + " / " + den + " |";
    out += "\n|---|---|";
    for (std::size_t i = 0; i < info.targets.size() + ratios.size(); ++i)
        out += "---:|";
    out += "\n";
    for (const auto& w : workloads(results)) {
        std::string unit;
        for (const auto& m : results) {
            if (m.workload == w) unit = m.unit;
        }
        out += "| " + w + " | " + unit + " |";
        for (const auto& t : info.targets) {
            const auto* m = find(results, w, t);
            if (!m) {
                out += " - |";
            } else if (!m->error.empty()) {
                out += " error: " + m->error + " |";
            } else {
                out += " " + fixed(m->value) + " |";
            }
        }
        for (const auto& [num, den] : ratios) {
            auto a = value(results, w, num);
            auto b = value(results, w, den);
            out += a && b ? " " + fixed(*a / *b) + "x |" : " - |";
        }
        out += "\n";
    }
    out += "\n";
    for (const auto& m : results) {
        if (m.target != "memcpy") continue;
        out += "memcpy bandwidth, one thread, " + m.workload.substr(7) +
               " blocks: " + fixed(m.value) + " MiB/s\n";
    }
    out += scaling_table(info, results);
    out += server_cpu_table(info, results);
    if (!info.memory.empty()) {
        out +=
            "\n| server memory (largest serving process) | processes | idle VmRSS | peak VmHWM "
            "| VmRSS after |\n|---|---:|---:|---:|---:|\n";
        for (const auto& m : info.memory) {
            out += "| " + m.target + " | " + std::to_string(m.processes) + " | " +
                   mib(m.idle_rss_kib) + " MiB | " + mib(m.peak_hwm_kib) + " MiB | " +
                   mib(m.rss_kib) + " MiB |\n";
        }
    }
    if (has_target(info, kRing)) {
        out += "\n| target (issues #9, #18) | ratio | goal | |\n|---|---:|---:|---|\n";
        for (const auto& g : kGoals) {
            auto ratio = goal_ratio(results, g);
            out += "| " + goal_name(g) + " | " + (ratio ? fixed(*ratio) + "x" : "-") +
                   " | >= " + fixed(g.at_least) + "x | " +
                   (!ratio                 ? "not measured"
                    : *ratio >= g.at_least ? "met"
                                           : "missed") +
                   " |\n";
        }
    }
    out += fleet_table(info);
    out += "\nmode " + info.mode + ", " + std::to_string(info.cpus) + " cpus, load average " +
           fixed(info.load_before[0]) + " before and " + fixed(info.load_after[0]) +
           " after, started " + info.started_utc + "\n";
    return out;
}

std::string to_plot_data(const RunInfo& info, const std::vector<Measurement>& results) {
    std::string out = "workload";
    for (const auto& t : info.targets) {
        if (t != "direct") out += " " + t;
    }
    out += "\n";
    for (const auto& w : workloads(results)) {
        out += w;
        auto base = value(results, w, "direct");
        for (const auto& t : info.targets) {
            if (t == "direct") continue;
            auto v = value(results, w, t);
            out += v && base ? " " + number(*v / *base) : " -";
        }
        out += "\n";
    }
    return out;
}

std::string to_scaling_plot_data(const RunInfo& info, const std::vector<Measurement>& results) {
    std::string out;
    for (const auto& family : kScalingFamilies) {
        const auto& sizes =
            family.depths ? info.config.scaling_depths : info.config.scaling_entries;
        if (sizes.size() < 2) continue;
        if (!out.empty()) out += "\n\n";  // gnuplot's separator of blocks
        out += family.prefix.substr(0, family.prefix.size() - 1);
        for (const auto& target : info.targets)
            out += " " + target;
        out += "\n";
        for (unsigned size : sizes) {
            out += std::to_string(size);
            for (const auto& target : info.targets) {
                auto us = op_micros(results, family, size, target);
                out += us ? " " + number(*us) : " -";
            }
            out += "\n";
        }
    }
    return out;
}

std::string to_fleet_plot_data(const RunInfo& info) {
    if (info.fleet.empty()) return "";
    std::string out =
        "guests attach_s supervisor_idle_mib worker_idle_mib worker_peak_mib workers_pss_mib "
        "seq_read_mib_s rand_read_kops light_p99_alone_us light_p99_busy_us\n";
    auto in_mib = [](std::size_t kib) { return number(static_cast<double>(kib) / 1024); };
    for (const auto& p : info.fleet) {
        if (!p.error.empty()) continue;
        out += std::to_string(p.guests) + " " + number(p.attach_s) + " " +
               in_mib(p.supervisor_idle_rss_kib) + " " + in_mib(p.worker_idle_rss_kib) + " " +
               in_mib(p.worker_peak_hwm_kib) + " " + in_mib(p.workers_idle_pss_kib) + " " +
               number(p.seq_read_mib_s) + " " + number(p.rand_read_ops_s / 1000) + " " +
               number(p.light_solo_p99_us) + " " +
               (p.guests > 1 ? number(p.light_busy_p99_us) : std::string("-")) + "\n";
    }
    return out;
}

}  // namespace xen9p::bench
