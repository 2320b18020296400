#include "backend/stats/stats_report.hpp"

#include <array>
#include <limits>

#include "base/parse_number.hpp"
#include "p9proto/msg_type_name.hpp"

namespace xen9p::stats {
namespace {

constexpr std::array<std::string_view, 11> kNumberFields = {
    "open_fids", "requests", "errors", "max_in_flight", "bytes_read", "bytes_written",
    "p50_us",    "p99_us",   "max_us", "restarts",      "last_signal"};

std::array<std::uint64_t*, 11> number_fields(StatsReport& r) {
    return {&r.open_fids, &r.requests, &r.errors, &r.max_in_flight, &r.bytes_read, &r.bytes_written,
            &r.p50_us,    &r.p99_us,   &r.max_us, &r.restarts,      &r.last_signal};
}

// A worker's counter: canonical decimal, any 64-bit value.
std::optional<std::uint64_t> parse_counter(std::string_view text) {
    return parse_decimal(text, std::numeric_limits<std::uint64_t>::max());
}

// Splits off the text up to `sep` (or the end) from `rest`.
std::string_view next_token(std::string_view& rest, char sep) {
    const auto at = rest.find(sep);
    const auto token = rest.substr(0, at);
    rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
    return token;
}

}  // namespace

std::string format_stats(const StatsReport& report) {
    StatsReport copy = report;
    const auto values = number_fields(copy);
    std::string out;
    for (std::size_t i = 0; i < kNumberFields.size(); ++i) {
        out += std::string(kNumberFields[i]) + "=" + std::to_string(*values[i]) + " ";
    }
    out += "ops=";
    bool first = true;
    for (const auto& [name, count] : report.ops) {
        if (!first) out += ",";
        out += name + ":" + std::to_string(count);
        first = false;
    }
    return out;
}

std::optional<StatsReport> parse_stats(std::string_view text) {
    StatsReport report;
    const auto values = number_fields(report);
    std::string_view rest = text;
    for (std::size_t i = 0; i < kNumberFields.size(); ++i) {
        std::string_view field = next_token(rest, ' ');
        std::string_view key = next_token(field, '=');
        if (key != kNumberFields[i]) return std::nullopt;
        auto value = parse_counter(field);
        if (!value) return std::nullopt;
        *values[i] = *value;
    }
    if (!rest.starts_with("ops=") || rest.find(' ') != std::string_view::npos) return std::nullopt;
    std::string_view ops = rest.substr(4);
    if (ops.ends_with(',')) return std::nullopt;
    while (!ops.empty()) {
        std::string_view entry = next_token(ops, ',');
        const std::string_view name = next_token(entry, ':');
        auto count = parse_counter(entry);
        if (!p9proto::request_of_name(name) || !count || *count == 0) return std::nullopt;
        if (!report.ops.emplace(std::string(name), *count).second) return std::nullopt;
    }
    return report;
}

}  // namespace xen9p::stats
