// The worker's privilege drop: after a device's rings, ports and export are
// open, the worker confines itself to the export and to the uid of the guest's
// restricted device model, and keeps only what its security model needs.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::sandbox {

struct SandboxPolicy {
    uid_t uid = 0;  // range_base + domid; 0 is refused
    gid_t gid = 0;
    // Becomes "/" of the worker: a private mount namespace with the export
    // (nodev, nosuid, noexec) pivoted to the root, or moved over "/" and
    // chrooted into where "/" is rootfs. Fails where mount namespaces are
    // unavailable: there is no confinement without one.
    std::filesystem::path root;
    rlim_t max_open_files = 1024;
    // Capabilities (CAP_* numbers) kept in the permitted and effective sets,
    // e.g. what the passthrough security model needs. Empty: none at all.
    std::vector<int> keep_capabilities;
    bool install_seccomp = true;
    // A pidfd of the caller's parent, or -1. Given, the sandboxed process is
    // killed (SIGKILL) when that parent exits, however it exits: set after the
    // uid change, which clears it; entering fails with ESRCH if the parent is
    // already gone. What `xen9pd serve` uses so its serving child never
    // outlives the process that started it.
    int parent_pidfd = -1;
};

// How the root was confined, for logs.
enum class Confinement { kPivotRoot, kChroot };

struct SandboxReport {
    Confinement confinement = Confinement::kPivotRoot;
    // Directory fd of self/fd in a proc instance private to the sandbox
    // (pid directories only, processes it may not ptrace hidden): what fs::Export
    // re-opens O_PATH fds through. Nothing else of proc, and nothing of the
    // host's, is reachable from it.
    UniqueFd proc_fd;
};

// Applies the policy to the calling process, which must be single-threaded
// and root. Order: mount namespace, private proc (detached), export bound
// nodev/nosuid/noexec, pivot_root and the old root detached (or, on rootfs,
// the export moved over "/" and chroot), then not dumpable,
// supplementary groups dropped, setresgid/setresuid, capabilities, parent
// death signal, no_new_privs, rlimits, seccomp. Each step's failure is returned; the caller
// must then exit. A directory the caller opened before still reaches the host's
// tree: open everything that names a path afterwards.
Result<SandboxReport> enter_sandbox(const SandboxPolicy& policy);

// Capability numbers for a security model name: passthrough needs to act as
// any owner; none and mapped-xattr need nothing.
std::vector<int> capabilities_for_security_model(const std::string& model);

// Installs only the seccomp allow-list (kill on anything else). Exposed for tests.
Status install_seccomp_allow_list();

}  // namespace xen9p::sandbox
