// A 9P2000.L (or 9P2000.u) client over any ClientTransport: tag allocation, many requests in
// flight, replies matched by tag in whatever order they arrive, and the checks
// the Linux client makes on every reply (type, per-type capacity, data counts).
// Not thread-safe: one thread drives a Client.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "client/owned_reply.hpp"
#include "client/transport.hpp"
#include "p9proto/constants.hpp"
#include "p9proto/messages.hpp"

namespace xen9p::client {

// Linux's DEFAULT_MSIZE: 128 KiB of payload plus P9_IOHDRSZ.
inline constexpr std::uint32_t kDefaultMsize = 128 * 1024 + p9proto::kIoHeaderSize;

class Client {
  public:
    explicit Client(std::unique_ptr<ClientTransport> transport);

    // Tversion with tag NOTAG, proposing at most the transport's max_msize()
    // (Linux's "Limiting 'msize'"); EINVAL if that is below 4096. Adopts the server's msize if it
    // is smaller (a larger one is ignored, as Linux does); EREMOTEIO if the server answers below
    // 4096 or with a version other than the one asked for. Returns the msize in use.
    // Asking for "9P2000.u" makes later replies decode in that dialect.
    Result<std::uint32_t> negotiate(std::uint32_t msize = kDefaultMsize,
                                    std::string_view version = p9proto::kVersion9P2000L);

    // Sends a request and returns its tag (NOTAG for Tversion). EAGAIN when
    // all 65535 tags are in flight.
    Result<std::uint16_t> send(const p9proto::RequestBody& body);

    // Waits for the reply of `tag`, receiving (and keeping) replies of other
    // tags meanwhile; the tag is free again afterwards. A reply of the wrong
    // type or one that fails to decode gives EPROTO, one above the capacity
    // for its request (for Rread/Rreaddir: more data than asked for) EMSGSIZE;
    // the other requests are unaffected. Transport failures and
    // replies to tags not in flight break the client: every later call fails.
    Result<OwnedReply> await(std::uint16_t tag);

    // send + await.
    Result<OwnedReply> call(const p9proto::RequestBody& body);

    // Tflush of `oldtag` (which must be in flight) and waits for its Rflush.
    // Returns the old request's reply if it came first; otherwise nullopt and
    // the old tag is given up (a later reply to it is a server bug). Either
    // way `oldtag` is free again afterwards.
    Result<std::optional<OwnedReply>> flush(std::uint16_t oldtag);

    std::uint32_t msize() const { return msize_; }
    std::size_t in_flight() const { return pending_.size(); }
    ClientTransport& transport() { return *transport_; }

  private:
    struct Pending {
        p9proto::MsgType type;
        std::size_t capacity = 0;
        // The reply once received (or why it was refused).
        std::optional<Result<OwnedReply>> reply;
    };

    std::optional<std::uint16_t> allocate_tag();
    // Receives one message and files it under its tag.
    Status receive_one();
    Result<OwnedReply> check(const Pending& pending, std::vector<std::byte> message) const;
    void release_tag(std::uint16_t tag);

    std::unique_ptr<ClientTransport> transport_;
    std::uint32_t msize_ = kDefaultMsize;
    p9proto::Dialect dialect_ = p9proto::Dialect::k9P2000L;
    std::map<std::uint16_t, Pending> pending_;
    std::vector<std::uint16_t> free_tags_;
    std::uint32_t next_fresh_tag_ = 0;
    std::vector<std::byte> send_buffer_;
    std::optional<Errno> broken_;
};

}  // namespace xen9p::client
