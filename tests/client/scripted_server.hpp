// The far end of a client test: reads T-messages from a stream socket and
// writes whatever replies the test scripts, in any order, valid or not.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/unique_fd.hpp"
#include "p9proto/codec.hpp"

namespace xen9p::client::test {

// A decoded request with the bytes its views point into.
struct ReceivedRequest {
    std::vector<std::byte> bytes;
    p9proto::Request request;
};

class ScriptedServer {
  public:
    explicit ScriptedServer(UniqueFd fd) : fd_(std::move(fd)) {}

    // The next request; nullopt at end of stream or on a malformed message.
    std::optional<ReceivedRequest> next_request();

    // Encodes `reply` without any capacity limit (so oversized replies can be sent).
    bool reply(const p9proto::Reply& reply);
    bool send_raw(std::span<const std::byte> bytes);

  private:
    UniqueFd fd_;
};

}  // namespace xen9p::client::test
