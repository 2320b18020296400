// How long an event loop polls for news before it goes to sleep. Waking a
// sleeping thread costs more than a queue-depth-1 round trip's own work, so
// while requests keep coming soon after each answer the loop looks for the
// next one a little while instead of sleeping; when they stop coming (an idle
// guest) it soon sleeps at once again. Self-tuning, as KVM's halt polling:
// a wait that polling would have shortened grows the window, a wait longer
// than the largest window shrinks it.
#pragma once

#include <chrono>

namespace xen9p::io {

class PollWindow {
  public:
    // The first window a grown one starts from.
    static constexpr std::chrono::nanoseconds kStart = std::chrono::microseconds(4);

    // `max` 0: never poll.
    explicit PollWindow(std::chrono::nanoseconds max = {}) : max_(max) {}

    std::chrono::nanoseconds max() const { return max_; }
    // How long the next wait polls before it sleeps.
    std::chrono::nanoseconds current() const { return current_; }
    // A wait ended after `waited` (polling and sleeping together).
    void waited(std::chrono::nanoseconds waited);

  private:
    std::chrono::nanoseconds max_;
    std::chrono::nanoseconds current_{};
};

}  // namespace xen9p::io
