// A thing the workloads run against: it hands out independent sessions (a
// guest, a connection, or the bench's own syscalls) on the shared export.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/driver/fs.hpp"

namespace xen9p::bench {

class Target {
  public:
    virtual ~Target() = default;

    // Short stable name used in JSON keys and table columns ("xen9pd-unix").
    virtual std::string name() const = 0;
    // Session number `index` (0-based): for the ring a separate guest device,
    // for a socket another connection, for direct syscalls another root fd.
    virtual Result<std::unique_ptr<Fs>> connect(unsigned index) = 0;
    // How many sessions can be open at once.
    virtual unsigned max_sessions() const = 0;
    // The serving process (for profiling), -1 if none.
    virtual int server_pid() const { return -1; }
    // The processes that serve the sessions (for their memory): by default
    // the server process.
    virtual std::vector<int> serving_pids() {
        if (server_pid() < 0) return {};
        return {server_pid()};
    }
};

}  // namespace xen9p::bench
