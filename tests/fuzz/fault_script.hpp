// Guest memory that changes under the code reading it (double fetch), for the
// ring fuzzer. An arena is mapped inaccessible; only the windows the code under
// test may use are opened, so any access outside them (or a write to a
// read-only window) aborts with a message. While a script is armed the windows
// are closed too: every access faults, the SIGSEGV handler applies the next
// scripted change, opens the windows for exactly one instruction (x86 trap
// flag) and closes them again from the SIGTRAP handler. x86-64 Linux only;
// one arena per process (the handlers are process-wide).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace xen9p::fuzz {

enum class Access { kNone, kRead, kReadWrite };

struct Window {
    std::byte* at = nullptr;  // page-aligned
    std::size_t size = 0;     // a multiple of the page size
    Access access = Access::kNone;
};

// One store into a window: what the guest writes just before the next access.
struct Change {
    std::byte* at = nullptr;
    std::uint32_t value = 0;
    std::uint8_t width = 4;  // 1 or 4 bytes
};

inline constexpr std::size_t kMaxWindows = 4;
inline constexpr std::size_t kMaxChanges = 32;

class FaultScript {
  public:
    // Maps `size` bytes (page-rounded), all inaccessible, and installs the
    // handlers; aborts on failure. Call once.
    static FaultScript& create(std::size_t size);

    std::byte* arena() const;
    std::size_t arena_size() const;

    // Opens exactly these windows (everything else in the arena closes).
    void set_windows(std::span<const Window> windows);

    // The next accesses to the windows each apply one change first (at most
    // kMaxChanges). Changes must lie inside the windows.
    void arm(std::span<const Change> changes);

    // Stops the script (windows open as set) and returns how many changes were applied.
    std::size_t disarm();

  private:
    FaultScript() = default;
};

}  // namespace xen9p::fuzz
