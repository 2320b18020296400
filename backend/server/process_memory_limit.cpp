#include "backend/server/process_memory_limit.hpp"

#include <sys/resource.h>

namespace xen9p::server {

Status limit_process_memory(std::size_t budget) {
#ifdef XEN9P_SANITIZE
    (void)budget;
    return {};
#else
    const rlimit limit{budget + kProcessMemoryOverhead, budget + kProcessMemoryOverhead};
    if (::setrlimit(RLIMIT_DATA, &limit) != 0) return fail_errno();
    return {};
#endif
}

}  // namespace xen9p::server
