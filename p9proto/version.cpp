#include "p9proto/version.hpp"

#include <algorithm>
#include <cerrno>

namespace xen9p::p9proto {

VersionOutcome negotiate_version(const Tversion& request, std::uint32_t transport_max_msize) {
    const std::uint32_t msize = std::min(request.msize, transport_max_msize);
    if (msize < kMinMsize) return {Rlerror{EINVAL}, std::nullopt};
    if (request.version.str != kVersion9P2000L) {
        return {Rversion{msize, Text{kVersionUnknown}}, std::nullopt};
    }
    return {Rversion{msize, Text{kVersion9P2000L}}, msize};
}

}  // namespace xen9p::p9proto
