// xen9pd over the simulated Xen rings: xen9p-sim, `xen9pd run --xen sim:DIR`,
// one guest domain with one 9pfs device per session, each connected like
// Linux trans_xen (2 rings of order 9). The export must live under
// export_parent() (the daemon's allowed root), so the run creates it there.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "bench/driver/target.hpp"

namespace xen9p::bench {

struct RingConfig {
    std::string sim_binary;
    std::string xen9pd_binary;
    std::uint32_t msize = 0;
    unsigned guests = 4;
    std::optional<std::uint32_t> poll_window_us;  // the daemon's default when unset
};

class RingPlatform {
  public:
    virtual ~RingPlatform() = default;
    // Where the shared export must be created (below the daemon's allowed root).
    virtual std::filesystem::path export_parent() const = 0;
    // Starts the daemon and adds one device per guest for `export_dir`; the
    // target it returns borrows this platform, which must outlive it.
    virtual Result<std::unique_ptr<Target>> start(const std::string& export_dir) = 0;
    // The daemon's own process (the supervisor) once started, else -1.
    virtual int supervisor_pid() const = 0;
};

// Starts xen9p-sim (no daemon yet).
Result<std::unique_ptr<RingPlatform>> start_ring_platform(const RingConfig& config);

}  // namespace xen9p::bench
