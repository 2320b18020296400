// Signals as events: blocked for the process and read from a signalfd, so an
// event loop handles them between events instead of in a handler.
#pragma once

#include <signal.h>

#include <initializer_list>

#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p {

// Blocks `signals` in the calling thread (the mask crosses fork and exec, so
// children start with them blocked too). Returns the set, or the errno of
// sigprocmask.
Result<sigset_t> block_signals(std::initializer_list<int> signals);

// Blocks `signals` as block_signals does and returns a signalfd that reads
// them; `flags` are signalfd's (SFD_CLOEXEC, SFD_NONBLOCK). Returns the errno
// of sigprocmask or signalfd on failure (the signals then may stay blocked).
Result<UniqueFd> block_and_watch(std::initializer_list<int> signals, int flags);

}  // namespace xen9p
