// The P9_DOTL_* open/create flags and their translation to and from host O_* flags.
#pragma once

#include <cstdint>

namespace xen9p::p9proto {

namespace dotl {
inline constexpr std::uint32_t kRdonly = 00000000;
inline constexpr std::uint32_t kWronly = 00000001;
inline constexpr std::uint32_t kRdwr = 00000002;
inline constexpr std::uint32_t kNoaccess = 00000003;
inline constexpr std::uint32_t kAccmode = 00000003;
inline constexpr std::uint32_t kCreate = 00000100;
inline constexpr std::uint32_t kExcl = 00000200;
inline constexpr std::uint32_t kNoctty = 00000400;
inline constexpr std::uint32_t kTrunc = 00001000;
inline constexpr std::uint32_t kAppend = 00002000;
inline constexpr std::uint32_t kNonblock = 00004000;
inline constexpr std::uint32_t kDsync = 00010000;
inline constexpr std::uint32_t kFasync = 00020000;
inline constexpr std::uint32_t kDirect = 00040000;
inline constexpr std::uint32_t kLargefile = 00100000;
inline constexpr std::uint32_t kDirectory = 00200000;
inline constexpr std::uint32_t kNofollow = 00400000;
inline constexpr std::uint32_t kNoatime = 01000000;
inline constexpr std::uint32_t kCloexec = 02000000;
inline constexpr std::uint32_t kSync = 04000000;
}  // namespace dotl

// Host open(2) flags for a 9P2000.L flag word. Flags a server must not honour
// on behalf of a guest (NOCTTY, FASYNC, CLOEXEC, NOFOLLOW semantics are the
// server's own) are dropped; the access mode is kept as sent.
int host_open_flags(std::uint32_t dotl_flags);

// 9P2000.L flag word for host open(2) flags (what a client sends).
std::uint32_t dotl_open_flags(int host_flags);

}  // namespace xen9p::p9proto
