// What a compromised process could do with the connections to the simulated
// hypervisor it holds: tests take them out of a running process (pidfd_getfd,
// which needs ptrace rights over it) and send requests on them as that process
// would, to show the hypervisor refuses what it must.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <vector>

#include "base/errno.hpp"
#include "base/unique_fd.hpp"
#include "sim/wire.hpp"

namespace xen9p::sim {

// Copies of every descriptor of `pid` connected to the hypervisor socket
// `socket` (a domain's hypervisor.sock).
Result<std::vector<UniqueFd>> connections_of(pid_t pid, const std::filesystem::path& socket);

// Sends `request` (with `count` refs when it is a map) on `connection` and
// waits for the reply: its errno, 0 when the hypervisor did it. Descriptors
// in the reply are closed.
Result<int> call_raw(int connection, const Request& request);

}  // namespace xen9p::sim
