// Running the rest of a command as PID 1 of a fresh PID namespace, with the
// calling process left behind as a plain supervisor of it. What `xen9pd serve`
// does before it confines itself: a private proc then shows the sandboxed
// process alone, not every process of its uid (whose /proc/<pid>/root and
// /proc/<pid>/mem lead out of any sandbox).
#pragma once

#include <functional>

#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::serve {

// Forks the caller (root, single-threaded) into PID 1 of a new PID namespace
// and runs `body` there with a pidfd of the parent (for
// SandboxPolicy::parent_pidfd). SIGINT and SIGTERM are blocked in both from
// before the fork on: an init drops signals it neither handles nor blocks, so
// `body` must read them (signalfd). The parent holds only the child's pidfd
// and a signalfd: it forwards SIGINT and SIGTERM to the child and waits for it.
// Returns, in each process, the status that process should exit with: the
// child's is what `body` returned, the parent's is the child's exit code (or
// 128 + the signal that killed it). An error means no child was started.
Result<int> run_as_pid_namespace_init(const std::function<int(UniqueFd parent_pidfd)>& body);

}  // namespace xen9p::serve
