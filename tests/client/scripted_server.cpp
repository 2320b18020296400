#include "tests/client/scripted_server.hpp"

#include <sys/socket.h>

#include <array>
#include <cstring>
#include <limits>

namespace xen9p::client::test {

namespace {

bool read_exact(int fd, std::span<std::byte> out) {
    while (!out.empty()) {
        const ssize_t n = ::recv(fd, out.data(), out.size(), 0);
        if (n <= 0) return false;
        out = out.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace

std::optional<ReceivedRequest> ScriptedServer::next_request() {
    std::array<std::byte, 4> size_field{};
    if (!read_exact(fd_.get(), size_field)) return std::nullopt;
    std::uint32_t size = 0;
    std::memcpy(&size, size_field.data(), sizeof(size));
    if (size < p9proto::kHeaderSize || size > (1u << 24)) return std::nullopt;
    ReceivedRequest received;
    received.bytes.resize(size);
    std::memcpy(received.bytes.data(), size_field.data(), size_field.size());
    if (!read_exact(fd_.get(), std::span(received.bytes).subspan(4))) return std::nullopt;
    auto request = p9proto::decode_request(received.bytes, 1u << 24);
    if (!request) return std::nullopt;
    received.request = *request;
    return received;
}

bool ScriptedServer::reply(const p9proto::Reply& reply) {
    std::vector<std::byte> bytes(p9proto::encoded_size(reply));
    auto written = p9proto::encode(reply, bytes, std::numeric_limits<std::size_t>::max());
    if (!written) return false;
    return send_raw(std::span(bytes).first(*written));
}

bool ScriptedServer::send_raw(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

}  // namespace xen9p::client::test
