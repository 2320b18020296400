// A decoded R-message together with the buffer its strings and payloads point
// into, so the views can never outlive their bytes. Move-only: moving keeps the
// heap buffer (and therefore every view) in place.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "base/errno.hpp"
#include "p9proto/codec.hpp"

namespace xen9p::client {

class OwnedReply {
  public:
    // Decodes `message` (one whole R-message) and keeps it.
    static std::expected<OwnedReply, p9proto::DecodeError> decode(
        std::vector<std::byte> message, std::uint32_t msize,
        p9proto::Dialect dialect = p9proto::Dialect::k9P2000L);

    OwnedReply(OwnedReply&&) noexcept = default;
    OwnedReply& operator=(OwnedReply&&) noexcept = default;
    OwnedReply(const OwnedReply&) = delete;
    OwnedReply& operator=(const OwnedReply&) = delete;

    std::uint16_t tag() const { return reply_.tag; }
    const p9proto::ReplyBody& body() const { return reply_.body; }
    const p9proto::Reply& reply() const { return reply_; }
    p9proto::MsgType type() const { return p9proto::type_of(reply_.body); }
    // The whole message as received, header included.
    std::span<const std::byte> bytes() const { return buffer_; }

    // The body as R, or nullptr if it is another reply.
    template <class R>
    const R* as() const {
        return std::get_if<R>(&reply_.body);
    }

    // The errno of an Rlerror or Rerror; nullopt for any other reply.
    std::optional<Errno> error() const;

  private:
    OwnedReply(std::vector<std::byte> buffer, p9proto::Reply reply)
        : buffer_(std::move(buffer)), reply_(reply) {}

    std::vector<std::byte> buffer_;
    p9proto::Reply reply_;
};

// The reply as R: Rlerror and Rerror become their errno (values outside 1..4095 become
// EPROTO, as the Linux client does), any other reply type EPROTO.
template <class R>
Result<const R*> expect(const OwnedReply& reply) {
    if (const R* body = reply.as<R>()) return body;
    if (auto err = reply.error()) return std::unexpected(*err);
    return fail(EPROTO);
}

}  // namespace xen9p::client
