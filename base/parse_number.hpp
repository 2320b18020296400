// Numbers from text: parse_decimal, strict and bounded, for what an untrusted
// writer controls (xenstore values, names); parse_number<T>, std::from_chars
// over the whole text, for sites that have always taken what it takes.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>

namespace xen9p {

// A decimal number with no sign, no leading zeros (except "0"), no spaces,
// and no more than `max`.
std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max);

// The whole of `text` as one decimal T, as std::from_chars reads it: leading
// zeros are taken ("007" is 7), '-' only for a signed T, no '+', no spaces;
// empty, trailing characters or a value outside T give nullopt.
template <std::integral T>
std::optional<T> parse_number(std::string_view text) {
    T value{};
    const char* const last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(text.data(), last, value);
    if (ec != std::errc() || end != last) return std::nullopt;
    return value;
}

}  // namespace xen9p
