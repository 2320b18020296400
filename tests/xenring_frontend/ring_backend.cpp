#include "tests/xenring_frontend/ring_backend.hpp"

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

RingBackend::RingBackend(std::size_t rings, unsigned order)
    : order_(order),
      to_backend_(::eventfd(0, EFD_CLOEXEC)),
      to_frontend_(::eventfd(0, EFD_CLOEXEC)),
      frontend_doorbell_(std::make_unique<EventFdDoorbell>(to_backend_.get(), to_frontend_.get())),
      observed_out_prod_(rings) {
    for (std::size_t i = 0; i < rings; ++i) {
        intfs_.push_back(std::make_unique<ring::DataIntf>());
        intfs_.back()->ring_order = order;
        data_.emplace_back(ring::data_area_size(order));
        writers_.push_back(ring::RingWriter::backend(*intfs_.back(), data_.back(), order));
    }
}

RingBackend::~RingBackend() {
    stop();
}

std::vector<RingMemory> RingBackend::memory() {
    std::vector<RingMemory> out;
    for (std::size_t i = 0; i < intfs_.size(); ++i) {
        out.push_back(RingMemory{.intf = intfs_[i].get(), .data = data_[i], .order = order_});
    }
    return out;
}

void RingBackend::start(RequestHandler handler) {
    thread_ = std::thread([this, handler = std::move(handler)] { run(handler); });
}

void RingBackend::stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    const std::uint64_t one = 1;
    if (::write(to_backend_.get(), &one, sizeof(one)) != sizeof(one)) std::abort();
    thread_.join();
}

void RingBackend::run(RequestHandler handler) {
    std::vector<ring::RingReader> readers;
    for (std::size_t i = 0; i < intfs_.size(); ++i) {
        readers.push_back(
            ring::RingReader::backend(*intfs_[i], data_[i], order_, ring::flex_ring_size(order_)));
    }
    while (!stop_) {
        for (std::size_t i = 0; i < readers.size(); ++i) {
            {
                std::lock_guard lock(mutex_);
                observed_out_prod_[i].push_back(ring::load_index(intfs_[i]->out_prod));
            }
            for (;;) {
                BackendRequest request{.ring = i, .bytes = {}, .request = {}};
                request.bytes.resize(ring::flex_ring_size(order_));
                auto size = readers[i].read(request.bytes);
                if (!size) {
                    record_error("ring read failed: " + size.error().message());
                    return;
                }
                if (*size == 0) break;
                request.bytes.resize(*size);
                auto decoded = proto::decode_request(request.bytes, ring::flex_ring_size(order_));
                if (!decoded) {
                    record_error("undecodable request");
                    return;
                }
                request.request = *decoded;
                handler(*this, std::move(request));
            }
        }
        std::uint64_t count = 0;
        if (::read(to_backend_.get(), &count, sizeof(count)) != sizeof(count)) {
            record_error("eventfd read failed");
            return;
        }
    }
}

void RingBackend::reply(std::size_t ring, const proto::Reply& reply) {
    std::vector<std::byte> bytes(proto::encoded_size(reply));
    auto written = proto::encode(reply, bytes, std::numeric_limits<std::size_t>::max());
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
    const std::uint64_t one = 1;
    if (::write(to_frontend_.get(), &one, sizeof(one)) != sizeof(one)) {
        record_error("eventfd write failed");
    }
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
