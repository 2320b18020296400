#include "backend/transport/listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "backend/log/log.hpp"
#include "backend/transport/stream_connection.hpp"
#include "base/parse_number.hpp"

namespace xen9p::transport {

Result<ListenAddress> ListenAddress::parse(std::string_view text) {
    ListenAddress out;
    if (text.starts_with("unix:")) {
        out.kind = Kind::kUnix;
        out.path = std::string(text.substr(5));
        if (out.path.empty() || out.path.size() >= sizeof(sockaddr_un::sun_path)) {
            return fail(EINVAL);
        }
        return out;
    }
    if (text.starts_with("tcp:")) {
        std::string_view rest = text.substr(4);
        std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) return fail(EINVAL);
        out.kind = Kind::kTcp;
        out.host = std::string(rest.substr(0, colon));
        const auto port = parse_number<std::uint16_t>(rest.substr(colon + 1));
        if (!port || out.host.empty()) return fail(EINVAL);
        out.port = *port;
        return out;
    }
    return fail(EINVAL);
}

std::string ListenAddress::to_string() const {
    if (kind == Kind::kUnix) return "unix:" + path;
    return "tcp:" + host + ":" + std::to_string(port);
}

Result<std::unique_ptr<Listener>> Listener::open(io::EventLoop& loop, const ListenAddress& address,
                                                 std::uint32_t max_msize, Accepted accepted,
                                                 std::shared_ptr<log::RateLimiter> log_limiter) {
    UniqueFd fd;
    std::uint16_t port = 0;
    if (address.kind == ListenAddress::Kind::kUnix) {
        fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) return fail_errno();
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, address.path.c_str(), address.path.size() + 1);
        if (::unlink(address.path.c_str()) != 0 && errno != ENOENT) return fail_errno();
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            return fail_errno();
        }
    } else {
        fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) return fail_errno();
        int one = 1;
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
            return fail_errno();
        }
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(address.port);
        if (::inet_pton(AF_INET, address.host.c_str(), &sa.sin_addr) != 1) return fail(EINVAL);
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            return fail_errno();
        }
        socklen_t len = sizeof sa;
        if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
            return fail_errno();
        }
        port = ntohs(sa.sin_port);
    }
    if (::listen(fd.get(), 64) != 0) return fail_errno();
    std::unique_ptr<Listener> listener(new Listener(loop, std::move(fd), address, max_msize,
                                                    std::move(accepted), std::move(log_limiter)));
    listener->port_ = port;
    loop.accept(listener->fd_.get(), listener.get());
    return listener;
}

Listener::Listener(io::EventLoop& loop, UniqueFd fd, ListenAddress address, std::uint32_t max_msize,
                   Accepted accepted, std::shared_ptr<log::RateLimiter> log_limiter)
    : loop_(loop),
      fd_(std::move(fd)),
      address_(std::move(address)),
      max_msize_(max_msize),
      accepted_(std::move(accepted)),
      log_limiter_(std::move(log_limiter)) {
    pause_.owner = this;
}

Listener::~Listener() {
    if (address_.kind == ListenAddress::Kind::kUnix && unlink_on_close_)
        ::unlink(address_.path.c_str());
}

void Listener::on_complete(int result) {
    if (result == -ECANCELED) return;
    if (result >= 0) {
        next_pause_ = kFirstPause;
        std::string name = address_.to_string() + "#" + std::to_string(next_id_++);
        accepted_(std::make_unique<StreamConnection>(loop_, UniqueFd(result), max_msize_,
                                                     std::move(name), log_limiter_));
    } else if (result == -EMFILE || result == -ENFILE || result == -ENOBUFS || result == -ENOMEM) {
        // Retrying now would fail again at once, as fast as the loop turns.
        pause(-result);
        return;
    } else if (result != -EINTR && result != -ECONNABORTED && result != -EAGAIN) {
        log::limited(*log_limiter_, log::Level::kError, "transport", address_.to_string(),
                     "accept failed", {{"errno", Errno{-result}.message()}});
    }
    loop_.accept(fd_.get(), this);
}

void Listener::pause(int err) {
    log::limited(
        *log_limiter_, log::Level::kWarning, "transport", address_.to_string(), "accept paused",
        {{"errno", Errno{err}.message()}, {"pause_ms", std::to_string(next_pause_.count())}});
    const auto ns = std::chrono::nanoseconds(next_pause_).count();
    pause_.after.tv_sec = ns / 1'000'000'000;
    pause_.after.tv_nsec = ns % 1'000'000'000;
    loop_.timeout(pause_.after, &pause_);
    next_pause_ = std::min(next_pause_ * 2, kMaxPause);
}

void Listener::Pause::on_complete(int result) {
    if (result == -ECANCELED) return;
    owner->loop_.accept(owner->fd_.get(), owner);
}

}  // namespace xen9p::transport
