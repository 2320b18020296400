// The order in which a worker gives up the host: everything that needs a
// syscall the sandbox forbids (the io_uring ring) first, then the sandbox,
// then everything that names a path (the export root, its usage scan). A
// directory opened before pivot_root would still lead into the host's tree.
#pragma once

#include <string_view>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/sandbox/sandbox.hpp"
#include "base/errno.hpp"

namespace xen9p::worker {

struct ConfinedExport {
    fs::Export ex;
    sandbox::Confinement confinement;
};

struct ConfinedWorker {
    io::EventLoop loop;
    fs::Export ex;
    sandbox::Confinement confinement;
};

struct ConfinementError {
    enum class Step { kEventLoop, kSandbox, kExport };
    Step step;
    Errno error;
};

std::string_view confinement_step_name(ConfinementError::Step step);
// "pivot_root" or "chroot", for logs.
std::string_view confinement_name(sandbox::Confinement confinement);

// Enters the sandbox of `policy` (whose root is the export) and opens the
// export as "/" with the sandbox's proc: what `xen9pd serve` does once its
// ring and listening socket exist.
std::expected<ConfinedExport, ConfinementError> confine_to_export(
    const sandbox::SandboxPolicy& policy, const fs::ExportConfig& config);

// Creates the (restricted) event loop, enters the sandbox of `policy` (whose
// root is the export) and opens the export as "/" with the sandbox's proc.
// The caller must be single-threaded and root; on error it must exit.
std::expected<ConfinedWorker, ConfinementError> confine_worker(const sandbox::SandboxPolicy& policy,
                                                               const fs::ExportConfig& config);

}  // namespace xen9p::worker
