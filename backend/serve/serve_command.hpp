// `xen9pd serve`: one export served over a unix or TCP socket listener, in the
// foreground, on one io_uring event loop (no Xen, no supervisor). What diod's
// client tools and the socket tests talk to.
#pragma once

#include <span>
#include <string>

namespace xen9p::serve {

// Options: --export DIR --listen unix:PATH|tcp:ADDR:PORT [--security-model M]
// [--read-only] [--max-fids N] [--max-open-files N] [--max-files N]
// [--max-space MIB] [--auto-delete] [--max-in-flight N] [--log-level L].
// Confined (run as root without --no-sandbox), the serving runs in a child,
// PID 1 of a PID namespace of its own; this process only waits for it.
// Returns the exit status (2 for bad options).
int serve_command(std::span<const std::string> args);

}  // namespace xen9p::serve
