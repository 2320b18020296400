#include "tests/hostile/attacker_ring.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "xenring/xenstore/xenbus_state.hpp"

namespace xen9p::hostile {

namespace {
constexpr std::string_view kStateToken = "attacker-backend-state";
}

Result<std::unique_ptr<AttackerRing>> AttackerRing::start(std::unique_ptr<frontend::Frontend> fe,
                                                          xenstore::Xenstore watcher) {
    if (auto watched = watcher.watch(fe->backend_path() + "/state", kStateToken); !watched)
        return std::unexpected(watched.error());
    UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop) return fail_errno();
    std::unique_ptr<AttackerRing> ring(
        new AttackerRing(std::move(fe), std::move(watcher), std::move(stop)));
    ring->listener_ = std::thread([r = ring.get()] { r->listen(); });
    return ring;
}

AttackerRing::AttackerRing(std::unique_ptr<frontend::Frontend> fe, xenstore::Xenstore watcher,
                           UniqueFd stop)
    : fe_(std::move(fe)), watcher_(std::move(watcher)), stop_(std::move(stop)) {
    for (const frontend::RingMemory& r : fe_->ring_memory()) {
        // A reply may be as large as the ring: the reader reports larger ones.
        rings_.push_back(Ring{.writer = ring::RingWriter::frontend(*r.intf, r.data, r.order),
                              .reader = ring::RingReader::frontend(*r.intf, r.data, r.order,
                                                                   ring::flex_ring_size(r.order))});
    }
}

AttackerRing::~AttackerRing() {
    const std::uint64_t one = 1;
    // The eventfd cannot be full: it is written once.
    [[maybe_unused]] const ssize_t n = ::write(stop_.get(), &one, sizeof(one));
    listener_.join();
}

void AttackerRing::cut() {
    {
        std::lock_guard lock(mutex_);
        cut_ = true;
    }
    changed_.notify_all();
}

bool AttackerRing::backend_closing() {
    while (watcher_.next_watch_event()) {
    }
    auto state = watcher_.try_read(fe_->backend_path() + "/state");
    if (!state || !*state) return true;
    return **state != std::to_string(static_cast<unsigned>(xenstore::XenbusState::kConnected));
}

void AttackerRing::listen() {
    platform::EventChannel& events = fe_->events();
    for (;;) {
        std::array fds{pollfd{.fd = events.fd(), .events = POLLIN, .revents = 0},
                       pollfd{.fd = watcher_.watch_fd(), .events = POLLIN, .revents = 0},
                       pollfd{.fd = stop_.get(), .events = POLLIN, .revents = 0}};
        const bool failed = ::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR;
        if (fds[2].revents != 0) return;
        bool broken = failed;
        for (;;) {
            auto port = events.pending();
            if (!port) broken = true;
            if (!port || !*port) break;
            if (!events.unmask(**port)) broken = true;
        }
        const bool closing = fds[1].revents != 0 && backend_closing();
        {
            std::lock_guard lock(mutex_);
            ++generation_;
            closed_ = closed_ || broken || closing;
        }
        changed_.notify_all();
        // Nothing more will wake the calls that wait: they fail instead.
        if (failed) return;
    }
}

void AttackerRing::wait_after(std::unique_lock<std::mutex>& lock, std::uint64_t seen) {
    changed_.wait(lock, [&] { return generation_ != seen || cut_ || closed_; });
}

Status AttackerRing::send(const client::OutgoingMessage& message) {
    std::unique_lock lock(mutex_);
    if (rings_.empty()) return fail(ENOTCONN);
    const std::size_t index = message.tag % rings_.size();
    for (;;) {
        if (cut_) return fail(EPIPE);
        if (closed_) return fail(ECONNRESET);
        const std::uint64_t seen = generation_;
        auto written = rings_[index].writer.write_and_publish(message.bytes);
        if (written) return fe_->events().notify(fe_->port(index));
        if (written.error().value != EAGAIN) return written;
        wait_after(lock, seen);
    }
}

Result<std::vector<std::byte>> AttackerRing::receive(std::size_t /*max_size*/) {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (cut_) return fail(EPIPE);
        const std::uint64_t seen = generation_;
        for (std::size_t i = 0; i < rings_.size(); ++i) {
            std::vector<std::byte> message;
            auto size = rings_[i].reader.read_into(message);
            if (!size) return std::unexpected(size.error());
            if (*size == 0) continue;
            // As Linux: the backend may be waiting for room for its next reply.
            if (auto notified = fe_->events().notify(fe_->port(i)); !notified)
                return std::unexpected(notified.error());
            return message;
        }
        // Replies already in the ring are read even after the backend closed.
        if (closed_) return fail(ECONNRESET);
        wait_after(lock, seen);
    }
}

}  // namespace xen9p::hostile
