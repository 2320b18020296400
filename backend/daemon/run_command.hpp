// The Xen daemon's subcommands, each taking the arguments after its name and
// returning the process exit status (2 for configuration errors).
#pragma once

#include <span>
#include <string>

namespace xen9p::daemon {

// `xen9pd [run] [options]`: the supervisor, in the foreground.
int run_command(std::span<const std::string> args);

// `xen9pd status [--control-socket PATH]`: per-device state from the supervisor.
int status_command(std::span<const std::string> args);

// `xen9pd upgrade [--control-socket PATH]`: the daemon executes its file
// again (a new binary, once installed) and hands every device and its
// running worker to the new supervisor; exits 0 once that one confirms.
int upgrade_command(std::span<const std::string> args);

}  // namespace xen9p::daemon
