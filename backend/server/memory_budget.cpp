#include "backend/server/memory_budget.hpp"

#include <algorithm>
#include <utility>

namespace xen9p::server {

bool MemoryBudget::take(std::size_t bytes) {
    if (bytes > limit_ - used_) return false;
    used_ += bytes;
    peak_ = std::max(peak_, used_);
    return true;
}

std::optional<MemoryCharge> MemoryCharge::take(MemoryBudget& budget, std::size_t bytes) {
    if (!budget.take(bytes)) return std::nullopt;
    return MemoryCharge(budget, bytes);
}

MemoryCharge::MemoryCharge(MemoryCharge&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

MemoryCharge& MemoryCharge::operator=(MemoryCharge&& other) noexcept {
    if (this != &other) {
        reset();
        budget_ = std::exchange(other.budget_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
}

void MemoryCharge::reset() {
    if (budget_ != nullptr) budget_->give_back(bytes_);
    budget_ = nullptr;
    bytes_ = 0;
}

bool ChargedBuffer::reserve(MemoryBudget& budget, std::size_t size) {
    if (size <= size_) return true;
    // Whole pages, so that a buffer regrows rarely as message sizes vary.
    size = (size + kPage - 1) / kPage * kPage;
    // The old buffer goes before the new one comes: growing costs the difference.
    if (size - size_ > budget.limit() - budget.used()) return false;
    release();
    charge_ = std::move(*MemoryCharge::take(budget, size));
    bytes_ = std::make_unique_for_overwrite<std::byte[]>(size);
    size_ = size;
    return true;
}

void ChargedBuffer::release() {
    bytes_.reset();
    size_ = 0;
    charge_.reset();
}

}  // namespace xen9p::server
