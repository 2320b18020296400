// The xenstore side of a toolstack, doing what libxl does: make a domain's
// xenstore home and introduce it, add and remove 9pfs devices (through
// xen9p::toolstack::DeviceNodes, which `xen9pd attach` uses too), destroy
// the domain. Built on the real libxenstore, so it works against the
// simulated xenstored and against a real one alike.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/errno.hpp"
#include "xenring/toolstack/device_nodes.hpp"
#include "xenring/toolstack/nine_pfs_device.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::sim {

using P9Device = toolstack::NinePfsDevice;
using P9Kind = toolstack::BackendKind;
using toolstack::kDeviceRemoveTimeout;

inline std::string p9_backend_path(const P9Device& device) {
    return toolstack::backend_path(device);
}
inline std::string p9_frontend_path(DomId domid, unsigned devid) {
    return toolstack::frontend_path(domid, devid);
}

class Toolstack {
  public:
    // `waiter` is a second connection used only to wait for backend states,
    // so the caller's watch events on `xs` are left alone.
    Toolstack(xenstore::Xenstore& xs, xenstore::Xenstore waiter)
        : xs_(xs), devices_(xs, std::move(waiter)) {}

    // libxl__domain_make's xenstore layout, then XS_INTRODUCE.
    Status create_domain(DomId domid, const std::string& name);
    // libxl__device_generic_add for a p9 device, in one transaction; EEXIST
    // if its devid or tag is already used by another 9pfs device.
    Status add_9pfs(const P9Device& device);
    // libxl's generic removal: backend online=0 and state=5, wait up to
    // `timeout` for backend state 6, then remove both directories. After a
    // timeout the directories are removed anyway (libxl's forced removal) and
    // ETIMEDOUT is returned.
    Status remove_9pfs(DomId domid, unsigned devid,
                       std::chrono::milliseconds timeout = kDeviceRemoveTimeout);
    // Removes the domain's devices (same waits), its xenstore paths, then
    // releases it, which fires @releaseDomain.
    Status destroy_domain(DomId domid,
                          std::chrono::milliseconds device_timeout = kDeviceRemoveTimeout);
    // The devids of the domain's 9pfs devices.
    Result<std::vector<unsigned>> list_9pfs(DomId domid);

  private:
    xenstore::Xenstore& xs_;
    toolstack::DeviceNodes devices_;
};

}  // namespace xen9p::sim
