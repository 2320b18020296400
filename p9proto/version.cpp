#include "p9proto/version.hpp"

#include <algorithm>
#include <cerrno>

namespace xen9p::p9proto {

std::optional<Dialect> dialect_named(std::string_view version) {
    if (version == kVersion9P2000L) return Dialect::k9P2000L;
    if (version == kVersion9P2000u) return Dialect::k9P2000u;
    return std::nullopt;
}

VersionOutcome negotiate_version(const Tversion& request, std::uint32_t transport_max_msize) {
    const std::uint32_t msize = std::min(request.msize, transport_max_msize);
    const auto dialect = dialect_named(request.version.str);
    if (msize < kMinMsize) {
        // Answered in the offered dialect, so that its client can read it.
        if (dialect == Dialect::k9P2000u) {
            return {Rerror{Text{"Invalid argument"}, EINVAL}, std::nullopt};
        }
        return {Rlerror{EINVAL}, std::nullopt};
    }
    if (!dialect) return {Rversion{msize, Text{kVersionUnknown}}, std::nullopt};
    return {Rversion{msize, request.version}, msize, *dialect};
}

}  // namespace xen9p::p9proto
