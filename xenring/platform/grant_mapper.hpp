// Mapping a domain's granted pages (backend side) and granting our own pages
// (guest side, used by the simulated frontend).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <utility>

#include "base/domid.hpp"
#include "base/errno.hpp"

namespace xen9p::platform {

using GrantRef = std::uint32_t;

// A contiguous mapping of granted pages; unmapped on destruction.
class GrantMapping {
  public:
    using Release = std::function<void(std::span<std::byte>)>;

    GrantMapping() = default;
    GrantMapping(std::span<std::byte> bytes, Release release)
        : bytes_(bytes), release_(std::move(release)) {}
    GrantMapping(GrantMapping&& other) noexcept
        : bytes_(std::exchange(other.bytes_, {})), release_(std::exchange(other.release_, {})) {}
    GrantMapping& operator=(GrantMapping&& other) noexcept {
        if (this != &other) {
            reset();
            bytes_ = std::exchange(other.bytes_, {});
            release_ = std::exchange(other.release_, {});
        }
        return *this;
    }
    GrantMapping(const GrantMapping&) = delete;
    GrantMapping& operator=(const GrantMapping&) = delete;
    ~GrantMapping() { reset(); }

    std::span<std::byte> bytes() const { return bytes_; }
    explicit operator bool() const { return !bytes_.empty(); }

    void reset() {
        if (release_) std::exchange(release_, {})(std::exchange(bytes_, {}));
    }

  private:
    std::span<std::byte> bytes_;
    Release release_;
};

class GrantMapper {
  public:
    // Destroying the mapper closes its handle: nothing more can be mapped
    // through it, while the mappings it made stay valid until they are reset
    // (a gntdev mapping outlives its fd). So a backend maps what it needs,
    // then drops the mapper, and keeps no way to map other grants.
    virtual ~GrantMapper() = default;

    // Maps `refs` granted by `domid` to us, contiguously, in order. Fails
    // (nothing mapped) if any ref was not granted to us, or read-only when
    // `writable`.
    virtual Result<GrantMapping> map(DomId domid, std::span<const GrantRef> refs,
                                     bool writable) = 0;
};

}  // namespace xen9p::platform
