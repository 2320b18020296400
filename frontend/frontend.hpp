// The simulated guest's 9pfs frontend, behaving as Linux net/9p/trans_xen.c:
// waits for the backend's InitWait, checks `versions`, `max-rings` and
// `max-ring-page-order`, grants two rings of order min(max, 9), publishes
// their keys in one transaction, goes Initialised, then Connected when the
// backend is. It is a ClientTransport, so a client::Client runs over it.
// The platform (grant sharing, event channels) comes from a spec string; the
// xenstore connection is the guest's own.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/transport.hpp"
#include "frontend/ring_transport.hpp"
#include "sim/grant_sharer.hpp"
#include "xenring/platform/event_channel.hpp"
#include "xenring/platform/grant_mapper.hpp"
#include "xenring/xenstore/xenbus_state.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::frontend {

// XEN_9PFS_NUM_RINGS and XEN_9PFS_RING_ORDER of Linux.
inline constexpr unsigned kNumRings = 2;
inline constexpr unsigned kMaxRingOrder = 9;

using xenstore::XenbusState;

// True when the backend's comma-separated `versions` list contains "1".
bool versions_include_1(std::string_view versions);

struct FrontendConfig {
    // "sim:<dir>": where grants and event channels come from.
    std::string platform_spec;
    DomId domid = 0;
    unsigned devid = 0;
    // The guest's xenstored socket; empty: libxenstore's default (XENSTORED_PATH).
    std::string xenstore_socket;
    // Bound on each wait for the backend during connect and close.
    std::chrono::milliseconds timeout{10'000};
};

// The guest's xenstored socket under the simulated platform's directory.
std::string sim_xenstore_socket(const std::string& sim_dir, DomId domid);

class Frontend final : public client::ClientTransport {
  public:
    // The whole handshake. EINVAL: the backend's features are unusable
    // (versions without 1, max-rings < 2); ECONNREFUSED: the backend closed;
    // ETIMEDOUT: it did not reach the next state within the timeout.
    static Result<std::unique_ptr<Frontend>> connect(const FrontendConfig& config);

    // Closes (Closing, then Closed once the backend has let go) if still open.
    ~Frontend() override;

    Status send(const client::OutgoingMessage& message) override;
    Result<std::vector<std::byte>> receive(std::size_t max_size) override;
    void abandon(std::uint16_t tag) override;

    // Closing (5), wait for the backend to close, free the rings, Closed (6).
    Status close();

    unsigned ring_order() const { return order_; }
    // The msize Linux would use at most over these rings.
    std::uint32_t max_msize() const override { return max_msize_for_order(order_); }
    const std::string& tag() const { return tag_; }
    const std::string& frontend_path() const { return frontend_path_; }
    const std::string& backend_path() const { return backend_path_; }
    std::size_t skipped_replies() const { return rings_->skipped_replies(); }
    // From now on a wait for the backend's next event that lasts `bound`
    // fails with ETIMEDOUT (for tests of a backend that may stop answering).
    void bound_reply_waits(std::chrono::milliseconds bound);

    // The rings and their ports, for a transport of a test's own over them (a
    // malicious guest's); send() and receive() must then stay unused.
    std::span<const RingMemory> ring_memory() const { return views_; }
    platform::EventChannel& events() { return *events_; }
    platform::Port port(std::size_t ring) const { return ring_state_.at(ring).port.port(); }

  private:
    class PortDoorbell;
    struct Ring {
        std::vector<platform::GrantRef> refs;  // interface page first
        platform::BoundPort port;
    };

    explicit Frontend(const FrontendConfig& config, xenstore::Xenstore xs);

    Status read_device_paths();
    // Waits until the backend state satisfies `done`; ECONNREFUSED if it closes first.
    Result<XenbusState> wait_backend(bool (*done)(XenbusState));
    Result<XenbusState> backend_state();
    Status set_state(XenbusState state);
    Status setup_rings(DomId backend, unsigned max_order);
    Status publish_rings();
    Status free_rings();

    FrontendConfig config_;
    xenstore::Xenstore xs_;
    std::string frontend_path_;
    std::string backend_path_;
    std::string tag_;
    DomId backend_domid_ = 0;
    unsigned order_ = 0;
    std::unique_ptr<sim::GrantSharer> sharer_;
    std::unique_ptr<platform::EventChannel> events_;
    std::vector<Ring> ring_state_;
    std::vector<RingMemory> views_;
    std::unique_ptr<PortDoorbell> doorbell_;
    std::unique_ptr<RingTransport> rings_;
    bool open_ = false;
};

}  // namespace xen9p::frontend
