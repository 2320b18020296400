// The xenstore side of a toolstack, doing what libxl does: make a domain's
// xenstore home and introduce it, add and remove 9pfs devices, destroy the
// domain. Built on the real libxenstore, so it works against the simulated
// xenstored and against a real one alike.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "p9proto/errno.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::sim {

// libxl's p9 types: `qemu` uses backend kind "9pfs", `xen_9pfsd` "xen_9pfs".
enum class P9Kind { kQemu, kXen9pfsd };

struct P9Device {
    platform::DomId domid = 0;
    platform::DomId backend_domid = 0;
    unsigned devid = 0;
    std::string tag;
    std::string path;
    std::string security_model = "none";
    P9Kind kind = P9Kind::kQemu;
    // xen_9pfsd only (libxl always writes them for that type).
    unsigned max_space = 0;
    unsigned max_files = 0;
    unsigned max_open_files = 0;
    bool auto_delete = false;
};

// LIBXL_DESTROY_TIMEOUT.
inline constexpr std::chrono::milliseconds kDeviceRemoveTimeout{10'000};

std::string p9_backend_path(const P9Device& device);
std::string p9_frontend_path(platform::DomId domid, unsigned devid);

class Toolstack {
  public:
    // `waiter` is a second connection used only to wait for backend states,
    // so the caller's watch events on `xs` are left alone.
    Toolstack(platform::Xenstore& xs, platform::Xenstore waiter)
        : xs_(xs), waiter_(std::move(waiter)) {}

    // libxl__domain_make's xenstore layout, then XS_INTRODUCE.
    Status create_domain(platform::DomId domid, const std::string& name);
    // libxl__device_generic_add for a p9 device, in one transaction.
    Status add_9pfs(const P9Device& device);
    // libxl's generic removal: backend online=0 and state=5, wait up to
    // `timeout` for backend state 6, then remove both directories. After a
    // timeout the directories are removed anyway (libxl's forced removal) and
    // ETIMEDOUT is returned.
    Status remove_9pfs(platform::DomId domid, unsigned devid,
                       std::chrono::milliseconds timeout = kDeviceRemoveTimeout);
    // Removes the domain's devices (same waits), its xenstore paths, then
    // releases it, which fires @releaseDomain.
    Status destroy_domain(platform::DomId domid,
                          std::chrono::milliseconds device_timeout = kDeviceRemoveTimeout);
    // The devids of the domain's 9pfs devices, from libxl's private copy.
    Result<std::vector<unsigned>> list_9pfs(platform::DomId domid);

  private:
    Status wait_for_state(const std::string& state_path, const std::string& wanted,
                          std::chrono::milliseconds timeout);
    Status path_cleanup(const std::string& path, platform::Xenstore::Transaction t);
    platform::Xenstore& xs_;
    platform::Xenstore waiter_;
};

}  // namespace xen9p::sim
