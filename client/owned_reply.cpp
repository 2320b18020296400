#include "client/owned_reply.hpp"

namespace xen9p::client {

std::expected<OwnedReply, p9proto::DecodeError> OwnedReply::decode(std::vector<std::byte> message,
                                                                   std::uint32_t msize) {
    auto reply = p9proto::decode_reply(message, msize);
    if (!reply) return std::unexpected(reply.error());
    return OwnedReply(std::move(message), *reply);
}

std::optional<Errno> OwnedReply::error() const {
    const auto* lerror = as<p9proto::Rlerror>();
    if (lerror == nullptr) return std::nullopt;
    constexpr std::uint32_t kMaxErrno = 4095;
    if (lerror->ecode == 0 || lerror->ecode > kMaxErrno) return Errno{EPROTO};
    return Errno{static_cast<int>(lerror->ecode)};
}

}  // namespace xen9p::client
