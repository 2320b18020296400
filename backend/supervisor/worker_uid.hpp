// The uid a device's worker runs as.
//
// By default the guest's dm_restrict uid, range base + domid: the worker is no
// more privileged than the guest's own QEMU. But a guest gets a new domid each
// time it is created, so under none and mapped-xattr (files owned by the
// worker) its share would need a chown before every attach. A device may name
// a fixed uid instead (`xen9pd attach --worker-uid`, backend key
// toolstack::kWorkerUidKey); fixed uids lie above every domid's, so no device
// model ever runs as one.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "xenring/platform/grant_mapper.hpp"

namespace xen9p::supervisor {

// Domids stop below DOMID_FIRST_RESERVED (0x7ff0): range base + 32768 and up
// are never a device model's uid.
inline constexpr uid_t kFixedWorkerUidFirst = 32768;
inline constexpr uid_t kFixedWorkerUidLast = 65535;

inline uid_t default_worker_uid(uid_t range_base, DomId domid) {
    return range_base + domid;
}

// Why `uid` cannot be a fixed worker uid under `range_base`, if it cannot.
std::optional<std::string> fixed_worker_uid_error(unsigned long long uid, uid_t range_base);

}  // namespace xen9p::supervisor
