// Tversion negotiation: what the server answers and which msize the session uses.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "p9proto/messages.hpp"

namespace xen9p::p9proto {

struct VersionOutcome {
    // Rversion, or the offered dialect's error (EINVAL) when the client offers
    // an msize below kMinMsize.
    ReplyBody reply;
    // The msize of the session when a dialect was agreed; nullopt when the
    // answer was "unknown" or an error and no session exists.
    std::optional<std::uint32_t> msize;
    // The dialect agreed (meaningful with msize).
    Dialect dialect = Dialect::k9P2000L;
};

// The dialect a Tversion string names: exactly "9P2000.L" or "9P2000.u".
std::optional<Dialect> dialect_named(std::string_view version);

// Answers a Tversion. The msize is min(client's, transport_max) (the server
// may only lower it). Exactly "9P2000.L" and "9P2000.u" are accepted; anything
// else, including either with a suffix, gets version "unknown" (protocol rule).
// An msize below kMinMsize cannot carry Rgetattr and the like, and raising it
// would break the client, so it is refused with Rlerror(EINVAL) rather than capped.
VersionOutcome negotiate_version(const Tversion& request, std::uint32_t transport_max_msize);

}  // namespace xen9p::p9proto
