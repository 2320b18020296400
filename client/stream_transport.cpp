#include "client/stream_transport.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <cstring>
#include <memory>

#include "p9proto/constants.hpp"

namespace xen9p::client {

Result<StreamTransport> StreamTransport::connect_unix(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) return fail(ENAMETOOLONG);
    std::memcpy(addr.sun_path, path.data(), path.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno();
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        return fail_errno();
    }
    return StreamTransport(std::move(fd));
}

Result<StreamTransport> StreamTransport::connect_tcp(const std::string& host, std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0) {
        return fail(EHOSTUNREACH);
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
    Errno last{ECONNREFUSED};
    for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
        UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
        if (!fd) {
            last = Errno{errno};
            continue;
        }
        if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
            last = Errno{errno};
            continue;
        }
        // Small requests would otherwise wait for the ACK of the previous one.
        const int one = 1;
        if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
            return fail_errno();
        }
        return StreamTransport(std::move(fd));
    }
    return std::unexpected(last);
}

Status StreamTransport::send(const OutgoingMessage& message) {
    std::span<const std::byte> rest = message.bytes;
    while (!rest.empty()) {
        const ssize_t n = ::send(fd_.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno();
        }
        rest = rest.subspan(static_cast<std::size_t>(n));
    }
    return {};
}

Status StreamTransport::read_exact(std::span<std::byte> out) {
    while (!out.empty()) {
        const ssize_t n = ::recv(fd_.get(), out.data(), out.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno();
        }
        if (n == 0) return fail(ECONNRESET);
        out = out.subspan(static_cast<std::size_t>(n));
    }
    return {};
}

Result<std::vector<std::byte>> StreamTransport::receive(std::size_t max_size) {
    std::array<std::byte, 4> size_field{};
    if (auto st = read_exact(size_field); !st) return std::unexpected(st.error());
    std::uint32_t size = 0;
    for (std::size_t i = 0; i < size_field.size(); ++i) {
        size |= std::to_integer<std::uint32_t>(size_field[i]) << (8 * i);
    }
    if (size < p9proto::kHeaderSize) return fail(EPROTO);
    if (size > max_size) return fail(EMSGSIZE);
    std::vector<std::byte> message(size);
    std::memcpy(message.data(), size_field.data(), size_field.size());
    if (auto st = read_exact(std::span(message).subspan(size_field.size())); !st) {
        return std::unexpected(st.error());
    }
    return message;
}

}  // namespace xen9p::client
