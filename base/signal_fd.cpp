#include "base/signal_fd.hpp"

#include <sys/signalfd.h>

namespace xen9p {

Result<sigset_t> block_signals(std::initializer_list<int> signals) {
    sigset_t set;
    sigemptyset(&set);
    for (const int s : signals)
        sigaddset(&set, s);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return fail_errno();
    return set;
}

Result<UniqueFd> block_and_watch(std::initializer_list<int> signals, int flags) {
    auto set = block_signals(signals);
    if (!set) return std::unexpected(set.error());
    UniqueFd fd(::signalfd(-1, &*set, flags));
    if (!fd) return fail_errno();
    return fd;
}

}  // namespace xen9p
