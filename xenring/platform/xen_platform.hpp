// The real platform: libxengnttab and libxenevtchn on /dev/xen. On a machine
// without Xen, open() fails (errno of the library, usually ENOENT).
#pragma once

#include <memory>
#include <optional>

#include "xenring/platform/event_channel.hpp"
#include "xenring/platform/grant_mapper.hpp"

typedef struct xengntdev_handle xengnttab_handle;
struct xenevtchn_handle;

namespace xen9p::platform {

class XenGrantMapper final : public GrantMapper {
  public:
    static Result<std::unique_ptr<XenGrantMapper>> open();
    Result<GrantMapping> map(DomId domid, std::span<const GrantRef> refs, bool writable) override;

  private:
    explicit XenGrantMapper(std::shared_ptr<xengnttab_handle> handle)
        : handle_(std::move(handle)) {}
    // Closed (xengnttab_close) with the mapper; mappings only watch it: while
    // it is open they unmap through it, after that with munmap alone.
    std::shared_ptr<xengnttab_handle> handle_;
};

class XenEventChannel final : public EventChannel {
  public:
    static Result<std::unique_ptr<XenEventChannel>> open();
    ~XenEventChannel() override;

    int fd() const override { return fd_; }
    Result<BoundPort> bind_interdomain(DomId domid, Port remote_port) override;
    Result<BoundPort> bind_unbound(DomId remote) override;
    Status notify(Port port) override;
    Result<std::optional<Port>> pending() override;
    Status unmask(Port port) override;
    Status unbind(Port port) override;
    Status restrict_to(DomId domid) override;

  private:
    XenEventChannel(xenevtchn_handle* handle, int fd) : handle_(handle), fd_(fd) {}
    xenevtchn_handle* handle_;
    int fd_;
};

}  // namespace xen9p::platform
