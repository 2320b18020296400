// Who a request acts for, and the credential switch the security model asks for:
// under `passthrough` the guest's uid/gid own new files and the host checks
// permissions against them (fsuid/fsgid of the calling thread, switched for the
// duration of one operation); under `none` and `mapped-xattr` the server's own
// identity does everything, and `none` then hands new nodes to the caller where
// the server may (adopt_owner).
#pragma once

#include <sys/types.h>

#include "backend/fs/export.hpp"
#include "base/errno.hpp"

namespace xen9p::fs {

struct Caller {
    uid_t uid = 0;
    gid_t gid = 0;
    // The attach named the uid (n_uname). Under `none` only such a caller is
    // given what it creates: QEMU passes uid -1, "leave the owner", otherwise.
    bool named = true;
};

// Sets the thread's fsuid/fsgid to the caller's under passthrough and restores
// them on destruction. Per-thread (raw setfsuid/setfsgid), so other threads and
// io_uring work submitted outside its scope are unaffected. Supplementary groups
// are not switched: the worker has none.
// Capabilities follow the caller too: the kernel lowers the effective set only
// when the fsuid leaves 0, and a worker's own fsuid is not 0, so a non-root
// caller's request runs with the effective set emptied (capset; the permitted
// set stays) and a root caller's with the passthrough set; both are put back
// to the sets the export was opened with.
class CredGuard {
  public:
    CredGuard(const Export& ex, Caller who, gid_t gid);
    CredGuard(const Export& ex, Caller who) : CredGuard(ex, who, who.gid) {}
    ~CredGuard();
    CredGuard(const CredGuard&) = delete;
    CredGuard& operator=(const CredGuard&) = delete;

    // False when the switch did not take (no CAP_SETUID/CAP_SETGID): the
    // operation must then fail with EPERM rather than run as the server.
    bool ok() const { return ok_; }

  private:
    const CapabilitySets* rest_ = nullptr;  // the sets to restore
    bool active_ = false;
    bool ok_ = true;
    bool lowered_ = false;  // the effective set was emptied for the caller
    bool raised_ = false;   // the fsuid went to 0: the kernel changes the set on the way back
    uid_t old_uid_ = 0;
    gid_t old_gid_ = 0;
};

// Under `none`, gives a node the server just created (fd: the node itself, O_PATH
// or open) the caller's uid and `gid` when the caller is `named`, as QEMU's
// `none` model does; EPERM and EINVAL (an unprivileged server, an id outside its
// namespace) are ignored and the node stays the server's. Other models: nothing to do (passthrough
// created it as the caller, mapped-xattr stores the ids in user.virtfs.*).
Status adopt_owner(const Export& ex, int fd, Caller who, gid_t gid);

}  // namespace xen9p::fs
