// The simulated hypervisor for a test, in its own translation unit: its header
// and the sim xenstored's both declare DomId (differently).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

namespace xen9p::frontend::test {

class HypervisorRunner {
  public:
    virtual ~HypervisorRunner() = default;
};

// Serves grants and event channels under `dir` on a thread, with domain
// `guest` created; stopped and joined on destruction. nullptr on failure.
std::unique_ptr<HypervisorRunner> start_hypervisor(const std::filesystem::path& dir,
                                                   std::uint16_t guest);

}  // namespace xen9p::frontend::test
