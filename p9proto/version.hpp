// Tversion negotiation: what the server answers and which msize the session uses.
#pragma once

#include <cstdint>
#include <optional>

#include "p9proto/messages.hpp"

namespace xen9p::p9proto {

struct VersionOutcome {
    // Rversion, or Rlerror(EINVAL) when the client offers an msize below kMinMsize.
    ReplyBody reply;
    // The msize of the session when "9P2000.L" was agreed; nullopt when the
    // answer was "unknown" or Rlerror and no session exists.
    std::optional<std::uint32_t> msize;
};

// Answers a Tversion. The msize is min(client's, transport_max) (the server
// may only lower it). Exactly "9P2000.L" is accepted; anything else, including
// "9P2000.L" with a suffix or "9P2000.u", gets version "unknown" (protocol rule).
// An msize below kMinMsize cannot carry Rgetattr and the like, and raising it
// would break the client, so it is refused with Rlerror(EINVAL) rather than capped.
VersionOutcome negotiate_version(const Tversion& request, std::uint32_t transport_max_msize);

}  // namespace xen9p::p9proto
