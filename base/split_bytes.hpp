// Bytes that lie in one piece, or in two where a ring wraps: `first`, then
// `second` (empty unless it wraps).
#pragma once

#include <cstddef>
#include <span>

namespace xen9p {

struct SplitBytes {
    std::span<const std::byte> first;
    std::span<const std::byte> second;

    std::size_t size() const { return first.size() + second.size(); }
    bool empty() const { return size() == 0; }
};

}  // namespace xen9p
