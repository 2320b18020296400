// Event channels: one handle, one pollable fd for all its ports.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "base/errno.hpp"
#include "xenring/platform/grant_mapper.hpp"

namespace xen9p::platform {

using Port = std::uint32_t;

class EventChannel;

// A local port; unbound on destruction. Must not outlive its EventChannel.
class BoundPort {
  public:
    BoundPort() = default;
    BoundPort(EventChannel* channel, Port port) : channel_(channel), port_(port) {}
    BoundPort(BoundPort&& other) noexcept
        : channel_(std::exchange(other.channel_, nullptr)), port_(other.port_) {}
    BoundPort& operator=(BoundPort&& other) noexcept {
        if (this != &other) {
            reset();
            channel_ = std::exchange(other.channel_, nullptr);
            port_ = other.port_;
        }
        return *this;
    }
    BoundPort(const BoundPort&) = delete;
    BoundPort& operator=(const BoundPort&) = delete;
    ~BoundPort() { reset(); }

    Port port() const { return port_; }
    explicit operator bool() const { return channel_ != nullptr; }
    void reset();

  private:
    EventChannel* channel_ = nullptr;
    Port port_ = 0;
};

class EventChannel {
  public:
    virtual ~EventChannel() = default;

    // Readable when some bound port has fired; then call pending().
    virtual int fd() const = 0;
    // Backend side: binds the unbound port `remote_port` that `domid` allocated for us.
    virtual Result<BoundPort> bind_interdomain(DomId domid, Port remote_port) = 0;
    // Guest side: allocates a port the domain `remote` may bind.
    virtual Result<BoundPort> bind_unbound(DomId remote) = 0;
    virtual Status notify(Port port) = 0;
    // The next port that fired, or nullopt when none has. The port is then
    // masked, as Xen masks a port it delivered: notifications to it fire no
    // more (they cost the notifier no wake-up of ours) until unmask().
    virtual Result<std::optional<Port>> pending() = 0;
    // Re-arms a port returned by pending(); a notification that came while
    // it was masked makes it fire at once.
    virtual Status unmask(Port port) = 0;
    virtual Status unbind(Port port) = 0;
    // From now on this handle binds interdomain ports of `domid` only and
    // allocates no unbound port (EACCES); ports already bound work on. Once
    // only (EACCES after); `domid` 0 is refused (EINVAL). Linux's
    // IOCTL_EVTCHN_RESTRICT_DOMID (4.8+): what keeps a compromised backend
    // from binding another guest's ports.
    virtual Status restrict_to(DomId domid) = 0;
};

inline void BoundPort::reset() {
    if (channel_ != nullptr) {
        // Unbinding a port we own only fails if the handle is gone; nothing to do then.
        [[maybe_unused]] auto st = std::exchange(channel_, nullptr)->unbind(port_);
    }
}

}  // namespace xen9p::platform
