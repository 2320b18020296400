// An interface page plus data area in one shared anonymous mapping, so a
// forked child sees the same bytes (the stand-in for granted guest pages).
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>

#include "xenring/ring/data_intf.hpp"

namespace xen9p::ring::test {

class SharedRing {
  public:
    explicit SharedRing(unsigned order)
        : order_(order), bytes_(kXenPageSize + data_area_size(order)) {
        void* p =
            ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
        base_ = static_cast<std::byte*>(p);
        intf().ring_order = order;
    }
    SharedRing(const SharedRing&) = delete;
    SharedRing& operator=(const SharedRing&) = delete;
    ~SharedRing() { ::munmap(base_, bytes_); }

    DataIntf& intf() { return *reinterpret_cast<DataIntf*>(base_); }
    std::span<std::byte> data() { return {base_ + kXenPageSize, data_area_size(order_)}; }
    std::span<std::byte> in_half() { return data().first(flex_ring_size(order_)); }
    std::span<std::byte> out_half() { return data().subspan(flex_ring_size(order_)); }
    unsigned order() const { return order_; }

    // Starts all four indices at `start` (to exercise the 2^32 wrap).
    void set_indices(std::uint32_t start) {
        intf().in_cons = intf().in_prod = intf().out_cons = intf().out_prod = start;
    }

  private:
    unsigned order_;
    std::size_t bytes_;
    std::byte* base_;
};

// A 9P-shaped message: size[4] id[1] tag[2] then `size - 7` pattern bytes
// derived from `seq`, so a receiver can check every byte.
inline std::uint64_t pattern_seed(std::uint32_t seq) {
    return seq * 0x9E3779B97F4A7C15ull + 1;
}

inline std::uint64_t pattern_next(std::uint64_t& x) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

inline void fill_message(std::span<std::byte> msg, std::uint32_t seq) {
    const auto size = static_cast<std::uint32_t>(msg.size());
    for (int i = 0; i < 4; ++i)
        msg[i] = std::byte(size >> (8 * i));
    msg[4] = std::byte(100);
    msg[5] = std::byte(seq & 0xff);
    msg[6] = std::byte((seq >> 8) & 0xff);
    std::uint64_t x = pattern_seed(seq);
    for (std::size_t i = 7; i < msg.size(); i += 8) {
        const std::uint64_t word = pattern_next(x);
        std::memcpy(msg.data() + i, &word, std::min<std::size_t>(8, msg.size() - i));
    }
}

inline bool check_message(std::span<const std::byte> msg, std::uint32_t seq) {
    if (msg.size() < 7 || msg[5] != std::byte(seq & 0xff) || msg[6] != std::byte((seq >> 8) & 0xff))
        return false;
    std::uint64_t x = pattern_seed(seq);
    for (std::size_t i = 7; i < msg.size(); i += 8) {
        const std::uint64_t word = pattern_next(x);
        if (std::memcmp(msg.data() + i, &word, std::min<std::size_t>(8, msg.size() - i)) != 0)
            return false;
    }
    return true;
}

}  // namespace xen9p::ring::test
