// Numbers from untrusted text (xenstore values, options, names): strict
// decimal with an upper bound, so that no caller can forget a check.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace xen9p {

// A decimal number with no sign, no leading zeros (except "0"), no spaces,
// and no more than `max`.
std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max);

}  // namespace xen9p
