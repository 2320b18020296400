// xen9pd: `run` (default) is the Xen supervisor, `status` asks it for device
// states, `upgrade` has it execute its (new) binary keeping every device, `attach`/`detach` add and
// remove a running guest's device as libxl does, `serve` exports one directory over a socket,
// `worker` serves one device for the supervisor.
#include <string>
#include <vector>

#include "backend/cli/commands.hpp"
#include "backend/daemon/run_command.hpp"
#include "backend/serve/serve_command.hpp"
#include "backend/worker/worker_command.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::span<const std::string> rest(args);
    if (!args.empty() && args[0] == "serve") return xen9p::serve::serve_command(rest.subspan(1));
    if (!args.empty() && args[0] == "status") return xen9p::daemon::status_command(rest.subspan(1));
    if (!args.empty() && args[0] == "upgrade")
        return xen9p::daemon::upgrade_command(rest.subspan(1));
    if (!args.empty() && args[0] == "attach") return xen9p::cli::attach_command(rest.subspan(1));
    if (!args.empty() && args[0] == "detach") return xen9p::cli::detach_command(rest.subspan(1));
    if (!args.empty() && args[0] == "worker") return xen9p::worker::worker_command(rest.subspan(1));
    if (!args.empty() && args[0] == "run") return xen9p::daemon::run_command(rest.subspan(1));
    return xen9p::daemon::run_command(rest);
}
