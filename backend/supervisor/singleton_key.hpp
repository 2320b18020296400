// The xen-9pfsd singleton key: /local/domain/<self>/libxl/xen-9pfs/{state,pid}.
// libxl (4.19+) spawns /usr/lib/xen-4.NN/bin/xen-9pfsd only while `state` is
// absent and then waits for it to read "running", so whoever owns the key
// serves every type=xen_9pfsd device of that backend domain.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "base/domid.hpp"
#include "base/errno.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::supervisor {

// Whether `pid` is a live 9pfs daemon: a process running the same executable
// file as `own_executable` (another xen9pd, not one of its workers), or the
// stock xen-9pfsd. A dead pid, or one the kernel gave to an unrelated process
// since, is not: a key left by a daemon killed with SIGKILL names such a pid.
// When the process cannot be inspected (no permission) it counts as a daemon,
// so that xen9pd never takes a live daemon's devices by mistake.
bool is_nine_pfs_daemon(pid_t pid, const std::filesystem::path& own_executable);

enum class ClaimOutcome { kClaimed, kOtherDaemonRunning };

class SingletonKey {
  public:
    explicit SingletonKey(DomId self_domid);

    // Writes state "running" and our pid, in one transaction, unless the key
    // names a live 9pfs daemon (is_nine_pfs_daemon). A stale key is taken
    // over, and said so in the log.
    Result<ClaimOutcome> claim(xenstore::Xenstore& xs) const;

    // Removes the key if it still names this process (another daemon may
    // have taken it over meanwhile). Called on every exit path that runs code.
    void release(xenstore::Xenstore& xs) const;

    const std::string& path() const { return base_; }

  private:
    std::string base_;
};

}  // namespace xen9p::supervisor
