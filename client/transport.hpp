// How a 9P client moves whole messages: one encoded T-message out, one whole
// R-message in. Implemented over stream sockets (framed by size[4]) and over
// the Xen 9pfs rings of the user-space frontend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/errno.hpp"

namespace xen9p::client {

// One request as the transport sees it: the tag lets a transport that
// multiplexes (the Xen rings, tag % 2) pick its ring and skip replies to tags
// not in flight, as Linux trans_xen does.
struct OutgoingMessage {
    std::uint16_t tag = 0;
    std::span<const std::byte> bytes;
};

class ClientTransport {
  public:
    virtual ~ClientTransport() = default;

    // Sends one whole message (blocks until it is handed over).
    virtual Status send(const OutgoingMessage& message) = 0;

    // Receives the next whole message, header included. A size[4] below 7 is a
    // protocol error (EPROTO). `max_size` is the negotiated msize: a stream
    // cannot skip a message above it and fails with EMSGSIZE; a transport that
    // can (a ring) may return it, and the Client refuses it for its tag.
    virtual Result<std::vector<std::byte>> receive(std::size_t max_size) = 0;

    // The largest msize this transport carries (Linux's trans->maxsize); the
    // client never proposes more.
    virtual std::uint32_t max_msize() const { return UINT32_MAX; }

    // The client gave up on `tag` (flushed without a reply): a transport that
    // tracks tags in flight stops expecting a reply to it.
    virtual void abandon(std::uint16_t /*tag*/) {}
};

}  // namespace xen9p::client
