// Creates and removes a guest's 9pfs device in xenstore exactly as libxl
// does (libxl__device_generic_add, libxl's device removal), so that the
// guest's xenbus frontend and any backend see an ordinary device, added while
// the guest runs if need be.
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "xenring/toolstack/nine_pfs_device.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::toolstack {

// LIBXL_DESTROY_TIMEOUT: how long removal waits for the backend to close.
inline constexpr std::chrono::milliseconds kDeviceRemoveTimeout{10'000};

// A 9pfs device a domain already has (either backend kind).
struct ExistingDevice {
    unsigned devid = 0;
    // The frontend's tag (the guest can rewrite it; fine for conflict checks).
    std::string tag;
    // Where its backend directory is, from libxl's copy or else from the
    // frontend's `backend` key once the backend names that frontend back.
    std::optional<std::string> backend;
    std::optional<BackendKind> kind;
};

enum class DevidChoice { kAsGiven, kLowestFree };

struct AddFailure {
    enum class Reason { kXenstore, kDevidTaken, kTagInUse, kNoFreeDevid };
    Reason reason = Reason::kXenstore;
    Errno error{};
    // kDevidTaken, kTagInUse: the device in the way.
    unsigned devid = 0;
};

enum class OnTimeout { kKeepNodes, kRemoveNodes };

class DeviceNodes {
  public:
    // `waiter` is a second connection used only to wait for backend states,
    // so watch events the caller set on `xs` are left alone.
    DeviceNodes(xenstore::Xenstore& xs, xenstore::Xenstore waiter)
        : xs_(xs), waiter_(std::move(waiter)) {}

    // The domain's 9pfs devices, by devid.
    Result<std::vector<ExistingDevice>> list(
        DomId domid, xenstore::Xenstore::Transaction t = xenstore::Xenstore::kNoTransaction);

    // Writes both directories and libxl's copy with libxl's keys, values and
    // permissions, in one transaction (retried on conflict) that also checks
    // that neither the devid nor the tag is used by another 9pfs device of
    // the domain. With kLowestFree, device.devid is ignored and the lowest
    // free devid is taken. Returns the devid used.
    std::expected<unsigned, AddFailure> add(NinePfsDevice device, DevidChoice choice);

    // libxl's removal: backend online=0 and state=5 (Closing), wait up to
    // `timeout` for state 6 (Closed), then remove both directories and
    // libxl's copy. A backend already Closed or gone is not waited for.
    // ENOENT if the domain has no such device. After a timeout, ETIMEDOUT;
    // the nodes are removed anyway with kRemoveNodes (libxl's forced
    // removal), else left in place (backend Closing).
    Status remove(DomId domid, unsigned devid, std::chrono::milliseconds timeout,
                  OnTimeout on_timeout);

  private:
    std::optional<std::string> locate_backend(DomId domid, unsigned devid,
                                              xenstore::Xenstore::Transaction t);
    Result<bool> devid_in_use(const NinePfsDevice& device, const std::vector<ExistingDevice>& have,
                              xenstore::Xenstore::Transaction t);
    Status write_nodes(const NinePfsDevice& device, xenstore::Xenstore::Transaction t);
    Status wait_for_closed(const std::string& state_path, std::chrono::milliseconds timeout);
    Status path_cleanup(const std::string& path, xenstore::Xenstore::Transaction t);

    xenstore::Xenstore& xs_;
    xenstore::Xenstore waiter_;
};

}  // namespace xen9p::toolstack
