// Deterministic pseudo-random numbers (xorshift64): the same sequence for
// every target and every run, so their offsets and names compare.
#pragma once

#include <cstdint>

namespace xen9p::bench {

class Random {
  public:
    explicit Random(std::uint64_t seed) : state_(seed | 1) {}
    std::uint64_t next() {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        return state_;
    }

  private:
    std::uint64_t state_;
};

}  // namespace xen9p::bench
