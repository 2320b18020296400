// `xen9pd run` on the simulated Xen, for the hostile suite over Xen rings:
// guest 1's device is attacked through an AttackerRing, guest 2's serves the
// witness client. Each export holds `witness`; `outside` lies next to guest
// 1's export. Memory and descriptors are those of guest 1's worker.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

#include "tests/hostile/attacker_ring.hpp"
#include "tests/hostile/daemon_process.hpp"
#include "tests/simxen/sim_xen.hpp"

namespace xen9p::hostile {

class RingDaemon {
  public:
    // `xen9pd run` has no per-device fid or in-flight limits: its workers
    // keep the session defaults, which limits() reports.
    RingDaemon();
    RingDaemon(const RingDaemon&) = delete;
    RingDaemon& operator=(const RingDaemon&) = delete;

    const std::string& export_dir() const { return export_; }
    const std::string& outside_dir() const { return outside_; }
    const DaemonLimits& limits() const { return limits_; }

    // Guest 1's frontend, connected (once).
    std::unique_ptr<AttackerRing> attacker();
    // A fresh connection of guest 2's frontend.
    std::unique_ptr<client::ClientTransport> connect() const;

    Memory memory() const { return memory_of(attacked_worker_); }
    std::size_t open_fds() const { return open_fds_of(attacked_worker_); }
    // The supervisor runs and no worker died of a signal.
    bool running() const;
    // The max_in_flight guest 1's worker reports (xen9pd status), once it
    // reports one above 0 (bounded wait: reports come every second).
    std::size_t max_in_flight_seen() const;

  private:
    std::string add_guest(DomId domid, const std::string& name);

    std::unique_ptr<simxen::SimXen> sim_;
    std::string export_;
    std::string outside_;
    DaemonLimits limits_;
    pid_t attacked_worker_ = -1;
};

}  // namespace xen9p::hostile
