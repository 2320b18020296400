// What a worker's sessions did: requests by type, errors, file bytes moved,
// and a histogram of request latency (decode to reply handed to the
// transport) in power-of-two microsecond buckets. Plain counters: one event
// loop thread updates and reads them.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "backend/stats/stats_report.hpp"
#include "backend/stats/stats_source.hpp"
#include "p9proto/constants.hpp"

namespace xen9p::stats {

class OpStats {
  public:
    // One request done; `type` is Tlerror for a message that did not decode.
    void record(p9proto::MsgType type, std::chrono::nanoseconds latency, bool error);
    void add_bytes_read(std::uint64_t bytes) { bytes_read_ += bytes; }
    void add_bytes_written(std::uint64_t bytes) { bytes_written_ += bytes; }

    StatsReport report(std::uint64_t open_fids, std::uint64_t max_in_flight) const;
    // StatsSource::watch_next_request.
    void watch_next(RequestWatcher* watcher) { watcher_ = watcher; }

  private:
    // Bucket 0: below 1 µs; bucket b: [2^(b-1), 2^b) µs; the last takes the rest.
    static constexpr std::size_t kBuckets = 40;
    // The upper bound (µs) of the bucket in which `percent` of requests ended.
    std::uint64_t percentile_us(unsigned percent) const;

    std::array<std::uint64_t, 256> by_type_{};
    std::array<std::uint64_t, kBuckets> latency_{};
    std::uint64_t requests_ = 0;
    std::uint64_t errors_ = 0;
    std::uint64_t bytes_read_ = 0;
    std::uint64_t bytes_written_ = 0;
    std::chrono::nanoseconds max_latency_{0};
    RequestWatcher* watcher_ = nullptr;
};

}  // namespace xen9p::stats
