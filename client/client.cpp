#include "client/client.hpp"

#include "p9proto/codec.hpp"
#include "p9proto/version.hpp"

namespace xen9p::client {

Client::Client(std::unique_ptr<ClientTransport> transport) : transport_(std::move(transport)) {}

Result<std::uint32_t> Client::negotiate(std::uint32_t msize, std::string_view version) {
    msize = std::min(msize, transport_->max_msize());
    if (msize < p9proto::kMinMsize) return fail(EINVAL);
    // The reply is checked against the msize we propose.
    msize_ = msize;
    // The error of a refused Tversion comes in the dialect asked for.
    dialect_ = p9proto::dialect_named(version).value_or(p9proto::Dialect::k9P2000L);
    auto reply = call(p9proto::Tversion{.msize = msize, .version = p9proto::Text{version}});
    if (!reply) return std::unexpected(reply.error());
    auto rversion = expect<p9proto::Rversion>(*reply);
    if (!rversion) return std::unexpected(rversion.error());
    if ((*rversion)->version.str != version) return fail(EREMOTEIO);
    if ((*rversion)->msize < p9proto::kMinMsize) return fail(EREMOTEIO);
    msize_ = std::min(msize, (*rversion)->msize);
    return msize_;
}

std::optional<std::uint16_t> Client::allocate_tag() {
    if (!free_tags_.empty()) {
        const std::uint16_t tag = free_tags_.back();
        free_tags_.pop_back();
        return tag;
    }
    if (next_fresh_tag_ >= p9proto::kNoTag) return std::nullopt;
    return static_cast<std::uint16_t>(next_fresh_tag_++);
}

Result<std::uint16_t> Client::send(const p9proto::RequestBody& body) {
    if (broken_) return std::unexpected(*broken_);
    const bool is_version = std::holds_alternative<p9proto::Tversion>(body);
    std::uint16_t tag = p9proto::kNoTag;
    if (is_version) {
        if (pending_.contains(p9proto::kNoTag)) return fail(EBUSY);
    } else {
        auto allocated = allocate_tag();
        if (!allocated) return fail(EAGAIN);
        tag = *allocated;
    }
    const p9proto::Request request{.tag = tag, .body = body};
    const std::size_t size = p9proto::encoded_size(request);
    auto release = [&] {
        if (!is_version) free_tags_.push_back(tag);
    };
    if (size > msize_) {
        release();
        return fail(EMSGSIZE);
    }
    send_buffer_.resize(size);
    auto written = p9proto::encode(request, send_buffer_);
    if (!written) {
        release();
        return fail(EMSGSIZE);
    }
    if (auto st = transport_->send({.tag = tag, .bytes = std::span(send_buffer_).first(*written)});
        !st) {
        release();
        broken_ = st.error();
        return std::unexpected(st.error());
    }
    pending_.emplace(tag, Pending{.type = p9proto::type_of(body),
                                  .capacity = p9proto::reply_capacity(body, msize_, dialect_),
                                  .reply = std::nullopt});
    return tag;
}

Result<OwnedReply> Client::check(const Pending& pending, std::vector<std::byte> message) const {
    const auto header = p9proto::peek_header(message);
    if (!header) return fail(EPROTO);
    // Linux trans_xen drops a reply above the buffer it allocated for it. For
    // Rread/Rreaddir that buffer is 11 + count, so this also refuses more data
    // than was asked for.
    if (header->size > pending.capacity) return fail(EMSGSIZE);
    const auto type = static_cast<p9proto::MsgType>(header->type);
    const auto error_type = dialect_ == p9proto::Dialect::k9P2000u ? p9proto::MsgType::Rerror
                                                                   : p9proto::MsgType::Rlerror;
    if (type != p9proto::reply_type_for(pending.type) && type != error_type) return fail(EPROTO);
    auto reply = OwnedReply::decode(std::move(message), msize_, dialect_);
    if (!reply) return fail(EPROTO);
    return std::move(*reply);
}

Status Client::receive_one() {
    auto message = transport_->receive(msize_);
    if (!message) {
        broken_ = message.error();
        return std::unexpected(message.error());
    }
    const auto header = p9proto::peek_header(*message);
    if (!header) {
        broken_ = Errno{EPROTO};
        return fail(EPROTO);
    }
    auto it = pending_.find(header->tag);
    if (it == pending_.end() || it->second.reply) {
        // A reply nobody waits for: the stream can no longer be trusted.
        broken_ = Errno{EPROTO};
        return fail(EPROTO);
    }
    it->second.reply = check(it->second, std::move(*message));
    return {};
}

Result<OwnedReply> Client::await(std::uint16_t tag) {
    auto it = pending_.find(tag);
    if (it == pending_.end()) return fail(EINVAL);
    while (!it->second.reply) {
        if (broken_) return std::unexpected(*broken_);
        if (auto st = receive_one(); !st) return std::unexpected(st.error());
    }
    Result<OwnedReply> reply = std::move(*it->second.reply);
    release_tag(tag);
    return reply;
}

void Client::release_tag(std::uint16_t tag) {
    pending_.erase(tag);
    if (tag != p9proto::kNoTag) free_tags_.push_back(tag);
}

Result<std::optional<OwnedReply>> Client::flush(std::uint16_t oldtag) {
    if (!pending_.contains(oldtag)) return fail(EINVAL);
    auto flushed = call(p9proto::Tflush{.oldtag = oldtag});
    if (!flushed) return std::unexpected(flushed.error());
    if (auto rflush = expect<p9proto::Rflush>(*flushed); !rflush) {
        return std::unexpected(rflush.error());
    }
    auto it = pending_.find(oldtag);
    if (it->second.reply) {
        Result<OwnedReply> old = std::move(*it->second.reply);
        release_tag(oldtag);
        if (!old) return std::unexpected(old.error());
        return std::optional<OwnedReply>(std::move(*old));
    }
    transport_->abandon(oldtag);
    release_tag(oldtag);
    return std::optional<OwnedReply>();
}

Result<OwnedReply> Client::call(const p9proto::RequestBody& body) {
    auto tag = send(body);
    if (!tag) return std::unexpected(tag.error());
    return await(*tag);
}

}  // namespace xen9p::client
