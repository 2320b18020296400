// Host errno to the errno carried by Rlerror. The wire carries Linux numbers;
// on a Linux host they are the same, but every value is checked explicitly so
// that nothing outside 1..4095 (which the client turns into EPROTO) is sent.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/errno.hpp"

namespace xen9p::p9proto {

// The Linux errno to put in Rlerror for a host error. Unknown or out-of-range
// values become EIO.
std::uint32_t wire_errno(Errno host);

// The ename of a 9P2000.u Rerror for a wire errno: the C library's message
// ("No such file or directory", which the Linux client also maps back),
// at most kMaxEnameLength bytes; "Unknown error" for a number it lacks.
std::string_view error_text(std::uint32_t wire);

}  // namespace xen9p::p9proto
