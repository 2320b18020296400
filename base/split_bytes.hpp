// Bytes that lie in one piece, or in two where a ring wraps: `first`, then
// `second` (empty unless it wraps).
#pragma once

#include <cstddef>
#include <span>

namespace xen9p {

template <typename Byte>
struct BasicSplitBytes {
    std::span<Byte> first;
    std::span<Byte> second;

    std::size_t size() const { return first.size() + second.size(); }
    bool empty() const { return size() == 0; }
};

using SplitBytes = BasicSplitBytes<const std::byte>;
// Where a transport lets the server place bytes itself (a reply's data).
using MutableSplitBytes = BasicSplitBytes<std::byte>;

}  // namespace xen9p
