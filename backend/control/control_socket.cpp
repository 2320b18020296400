#include "backend/control/control_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace xen9p::control {
namespace {

constexpr std::size_t kMaxCommand = 256;

Result<sockaddr_un> address_of(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const auto& s = path.native();
    if (s.empty() || s.size() >= sizeof addr.sun_path) return fail(ENAMETOOLONG);
    s.copy(addr.sun_path, s.size());
    return addr;
}

Status write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno();
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

}  // namespace

Result<ControlServer> ControlServer::listen(const std::filesystem::path& path) {
    auto addr = address_of(path);
    if (!addr) return std::unexpected(addr.error());
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return fail_errno();
    // A stale socket of a previous run would make bind fail.
    ::unlink(path.c_str());
    const mode_t old_mask = ::umask(0077);
    const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
    ::umask(old_mask);
    if (bound != 0) return fail_errno();
    if (::listen(fd.get(), 16) != 0) return fail_errno();
    return ControlServer(std::move(fd), path);
}

ControlServer::~ControlServer() {
    if (listener_) ::unlink(path_.c_str());
}

std::optional<ControlRequest> ControlServer::accept_request() {
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client) return std::nullopt;
    std::string command;
    char buf[kMaxCommand];
    while (command.find('\n') == std::string::npos && command.size() < kMaxCommand) {
        pollfd p{client.get(), POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) return std::nullopt;
        const ssize_t n = ::recv(client.get(), buf, sizeof buf, 0);
        if (n <= 0) break;
        command.append(buf, static_cast<std::size_t>(n));
    }
    if (const auto nl = command.find('\n'); nl != std::string::npos) command.resize(nl);
    return ControlRequest{std::move(client), std::move(command)};
}

void reply(UniqueFd client, std::string_view answer) {
    (void)write_all(client.get(), answer);
}

Result<std::string> control_query(const std::filesystem::path& path, std::string_view command,
                                  std::chrono::seconds answer_wait) {
    auto addr = address_of(path);
    if (!addr) return std::unexpected(addr.error());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno();
    const timeval wait{static_cast<time_t>(answer_wait.count()), 0};
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) != 0)
        return fail_errno();
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0)
        return fail_errno();
    if (auto w = write_all(fd.get(), std::string(command) + "\n"); !w)
        return std::unexpected(w.error());
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    if (n < 0) return fail(errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno);
    return out;
}

}  // namespace xen9p::control
