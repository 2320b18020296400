#include "client/owned_reply.hpp"

namespace xen9p::client {

std::expected<OwnedReply, p9proto::DecodeError> OwnedReply::decode(std::vector<std::byte> message,
                                                                   std::uint32_t msize,
                                                                   p9proto::Dialect dialect) {
    auto reply = p9proto::decode_reply(message, msize, dialect);
    if (!reply) return std::unexpected(reply.error());
    return OwnedReply(std::move(message), *reply);
}

std::optional<Errno> OwnedReply::error() const {
    std::uint32_t ecode = 0;
    if (const auto* lerror = as<p9proto::Rlerror>()) {
        ecode = lerror->ecode;
    } else if (const auto* rerror = as<p9proto::Rerror>()) {
        ecode = rerror->ecode;
    } else {
        return std::nullopt;
    }
    constexpr std::uint32_t kMaxErrno = 4095;
    if (ecode == 0 || ecode > kMaxErrno) return Errno{EPROTO};
    return Errno{static_cast<int>(ecode)};
}

}  // namespace xen9p::client
