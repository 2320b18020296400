// ClientTransport over a connected stream socket (unix or TCP): messages are
// delimited only by their size[4] field, as 9P over trans=fd/tcp.
#pragma once

#include <cstdint>
#include <string>

#include "base/unique_fd.hpp"
#include "client/transport.hpp"

namespace xen9p::client {

class StreamTransport final : public ClientTransport {
  public:
    explicit StreamTransport(UniqueFd fd) : fd_(std::move(fd)) {}

    // Connects to a unix stream socket at `path`.
    static Result<StreamTransport> connect_unix(const std::string& path);
    // Connects to `host`:`port` over TCP (numeric or resolvable host name).
    static Result<StreamTransport> connect_tcp(const std::string& host, std::uint16_t port);

    Status send(const OutgoingMessage& message) override;
    Result<std::vector<std::byte>> receive(std::size_t max_size) override;

    int fd() const { return fd_.get(); }

  private:
    // Reads exactly out.size() bytes; ECONNRESET on end of stream.
    Status read_exact(std::span<std::byte> out);

    UniqueFd fd_;
};

}  // namespace xen9p::client
