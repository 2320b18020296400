// `xen9pd worker --control-fd N`: the process that serves one Xen 9pfs device.
// The supervisor starts it (ProcessWorkerLauncher) and sends its parameters on
// the control socket; it maps the device's rings, binds its event channels,
// opens the export, enters the sandbox, reports ready and serves until it is
// told to stop (SIGTERM, or the control socket closing) or the guest breaks the
// ring protocol. Exit status: 0 when stopped, 1 when the device failed.
#pragma once

#include <span>
#include <string>

namespace xen9p::worker {

int worker_command(std::span<const std::string> args);

}  // namespace xen9p::worker
