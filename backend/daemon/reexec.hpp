// How `xen9pd upgrade` runs the daemon's binary again as the same process:
// the supervisor's handover (supervisor/handover.hpp) in a memory file, the
// descriptors it names kept across exec and nothing else, and on the other
// side of exec the handover read back or, when it cannot be, its workers
// ended rather than left serving unsupervised.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "backend/supervisor/handover.hpp"
#include "backend/supervisor/supervisor.hpp"
#include "base/errno.hpp"

namespace xen9p::daemon {

// Added by a supervisor that re-executes itself, with the number of the
// memory file that holds its handover. An option, not the environment: a
// binary that does not know handovers refuses it (exit 2), so the
// descriptors it would inherit close and the workers stop, instead of
// serving with nobody supervising them.
inline constexpr std::string_view kHandoverOption = "--handover-fd";

// The handover of the supervisor this process was before it re-executed
// (`handover_fd`, -1 when it was started afresh). One that cannot be read
// loses its devices: the workers are ended and every inherited descriptor
// closed, and the daemon starts afresh. Called before the process opens
// anything of its own.
std::optional<supervisor::Handover> take_handover(int handover_fd);

// Executes `program` again as this very process (so the workers stay its
// children) with `args` and the handover option, every device and worker
// handed on and `reply` to be answered by the new daemon. Returns only when
// exec failed.
Status reexecute(const std::filesystem::path& program, std::span<const std::string> args,
                 const supervisor::Supervisor& supervisor, int reply);

}  // namespace xen9p::daemon
