// Wire messages between the simulated hypervisor (sim/) and its clients (the
// sim platform beside this file). One request or reply per SOCK_SEQPACKET
// message; file descriptors travel as SCM_RIGHTS. The caller's domain is the
// socket it connected to, never a field of the request.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xen9p::platform::sim_protocol {

enum class Op : std::uint32_t {
    share_memory = 1,  // fds[0] = memfd of the caller's pages; arg = page count
    grant,             // domid = grantee, arg = page index, writable -> value = ref
    revoke,            // arg = ref (EBUSY while mapped)
    map,               // domid = granter, refs[count], writable -> value = mapping id,
                       // fds[0] = memfd, offsets[count]
    unmap,             // arg = mapping id
    alloc_unbound,     // domid = remote -> value = port, fds = {own, peer} eventfds
    bind_interdomain,  // domid = remote, arg = remote port -> value = port, fds as above
    close_port,        // arg = port
    open,              // arg = Device; first request of a connection, once
    close_mapper,      // the mapper's handle is closed: map gets EBADF from now
                       // on; its mappings stay until unmapped (a gntdev mapping
                       // outlives its fd)
    restrict_domid,    // domid: bind_interdomain only to domid, alloc_unbound
                       // refused (EACCES), once (IOCTL_EVTCHN_RESTRICT_DOMID)
};

enum class Device : std::uint32_t {
    grant_mapper = 1,  // map, unmap, close_mapper
    grant_sharer,      // share_memory, grant, revoke
    event_channel,     // alloc_unbound, bind_interdomain, close_port, restrict_domid
};

inline constexpr std::size_t kMaxRefsPerMap = 1024;
inline constexpr std::size_t kPageSize = 4096;

struct Request {
    Op op{};
    std::uint32_t domid = 0;
    std::uint32_t arg = 0;
    std::uint32_t writable = 0;
    std::uint32_t count = 0;
    std::uint32_t refs[kMaxRefsPerMap];
};

struct Reply {
    std::int32_t error = 0;  // 0 or a positive errno
    std::uint32_t value = 0;
    std::uint32_t count = 0;
    std::uint32_t pad = 0;
    std::uint64_t offsets[kMaxRefsPerMap];
};

inline constexpr std::size_t kRequestHeader = offsetof(Request, refs);
inline constexpr std::size_t kReplyHeader = offsetof(Reply, offsets);

}  // namespace xen9p::platform::sim_protocol
