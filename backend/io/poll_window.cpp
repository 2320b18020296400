#include "backend/io/poll_window.hpp"

#include <algorithm>

namespace xen9p::io {

void PollWindow::waited(std::chrono::nanoseconds waited) {
    if (waited <= current_) return;  // polling found it: the window is right
    if (waited <= max_) {
        // A longer poll would have found it without sleeping.
        current_ = std::min(max_, std::max(kStart, current_ * 2));
    } else {
        // No poll within bounds would have: stop spending CPU on it.
        current_ /= 2;
        if (current_ < kStart) current_ = {};
    }
}

}  // namespace xen9p::io
