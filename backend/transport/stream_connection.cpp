#include "backend/transport/stream_connection.hpp"

#include <sys/socket.h>

#include <cstring>
#include <utility>

#include "backend/log/log.hpp"
#include "p9proto/codec.hpp"

namespace xen9p::transport {

StreamConnection::StreamConnection(io::EventLoop& loop, UniqueFd fd, std::uint32_t max_msize,
                                   std::string name, std::shared_ptr<log::RateLimiter> log_limiter)
    : loop_(loop),
      fd_(std::move(fd)),
      max_msize_(max_msize),
      msize_(max_msize),
      name_(std::move(name)),
      log_limiter_(std::move(log_limiter)),
      in_(kReceiveBuffer) {
    recv_.owner = this;
    recv_.handler = &StreamConnection::received;
    send_.owner = this;
    send_.handler = &StreamConnection::sent;
}

void StreamConnection::start(server::TransportSink& sink) {
    sink_ = &sink;
    arm_recv();
}

void StreamConnection::arm_recv() {
    if (closed_ || paused_ || recv_.pending) return;
    recv_.pending = true;
    if (!large_.empty()) {
        loop_.recv(fd_.get(), large_.subspan(large_received_), &recv_);
        return;
    }
    if (in_begin_ == in_end_) {
        in_begin_ = in_end_ = 0;
    } else if (in_.size() - in_end_ < in_.size() / 2) {
        // Keep at least one whole message of room after the partial one.
        std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
        in_end_ -= in_begin_;
        in_begin_ = 0;
    }
    loop_.recv(fd_.get(), std::span(in_).subspan(in_end_), &recv_);
}

void StreamConnection::received(int result) {
    if (closed_) return;
    if (result <= 0) {
        if (result == 0 || result == -ECONNRESET) {
            close();
        } else {
            fail("receive failed", -result);
        }
        return;
    }
    if (!large_.empty()) {
        large_received_ += static_cast<std::size_t>(result);
    } else {
        in_end_ += static_cast<std::size_t>(result);
    }
    if (deliver()) arm_recv();
}

bool StreamConnection::deliver() {
    while (!closed_) {
        if (!large_.empty()) {
            if (large_received_ < large_.size()) return true;
            // Bytes in its own buffer are always accepted.
            sink_->on_message({}, std::exchange(large_, {}), {});
            continue;
        }
        std::span<const std::byte> avail(in_.data() + in_begin_, in_end_ - in_begin_);
        // size[4] alone decides the framing: a bad one is refused before the
        // rest of the header arrives.
        if (avail.size() < sizeof(std::uint32_t)) return true;
        std::uint32_t size = 0;
        for (std::size_t i = 0; i < sizeof size; ++i) {
            size |= static_cast<std::uint32_t>(avail[i]) << (8 * i);
        }
        if (size < p9proto::kHeaderSize || size > msize_) {
            fail("framing violation", EMSGSIZE);
            return false;
        }
        if (avail.size() < size && size > in_.size() / 2) {
            auto buffer = sink_->request_buffer(size);
            if (buffer.empty()) {
                paused_ = true;
                return false;
            }
            std::memcpy(buffer.data(), avail.data(), avail.size());
            large_ = buffer.first(size);
            large_received_ = avail.size();
            in_begin_ = in_end_ = 0;
            continue;
        }
        if (avail.size() < size) return true;
        if (!sink_->on_message({}, avail.first(size), {})) {
            paused_ = true;
            return false;
        }
        in_begin_ += size;
    }
    return false;
}

void StreamConnection::resume_input() {
    if (!paused_ || closed_) return;
    paused_ = false;
    if (deliver()) arm_recv();
}

void StreamConnection::send(const server::Origin&, std::span<const std::byte> bytes,
                            std::uint64_t cookie) {
    if (closed_) return;
    out_.push_back({bytes, cookie});
    arm_send();
}

void StreamConnection::arm_send() {
    if (closed_ || send_.pending || out_.empty()) return;
    send_.pending = true;
    loop_.send(fd_.get(), out_.front().bytes.subspan(out_done_), &send_);
}

void StreamConnection::sent(int result) {
    if (closed_) return;
    if (result < 0) {
        if (result == -EPIPE || result == -ECONNRESET) {
            close();
        } else {
            fail("send failed", -result);
        }
        return;
    }
    out_done_ += static_cast<std::size_t>(result);
    if (out_done_ == out_.front().bytes.size()) {
        std::uint64_t cookie = out_.front().cookie;
        out_.pop_front();
        out_done_ = 0;
        sink_->on_sent(cookie);
    }
    arm_send();
}

void StreamConnection::fail(std::string_view why, int err) {
    log::limited(*log_limiter_, log::Level::kWarning, "transport", name_, "closing connection",
                 {{"reason", std::string(why)}, {"errno", Errno{err}.message()}});
    close();
}

void StreamConnection::close() {
    if (closed_) return;
    closed_ = true;
    out_.clear();
    if (recv_.pending) loop_.cancel(&recv_);
    if (send_.pending) loop_.cancel(&send_);
    // Wakes a pending receive on a socket the peer keeps open.
    ::shutdown(fd_.get(), SHUT_RDWR);
    if (sink_) sink_->on_closed();
}

}  // namespace xen9p::transport
