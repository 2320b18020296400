#include "tests/frontend/ring_backend.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <limits>

namespace xen9p::frontend::test {

namespace {

class EventFdDoorbell final : public Doorbell {
  public:
    EventFdDoorbell(int notify_fd, int wait_fd) : notify_fd_(notify_fd), wait_fd_(wait_fd) {}

    Status notify(std::size_t /*ring*/) override {
        const std::uint64_t one = 1;
        if (::write(notify_fd_, &one, sizeof(one)) != sizeof(one)) return fail_errno();
        return {};
    }
    Status wait() override {
        std::uint64_t count = 0;
        if (::read(wait_fd_, &count, sizeof(count)) != sizeof(count)) return fail_errno();
        return {};
    }

  private:
    int notify_fd_;
    int wait_fd_;
};

}  // namespace

class EventFdBell final : public BackendBell {
  public:
    EventFdBell(int notify_fd, int wait_fd) : notify_fd_(notify_fd), wait_fd_(wait_fd) {}
    Status notify(std::size_t /*ring*/) override {
        const std::uint64_t one = 1;
        if (::write(notify_fd_, &one, sizeof(one)) != sizeof(one)) return fail_errno();
        return {};
    }
    int fd() const override { return wait_fd_; }
    Status acknowledge() override {
        std::uint64_t count = 0;
        if (::read(wait_fd_, &count, sizeof(count)) != sizeof(count)) return fail_errno();
        return {};
    }

  private:
    int notify_fd_;
    int wait_fd_;
};

LocalRings::LocalRings(std::size_t rings, unsigned order)
    : order_(order),
      to_backend_(::eventfd(0, EFD_CLOEXEC)),
      to_frontend_(::eventfd(0, EFD_CLOEXEC)),
      frontend_doorbell_(std::make_unique<EventFdDoorbell>(to_backend_.get(), to_frontend_.get())),
      backend_bell_(std::make_unique<EventFdBell>(to_frontend_.get(), to_backend_.get())) {
    for (std::size_t i = 0; i < rings; ++i) {
        // A whole zeroed page, as granted: ring::DataIntf's ref[] runs to its end.
        intf_pages_.emplace_back(ring::kXenPageSize);
        intf(i)->ring_order = order;
        data_.emplace_back(ring::data_area_size(order));
    }
}

LocalRings::~LocalRings() = default;

std::vector<RingMemory> LocalRings::memory() {
    std::vector<RingMemory> out;
    for (std::size_t i = 0; i < intf_pages_.size(); ++i) {
        out.push_back(RingMemory{.intf = intf(i), .data = data_[i], .order = order_});
    }
    return out;
}

RingBackend::RingBackend(std::vector<RingMemory> rings, BackendBell& bell)
    : rings_(std::move(rings)),
      bell_(bell),
      stop_fd_(::eventfd(0, EFD_CLOEXEC)),
      observed_out_prod_(rings_.size()) {
    for (const RingMemory& r : rings_) {
        writers_.push_back(ring::RingWriter::backend(*r.intf, r.data, r.order));
    }
}

RingBackend::~RingBackend() {
    stop();
}

void RingBackend::start(RequestHandler handler) {
    thread_ = std::thread([this, handler = std::move(handler)] { run(handler); });
}

void RingBackend::stop() {
    if (!thread_.joinable()) return;
    const std::uint64_t one = 1;
    if (::write(stop_fd_.get(), &one, sizeof(one)) != sizeof(one)) std::abort();
    thread_.join();
}

void RingBackend::run(RequestHandler handler) {
    std::vector<ring::RingReader> readers;
    for (const RingMemory& r : rings_) {
        readers.push_back(
            ring::RingReader::backend(*r.intf, r.data, r.order, ring::flex_ring_size(r.order)));
    }
    for (;;) {
        for (std::size_t i = 0; i < readers.size(); ++i) {
            {
                std::lock_guard lock(mutex_);
                observed_out_prod_[i].push_back(ring::load_index(rings_[i].intf->out_prod));
            }
            for (;;) {
                BackendRequest request{.ring = i, .bytes = {}, .request = {}};
                const std::size_t ring_size = ring::flex_ring_size(rings_[i].order);
                request.bytes.resize(ring_size);
                auto size = readers[i].read(request.bytes);
                if (!size) {
                    record_error("ring read failed: " + size.error().message());
                    return;
                }
                if (*size == 0) break;
                request.bytes.resize(*size);
                auto decoded = p9proto::decode_request(request.bytes, ring_size);
                if (!decoded) {
                    record_error("undecodable request");
                    return;
                }
                request.request = *decoded;
                handler(*this, std::move(request));
            }
        }
        pollfd fds[2] = {{.fd = bell_.fd(), .events = POLLIN, .revents = 0},
                         {.fd = stop_fd_.get(), .events = POLLIN, .revents = 0}};
        if (::poll(fds, 2, -1) < 0) {
            record_error("poll failed");
            return;
        }
        if (fds[1].revents != 0) return;
        if (auto st = bell_.acknowledge(); !st) {
            record_error("acknowledge failed: " + st.error().message());
            return;
        }
    }
}

void RingBackend::reply(std::size_t ring, const p9proto::Reply& reply) {
    std::vector<std::byte> bytes(p9proto::encoded_size(reply));
    auto written = p9proto::encode(reply, bytes, std::numeric_limits<std::size_t>::max());
    if (!written) {
        record_error("reply encoding failed");
        return;
    }
    send_raw(ring, std::span(bytes).first(*written));
}

void RingBackend::send_raw(std::size_t ring, std::span<const std::byte> bytes) {
    if (auto st = writers_[ring].write_and_publish(bytes); !st) {
        record_error("reply did not fit: " + st.error().message());
        return;
    }
    if (auto st = bell_.notify(ring); !st) record_error("notify failed: " + st.error().message());
}

std::vector<std::string> RingBackend::errors() {
    std::lock_guard lock(mutex_);
    return errors_;
}

void RingBackend::record_error(std::string error) {
    std::lock_guard lock(mutex_);
    errors_.push_back(std::move(error));
}

std::vector<std::vector<std::uint32_t>> RingBackend::observed_out_prod() {
    std::lock_guard lock(mutex_);
    return observed_out_prod_;
}

}  // namespace xen9p::frontend::test
