#include "frontend/frontend.hpp"

#include <poll.h>

#include <cstring>

#include "base/parse_number.hpp"
#include "xenring/platform/platform.hpp"
#include "xenring/ring/data_intf.hpp"

namespace xen9p::frontend {

namespace {

constexpr std::string_view kStateToken = "xen9p-frontend-backend-state";

// xenbus_read_unsigned: a missing or malformed value reads as `fallback`.
unsigned parse_unsigned(const std::optional<std::string>& value, unsigned fallback) {
    if (!value) return fallback;
    return parse_number<unsigned>(*value).value_or(fallback);
}

bool is_closing(XenbusState s) {
    return s == XenbusState::kClosing || s == XenbusState::kClosed;
}

bool is_init_wait(XenbusState s) {
    return s == XenbusState::kInitWait;
}

bool is_init_wait_or_closing(XenbusState s) {
    return is_init_wait(s) || is_closing(s);
}

}  // namespace

bool versions_include_1(std::string_view versions) {
    while (!versions.empty()) {
        const std::size_t comma = versions.find(',');
        if (versions.substr(0, comma) == "1") return true;
        if (comma == std::string_view::npos) break;
        versions.remove_prefix(comma + 1);
    }
    return false;
}

std::string sim_xenstore_socket(const std::string& sim_dir, DomId domid) {
    return sim_dir + "/domains/" + std::to_string(domid) + "/xenstored.sock";
}

// Event channels as the ring transport's doorbell: one port per ring, one fd.
class Frontend::PortDoorbell final : public Doorbell {
  public:
    PortDoorbell(platform::EventChannel& events, std::vector<platform::Port> ports)
        : events_(events), ports_(std::move(ports)) {}

    Status notify(std::size_t ring) override { return events_.notify(ports_.at(ring)); }
    void bound_waits(std::chrono::milliseconds bound) { bound_ = bound; }

    Status wait() override {
        for (;;) {
            bool fired = false;
            for (;;) {
                auto port = events_.pending();
                if (!port) return std::unexpected(port.error());
                if (!*port) break;
                fired = true;
                if (auto st = events_.unmask(**port); !st) return st;
            }
            if (fired) return {};
            pollfd pfd{.fd = events_.fd(), .events = POLLIN, .revents = 0};
            const int timeout = bound_.count() > 0 ? static_cast<int>(bound_.count()) : -1;
            const int ready = ::poll(&pfd, 1, timeout);
            if (ready < 0 && errno != EINTR) return fail_errno();
            if (ready == 0) return fail(ETIMEDOUT);
        }
    }

  private:
    platform::EventChannel& events_;
    std::vector<platform::Port> ports_;
    std::chrono::milliseconds bound_{0};
};

void Frontend::bound_reply_waits(std::chrono::milliseconds bound) {
    doorbell_->bound_waits(bound);
}

Frontend::Frontend(const FrontendConfig& config, xenstore::Xenstore xs)
    : config_(config), xs_(std::move(xs)) {}

Result<std::unique_ptr<Frontend>> Frontend::connect(const FrontendConfig& config) {
    auto xs = config.xenstore_socket.empty()
                  ? xenstore::Xenstore::open()
                  : xenstore::Xenstore::open_socket(config.xenstore_socket);
    if (!xs) return std::unexpected(xs.error());
    std::unique_ptr<Frontend> fe(new Frontend(config, std::move(*xs)));
    if (auto st = fe->read_device_paths(); !st) return std::unexpected(st.error());
    if (auto st = fe->xs_.watch(fe->backend_path_ + "/state", kStateToken); !st) {
        return std::unexpected(st.error());
    }

    // A device used before (its frontend Closed) starts over from
    // Initialising, as a re-probed Linux frontend does; the backend then
    // leaves Closed for InitWait.
    auto own = fe->xs_.try_read(fe->frontend_path_ + "/state");
    if (!own) return std::unexpected(own.error());
    const bool restart = *own && **own != "1";
    if (restart) {
        if (auto st = fe->set_state(XenbusState::kInitialising); !st)
            return std::unexpected(st.error());
    }

    // Linux reads the backend's features only once it is in InitWait.
    auto state = fe->wait_backend(restart ? is_init_wait : is_init_wait_or_closing);
    if (!state) return std::unexpected(state.error());
    if (is_closing(*state)) return fail(ECONNREFUSED);

    const std::string& b = fe->backend_path_;
    auto versions = fe->xs_.try_read(b + "/versions");
    auto max_rings = fe->xs_.try_read(b + "/max-rings");
    auto max_order = fe->xs_.try_read(b + "/max-ring-page-order");
    if (!versions) return std::unexpected(versions.error());
    if (!max_rings) return std::unexpected(max_rings.error());
    if (!max_order) return std::unexpected(max_order.error());
    if (!*versions || !versions_include_1(**versions)) return fail(EINVAL);
    if (parse_unsigned(*max_rings, 0) < kNumRings) return fail(EINVAL);

    if (auto st = fe->setup_rings(fe->backend_domid_, parse_unsigned(*max_order, 0)); !st) {
        return std::unexpected(st.error());
    }
    if (auto st = fe->publish_rings(); !st) return std::unexpected(st.error());
    fe->open_ = true;
    if (auto st = fe->set_state(XenbusState::kInitialised); !st) {
        return std::unexpected(st.error());
    }

    state = fe->wait_backend(
        [](XenbusState s) { return s == XenbusState::kConnected || is_closing(s); });
    if (!state) return std::unexpected(state.error());
    if (is_closing(*state)) return fail(ECONNREFUSED);
    if (auto st = fe->set_state(XenbusState::kConnected); !st) return std::unexpected(st.error());
    return fe;
}

Status Frontend::read_device_paths() {
    frontend_path_ = "/local/domain/" + std::to_string(config_.domid) + "/device/9pfs/" +
                     std::to_string(config_.devid);
    auto backend = xs_.read(frontend_path_ + "/backend");
    if (!backend) return std::unexpected(backend.error());
    backend_path_ = *backend;
    auto backend_id = xs_.read(frontend_path_ + "/backend-id");
    if (!backend_id) return std::unexpected(backend_id.error());
    const auto id = parse_number<DomId>(*backend_id);
    if (!id) return fail(EINVAL);
    backend_domid_ = *id;
    return {};
}

Result<XenbusState> Frontend::backend_state() {
    auto value = xs_.try_read(backend_path_ + "/state");
    if (!value) return std::unexpected(value.error());
    return static_cast<XenbusState>(parse_unsigned(*value, 0));
}

Result<XenbusState> Frontend::wait_backend(bool (*done)(XenbusState)) {
    const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
    for (;;) {
        while (xs_.next_watch_event()) {
        }
        auto state = backend_state();
        if (!state) return state;
        if (done(*state)) return state;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return fail(ETIMEDOUT);
        pollfd pfd{.fd = xs_.watch_fd(), .events = POLLIN, .revents = 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
            return fail_errno();
        }
    }
}

Status Frontend::set_state(XenbusState state) {
    return xs_.write(frontend_path_ + "/state", std::to_string(static_cast<unsigned>(state)));
}

Status Frontend::setup_rings(DomId backend, unsigned max_order) {
    order_ = std::min(max_order, kMaxRingOrder);
    const std::size_t data_pages = std::size_t{1} << order_;
    const std::size_t pages_per_ring = 1 + data_pages;
    auto sharer =
        sim::open_grant_sharer(config_.platform_spec, config_.domid, kNumRings * pages_per_ring);
    if (!sharer) return std::unexpected(sharer.error().error);
    sharer_ = std::move(*sharer);
    auto events = platform::open_event_channel(config_.platform_spec, config_.domid);
    if (!events) return std::unexpected(events.error().error);
    events_ = std::move(*events);

    const std::span<std::byte> memory = sharer_->memory();
    std::vector<RingMemory> views;
    std::vector<platform::Port> ports;
    for (unsigned r = 0; r < kNumRings; ++r) {
        const std::size_t first = r * pages_per_ring;
        auto* intf = reinterpret_cast<ring::DataIntf*>(memory.data() + first * ring::kXenPageSize);
        std::memset(static_cast<void*>(intf), 0, ring::kXenPageSize);
        intf->ring_order = order_;
        Ring state;
        auto intf_ref = sharer_->grant(backend, first, /*writable=*/true);
        if (!intf_ref) return std::unexpected(intf_ref.error());
        state.refs.push_back(*intf_ref);
        for (std::size_t i = 0; i < data_pages; ++i) {
            auto ref = sharer_->grant(backend, first + 1 + i, /*writable=*/true);
            if (!ref) return std::unexpected(ref.error());
            intf->ref[i] = *ref;
            state.refs.push_back(*ref);
        }
        auto port = events_->bind_unbound(backend);
        if (!port) return std::unexpected(port.error());
        ports.push_back(port->port());
        state.port = std::move(*port);
        ring_state_.push_back(std::move(state));
        views.push_back(RingMemory{.intf = intf,
                                   .data = memory.subspan((first + 1) * ring::kXenPageSize,
                                                          data_pages * ring::kXenPageSize),
                                   .order = order_});
    }
    doorbell_ = std::make_unique<PortDoorbell>(*events_, std::move(ports));
    rings_ = std::make_unique<RingTransport>(views, *doorbell_);
    views_ = std::move(views);
    return {};
}

Status Frontend::publish_rings() {
    return xenstore::in_transaction(xs_, [&](xenstore::Xenstore::Transaction t) -> Status {
        const std::string& f = frontend_path_;
        if (auto st = xs_.write(f + "/version", "1", t); !st) return st;
        if (auto st = xs_.write(f + "/num-rings", std::to_string(kNumRings), t); !st) return st;
        for (unsigned r = 0; r < kNumRings; ++r) {
            const std::string n = std::to_string(r);
            if (auto st = xs_.write(f + "/ring-ref" + n, std::to_string(ring_state_[r].refs[0]), t);
                !st) {
                return st;
            }
            if (auto st = xs_.write(f + "/event-channel-" + n,
                                    std::to_string(ring_state_[r].port.port()), t);
                !st) {
                return st;
            }
        }
        // Linux reads its mount tag in the same transaction.
        auto tag = xs_.read(f + "/tag", t);
        if (!tag) return std::unexpected(tag.error());
        tag_ = *tag;
        return {};
    });
}

Status Frontend::send(const client::OutgoingMessage& message) {
    if (!open_) return fail(ENOTCONN);
    return rings_->send(message);
}

Result<std::vector<std::byte>> Frontend::receive(std::size_t max_size) {
    if (!open_) return fail(ENOTCONN);
    return rings_->receive(max_size);
}

void Frontend::abandon(std::uint16_t tag) {
    if (rings_) rings_->abandon(tag);
}

Status Frontend::free_rings() {
    rings_.reset();
    doorbell_.reset();
    Status result;
    for (Ring& r : ring_state_) {
        r.port.reset();
        for (platform::GrantRef ref : r.refs) {
            // EBUSY: the backend still maps the page; keep the first error.
            if (auto st = sharer_->revoke(ref); !st && result) result = st;
        }
    }
    ring_state_.clear();
    views_.clear();
    return result;
}

Status Frontend::close() {
    if (!open_) return {};
    open_ = false;
    Status result = set_state(XenbusState::kClosing);
    if (result) {
        auto state = wait_backend(is_closing);
        if (!state) result = std::unexpected(state.error());
    }
    if (auto st = free_rings(); !st && result) result = st;
    if (auto st = set_state(XenbusState::kClosed); !st && result) result = st;
    return result;
}

Frontend::~Frontend() {
    // A destructor cannot report; close() is the way to see errors.
    [[maybe_unused]] auto st = close();
}

}  // namespace xen9p::frontend
