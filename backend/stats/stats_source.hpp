// What a statistics reporter reads: the numbers now, and a one-shot call at
// the next request done, so it can sleep while the numbers do not move.
#pragma once

#include "backend/stats/stats_report.hpp"

namespace xen9p::stats {

class RequestWatcher {
  public:
    virtual void on_request_done() = 0;

  protected:
    ~RequestWatcher() = default;
};

class StatsSource {
  public:
    virtual StatsReport report() const = 0;
    // `watcher` is called once, at the next request done; nullptr forgets a
    // watcher that was not called yet.
    virtual void watch_next_request(RequestWatcher* watcher) = 0;

  protected:
    ~StatsSource() = default;
};

}  // namespace xen9p::stats
