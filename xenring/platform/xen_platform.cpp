#include "xenring/platform/xen_platform.hpp"

#include <poll.h>
#include <sys/mman.h>

// The Xen tool headers do not declare C linkage themselves.
extern "C" {
#include <xenevtchn.h>
#include <xengnttab.h>
}

#include <cerrno>
#include <vector>

namespace xen9p::platform {

namespace {
constexpr std::size_t kXenPageSize = 4096;
}

Result<std::unique_ptr<XenGrantMapper>> XenGrantMapper::open() {
    xengnttab_handle* handle = xengnttab_open(nullptr, 0);
    if (handle == nullptr) return fail(errno != 0 ? errno : ENOENT);
    return std::unique_ptr<XenGrantMapper>(new XenGrantMapper(std::shared_ptr<xengnttab_handle>(
        handle, [](xengnttab_handle* h) { xengnttab_close(h); })));
}

Result<GrantMapping> XenGrantMapper::map(DomId domid, std::span<const GrantRef> refs,
                                         bool writable) {
    if (refs.empty()) return fail(EINVAL);
    std::vector<std::uint32_t> copy(refs.begin(), refs.end());
    const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void* base = xengnttab_map_domain_grant_refs(
        handle_.get(), static_cast<std::uint32_t>(copy.size()), domid, copy.data(), prot);
    if (base == nullptr) return fail_errno();
    const auto count = static_cast<std::uint32_t>(copy.size());
    auto unmap = [handle = std::weak_ptr(handle_), count](std::span<std::byte> bytes) {
        if (auto open = handle.lock()) {
            // Unmapping our own mapping cannot fail short of a bug in the driver.
            [[maybe_unused]] int rc = xengnttab_unmap(open.get(), bytes.data(), count);
            return;
        }
        // The handle is closed, but the mapping (its vma) keeps gntdev's file
        // open: munmap drops that, and Linux unmaps the grants when the file
        // is released, once the last mapping made through it is gone.
        ::munmap(bytes.data(), bytes.size());
    };
    return GrantMapping({static_cast<std::byte*>(base), count * kXenPageSize}, std::move(unmap));
}

Result<std::unique_ptr<XenEventChannel>> XenEventChannel::open() {
    xenevtchn_handle* handle = xenevtchn_open(nullptr, 0);
    if (handle == nullptr) return fail(errno != 0 ? errno : ENOENT);
    const int fd = xenevtchn_fd(handle);
    if (fd < 0) {
        const int err = errno;
        xenevtchn_close(handle);
        return fail(err);
    }
    return std::unique_ptr<XenEventChannel>(new XenEventChannel(handle, fd));
}

XenEventChannel::~XenEventChannel() {
    xenevtchn_close(handle_);
}

Result<BoundPort> XenEventChannel::bind_interdomain(DomId domid, Port remote_port) {
    const xenevtchn_port_or_error_t port = xenevtchn_bind_interdomain(handle_, domid, remote_port);
    if (port < 0) return fail_errno();
    return BoundPort(this, static_cast<Port>(port));
}

Result<BoundPort> XenEventChannel::bind_unbound(DomId remote) {
    const xenevtchn_port_or_error_t port = xenevtchn_bind_unbound_port(handle_, remote);
    if (port < 0) return fail_errno();
    return BoundPort(this, static_cast<Port>(port));
}

Status XenEventChannel::notify(Port port) {
    if (xenevtchn_notify(handle_, port) != 0) return fail_errno();
    return {};
}

Status XenEventChannel::restrict_to(DomId domid) {
    if (xenevtchn_restrict(handle_, domid) != 0) return fail_errno();
    return {};
}

Result<std::optional<Port>> XenEventChannel::pending() {
    // xenevtchn_pending blocks when nothing fired; only call it when readable.
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, 0);
    if (ready < 0) return fail_errno();
    if (ready == 0) return std::nullopt;
    const xenevtchn_port_or_error_t port = xenevtchn_pending(handle_);
    if (port < 0) return fail_errno();
    return static_cast<Port>(port);
}

Status XenEventChannel::unmask(Port port) {
    if (xenevtchn_unmask(handle_, port) != 0) return fail_errno();
    return {};
}

Status XenEventChannel::unbind(Port port) {
    if (xenevtchn_unbind(handle_, port) != 0) return fail_errno();
    return {};
}

}  // namespace xen9p::platform
