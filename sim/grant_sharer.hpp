// The guest's side of grants: pages a domain offers to others. Only the
// simulated platform grants pages (the backend only maps them), so this lives
// with the simulator and never in the daemon.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "base/errno.hpp"
#include "xenring/platform/grant_mapper.hpp"
#include "xenring/platform/platform.hpp"
#include "xenring/platform/sim_platform.hpp"

namespace xen9p::sim {

using platform::GrantRef;

// Guest side: the pages a domain offers to others.
class GrantSharer {
  public:
    virtual ~GrantSharer() = default;

    // Our shareable memory: a whole number of 4 KiB pages.
    virtual std::span<std::byte> memory() = 0;
    // Grants page `page` of memory() to `domid`.
    virtual Result<GrantRef> grant(DomId domid, std::size_t page, bool writable) = 0;
    // Ends a grant. EBUSY while the grantee still maps it (as in Xen).
    virtual Status revoke(GrantRef ref) = 0;
};

class SimGrantSharer final : public GrantSharer {
  public:
    // Creates `pages` pages of shareable memory and hands them to the hypervisor.
    static Result<std::unique_ptr<SimGrantSharer>> open(const std::filesystem::path& socket,
                                                        std::size_t pages);
    ~SimGrantSharer() override;

    std::span<std::byte> memory() override { return memory_; }
    Result<GrantRef> grant(DomId domid, std::size_t page, bool writable) override;
    Status revoke(GrantRef ref) override;

  private:
    SimGrantSharer(platform::SimConnection conn, std::span<std::byte> memory)
        : conn_(std::move(conn)), memory_(memory) {}
    platform::SimConnection conn_;
    std::span<std::byte> memory_;
};

// `pages` pages of shareable memory as domain `self`; "sim:<dir>" only.
platform::Opened<GrantSharer> open_grant_sharer(std::string_view spec, DomId self,
                                                std::size_t pages);

}  // namespace xen9p::sim
