// How a 9P client moves whole messages: one encoded T-message out, one whole
// R-message in. Implemented over stream sockets (framed by size[4]) and over
// the Xen 9pfs rings of the user-space frontend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "p9proto/errno.hpp"

namespace xen9p::client {

// One request as the transport sees it. `reply_capacity` is the largest reply
// the client accepts for it (proto::reply_capacity), so a transport that drops
// oversized replies the way Linux trans_xen does can do so by tag.
struct OutgoingMessage {
    std::uint16_t tag = 0;
    std::span<const std::byte> bytes;
    std::size_t reply_capacity = 0;
};

class ClientTransport {
  public:
    virtual ~ClientTransport() = default;

    // Sends one whole message (blocks until it is handed over).
    virtual Status send(const OutgoingMessage& message) = 0;

    // Receives the next whole message, header included. A message whose size[4]
    // is below 7 or above `max_size` is a protocol error (EPROTO / EMSGSIZE) and
    // leaves the transport unusable.
    virtual Result<std::vector<std::byte>> receive(std::size_t max_size) = 0;
};

}  // namespace xen9p::client
