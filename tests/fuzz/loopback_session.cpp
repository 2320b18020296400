#include "tests/fuzz/loopback_session.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace xen9p::fuzz {

void LoopbackTransport::send(const server::Origin&, std::span<const std::byte> bytes,
                             std::uint64_t cookie) {
    replies_.push_back({{bytes.begin(), bytes.end()}, msize_ != 0 ? msize_ : max_msize_});
    unacknowledged_.push_back(cookie);
}

void LoopbackTransport::close() {
    if (closed_) return;
    closed_ = true;
    unacknowledged_.clear();
    if (sink_) sink_->on_closed();
}

namespace {

std::unique_ptr<LoopbackTransport> make_transport(std::uint32_t max_msize,
                                                  LoopbackTransport*& raw) {
    auto t = std::make_unique<LoopbackTransport>(max_msize);
    raw = t.get();
    return t;
}

}  // namespace

LoopbackSession::LoopbackSession(io::EventLoop& loop, fs::Export& ex, server::SessionConfig config,
                                 std::uint32_t max_msize)
    : loop_(loop),
      transport_(nullptr),
      session_(loop, ex, make_transport(max_msize, transport_), std::move(config), ops_) {
    session_.start();
}

LoopbackSession::~LoopbackSession() {
    if (!finish()) {
        std::fprintf(stderr, "loopback_session: session never finished\n");
        std::abort();
    }
}

bool LoopbackSession::step() {
    if (!transport_->unacknowledged_.empty()) {
        const std::uint64_t cookie = transport_->unacknowledged_.front();
        transport_->unacknowledged_.pop_front();
        transport_->sink_->on_sent(cookie);
        return true;
    }
    if (loop_.pending() == 0) return false;
    if (auto ok = loop_.run_once(); !ok) {
        std::fprintf(stderr, "loopback_session: event loop failed: %d\n", ok.error().value);
        std::abort();
    }
    return true;
}

bool LoopbackSession::deliver(std::span<const std::byte> message) {
    if (transport_->closed_) return false;
    const std::uint32_t limit =
        transport_->msize_ != 0 ? transport_->msize_ : transport_->max_msize_;
    if (message.size() < 7 || message.size() > limit) {
        transport_->close();
        return false;
    }
    while (!transport_->sink_->on_message({}, message, {})) {
        transport_->resumed_ = false;
        while (!transport_->resumed_ && !transport_->closed_) {
            if (!step()) {
                std::fprintf(stderr, "loopback_session: input refused with nothing in flight\n");
                std::abort();
            }
        }
        if (transport_->closed_) return false;
    }
    return !transport_->closed_;
}

void LoopbackSession::drain() {
    while (step()) {
    }
}

bool LoopbackSession::finish() {
    session_.close();
    while (!session_.finished() && step()) {
    }
    return session_.finished();
}

}  // namespace xen9p::fuzz
