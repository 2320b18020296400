#include "sim/handle_probe.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "base/parse_number.hpp"
#include "sim/wire.hpp"

namespace xen9p::sim {

namespace {

bool connected_to(int fd, const std::filesystem::path& socket) {
    sockaddr_un peer{};
    socklen_t length = sizeof(peer);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return false;
    if (peer.sun_family != AF_UNIX || length <= offsetof(sockaddr_un, sun_path)) return false;
    return std::string_view(peer.sun_path) == socket.string();
}

}  // namespace

Result<std::vector<UniqueFd>> connections_of(pid_t pid, const std::filesystem::path& socket) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) return fail_errno();
    std::error_code ec;
    std::filesystem::directory_iterator fds("/proc/" + std::to_string(pid) + "/fd", ec);
    if (ec) return fail(ec.value());
    std::vector<UniqueFd> found;
    for (const auto& entry : fds) {
        const std::string name = entry.path().filename().string();
        const auto number = parse_number<int>(name);
        if (!number) continue;
        UniqueFd copy(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), *number, 0)));
        // Closed since the listing: nothing to probe.
        if (!copy) {
            if (errno == EBADF) continue;
            return fail_errno();
        }
        if (connected_to(copy.get(), socket)) found.push_back(std::move(copy));
    }
    return found;
}

Result<int> call_raw(int connection, const Request& request) {
    const std::size_t refs = request.op == Op::map ? request.count : 0;
    if (refs > kMaxRefsPerMap) return fail(EINVAL);
    const auto bytes = std::as_bytes(std::span(&request, 1)).first(kRequestHeader + refs * 4);
    if (auto sent = send_message(connection, bytes); !sent) return std::unexpected(sent.error());
    auto reply = std::make_unique<Reply>();
    auto got = receive_message(connection, std::as_writable_bytes(std::span(reply.get(), 1)));
    if (!got) return std::unexpected(got.error());
    if (got->size < kReplyHeader) return fail(ECONNRESET);
    return reply->error;
}

}  // namespace xen9p::sim
