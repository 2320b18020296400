// The bytes a peer can make the server hold, bounded: a MemoryBudget is a
// limit and a count; a MemoryCharge is a part of that count, given back when
// it is destroyed; a ChargedBuffer is uninitialised memory paid for by a
// charge. A session has two budgets: one for its request and reply buffers
// (requests wait while it is spent), one for values kept by fids (xattrs:
// refused with ENOMEM past it, since only the peer can give those back).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>

namespace xen9p::server {

class MemoryBudget {
  public:
    explicit MemoryBudget(std::size_t limit) : limit_(limit) {}
    MemoryBudget(const MemoryBudget&) = delete;
    MemoryBudget& operator=(const MemoryBudget&) = delete;

    std::size_t limit() const { return limit_; }
    std::size_t used() const { return used_; }
    std::size_t peak() const { return peak_; }

  private:
    friend class MemoryCharge;
    bool take(std::size_t bytes);
    void give_back(std::size_t bytes) { used_ -= bytes; }

    std::size_t limit_;
    std::size_t used_ = 0;
    std::size_t peak_ = 0;
};

// Move-only; the budget must outlive it.
class MemoryCharge {
  public:
    MemoryCharge() = default;
    // `bytes` of `budget`, or nothing when they do not fit now.
    static std::optional<MemoryCharge> take(MemoryBudget& budget, std::size_t bytes);
    MemoryCharge(MemoryCharge&& other) noexcept;
    MemoryCharge& operator=(MemoryCharge&& other) noexcept;
    MemoryCharge(const MemoryCharge&) = delete;
    MemoryCharge& operator=(const MemoryCharge&) = delete;
    ~MemoryCharge() { reset(); }

    std::size_t bytes() const { return bytes_; }
    void reset();

  private:
    MemoryCharge(MemoryBudget& budget, std::size_t bytes) : budget_(&budget), bytes_(bytes) {}

    MemoryBudget* budget_ = nullptr;
    std::size_t bytes_ = 0;
};

// Memory that is never zero-filled: pages are touched only as data lands in
// them, so resident memory follows what is used, not what is reserved.
class ChargedBuffer {
  public:
    // At least `size` bytes, rounded up to whole pages (the contents are not
    // kept when it grows); false when `budget` cannot pay for the growth now
    // (the buffer is unchanged).
    bool reserve(MemoryBudget& budget, std::size_t size);
    void release();

    std::size_t size() const { return size_; }
    std::byte* data() { return bytes_.get(); }
    std::span<std::byte> span() { return {bytes_.get(), size_}; }

  private:
    static constexpr std::size_t kPage = 4096;

    std::unique_ptr<std::byte[]> bytes_;
    std::size_t size_ = 0;
    MemoryCharge charge_;
};

}  // namespace xen9p::server
