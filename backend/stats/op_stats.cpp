#include "backend/stats/op_stats.hpp"

#include <algorithm>
#include <bit>
#include <string>
#include <utility>

#include "p9proto/msg_type_name.hpp"

namespace xen9p::stats {

void OpStats::record(p9proto::MsgType type, std::chrono::nanoseconds latency, bool error) {
    ++requests_;
    if (error) ++errors_;
    ++by_type_[static_cast<std::uint8_t>(type)];
    const auto us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(latency).count());
    // bit_width(0) = 0, bit_width(1) = 1, bit_width(2..3) = 2: [2^(b-1), 2^b).
    const auto bucket = std::min<std::size_t>(std::bit_width(us), kBuckets - 1);
    ++latency_[bucket];
    max_latency_ = std::max(max_latency_, latency);
    if (watcher_ != nullptr) std::exchange(watcher_, nullptr)->on_request_done();
}

std::uint64_t OpStats::percentile_us(unsigned percent) const {
    if (requests_ == 0) return 0;
    // The 1-based rank of the request at that percentile, rounded up.
    const std::uint64_t rank = (requests_ * percent + 99) / 100;
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
        seen += latency_[b];
        if (seen >= rank) return std::uint64_t{1} << b;
    }
    return std::uint64_t{1} << (kBuckets - 1);
}

StatsReport OpStats::report(std::uint64_t open_fids, std::uint64_t max_in_flight) const {
    StatsReport r;
    r.open_fids = open_fids;
    r.max_in_flight = max_in_flight;
    r.requests = requests_;
    r.errors = errors_;
    r.bytes_read = bytes_read_;
    r.bytes_written = bytes_written_;
    r.p50_us = percentile_us(50);
    r.p99_us = percentile_us(99);
    r.max_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(max_latency_).count());
    for (std::size_t t = 0; t < by_type_.size(); ++t) {
        const auto name = p9proto::request_name(static_cast<p9proto::MsgType>(t));
        if (by_type_[t] != 0 && !name.empty()) r.ops.emplace(std::string(name), by_type_[t]);
    }
    return r;
}

}  // namespace xen9p::stats
