// The hard cap the kernel enforces under the memory budgets: RLIMIT_DATA
// bounds a process's private writable memory (heap, anonymous mappings) but
// not the shared mappings of rings and io_uring, so it is the budget plus a
// constant for code, libraries and what no budget counts. A process that
// reaches it fails allocations instead of taking the host's memory.
#pragma once

#include <cstddef>

#include "base/errno.hpp"

namespace xen9p::server {

inline constexpr std::size_t kProcessMemoryOverhead = 64 << 20;

// Sets RLIMIT_DATA (soft and hard) to `budget` + kProcessMemoryOverhead.
// A no-op in the sanitizer build, whose shadow memory alone is terabytes of
// reserved data mappings.
Status limit_process_memory(std::size_t budget);

}  // namespace xen9p::server
