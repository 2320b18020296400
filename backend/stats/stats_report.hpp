// A worker's statistics as the supervisor shows them in `xen9pd status`. The
// worker sends one as a line of key=value fields on its control socket; the
// supervisor parses it as untrusted input (the worker serves a guest) and
// prints only what it parsed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace xen9p::stats {

struct StatsReport {
    std::uint64_t open_fids = 0;
    std::uint64_t requests = 0;       // every request answered or dropped, valid or not
    std::uint64_t errors = 0;         // answered with Rlerror
    std::uint64_t max_in_flight = 0;  // most requests one session held at once
    std::uint64_t bytes_read = 0;
    std::uint64_t bytes_written = 0;
    // Request latency, decode to reply handed to the transport: the upper
    // bound of the histogram bucket holding the percentile, and the maximum.
    std::uint64_t p50_us = 0;
    std::uint64_t p99_us = 0;
    std::uint64_t max_us = 0;
    // Servers of this device replaced after dying, and the signal that ended
    // the last of them (0: it exited with a status of its own).
    std::uint64_t restarts = 0;
    std::uint64_t last_signal = 0;
    std::map<std::string, std::uint64_t> ops;  // request name -> count, non-zero only

    bool operator==(const StatsReport&) const = default;
};

// "open_fids=2 requests=9 errors=1 max_in_flight=3 ... restarts=0 last_signal=0
// ops=attach:1,walk:3"
std::string format_stats(const StatsReport& report);
// Exactly what format_stats writes: every field once, in order, decimal
// numbers, ops names of known requests. nullopt for anything else.
std::optional<StatsReport> parse_stats(std::string_view text);

}  // namespace xen9p::stats
