// The frontend against a scripted backend on the simulated platform: the sim
// xenstored and hypervisor run in this process; the backend is dom0 here.
#include <poll.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <future>

#include "client/client.hpp"
#include "client/operations.hpp"
#include "frontend/frontend.hpp"
#include "sim/toolstack.hpp"
#include "sim/xenstored.hpp"
#include "tests/frontend/ring_backend.hpp"
#include "tests/frontend/sim_hypervisor_runner.hpp"
#include "xenring/platform/platform.hpp"
#include "xenring/ring/data_intf.hpp"

namespace xen9p::frontend::test {
namespace {

constexpr DomId kGuest = 7;

// The sim platform, dom0's xenstore, a guest and its 9pfs device 0.
struct SimWorld {
    std::filesystem::path dir;
    std::unique_ptr<sim::XenstoredThread> xenstored;
    std::unique_ptr<HypervisorRunner> hypervisor;
    std::optional<xenstore::Xenstore> xs;
    std::string fe;  // frontend dir
    std::string be;  // backend dir

    SimWorld() {
        dir = std::filesystem::temp_directory_path() /
              ("xen9p-frontend-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
        std::filesystem::create_directories(dir);
        auto started = sim::XenstoredThread::start(dir.string());
        BOOST_REQUIRE(started);
        xenstored = std::move(*started);
        auto opened = xenstore::Xenstore::open_socket(xenstored->server().socket_path());
        BOOST_REQUIRE(opened);
        xs.emplace(std::move(*opened));
        auto waiter = xenstore::Xenstore::open_socket(xenstored->server().socket_path());
        BOOST_REQUIRE(waiter);
        sim::Toolstack toolstack(*xs, std::move(*waiter));
        BOOST_REQUIRE(toolstack.create_domain(kGuest, "guest"));
        hypervisor = start_hypervisor(dir, kGuest);
        BOOST_REQUIRE(hypervisor != nullptr);
        const sim::P9Device device{.domid = kGuest, .tag = "share", .path = "/srv"};
        BOOST_REQUIRE(toolstack.add_9pfs(device));
        fe = sim::p9_frontend_path(kGuest, 0);
        be = sim::p9_backend_path(device);
    }
    ~SimWorld() {
        hypervisor.reset();
        xenstored.reset();
        std::filesystem::remove_all(dir);
    }

    FrontendConfig config(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
        return FrontendConfig{.platform_spec = "sim:" + dir.string(),
                              .domid = kGuest,
                              .devid = 0,
                              .xenstore_socket = sim_xenstore_socket(dir.string(), kGuest),
                              .timeout = timeout};
    }

    void write(const std::string& path, const std::string& value) {
        BOOST_REQUIRE(xs->write(path, value));
    }
    std::optional<std::string> read(const std::string& path) {
        auto value = xs->try_read(path);
        BOOST_REQUIRE(value);
        return *value;
    }
    // Blocks until `path` reads `value` (watch-driven).
    void wait_for(const std::string& path, const std::string& value) {
        BOOST_REQUIRE(xs->watch(path, "wait"));
        for (;;) {
            while (xs->next_watch_event()) {
            }
            if (read(path) == value) break;
            pollfd pfd{.fd = xs->watch_fd(), .events = POLLIN, .revents = 0};
            BOOST_REQUIRE(::poll(&pfd, 1, 10'000) == 1);
        }
        BOOST_REQUIRE(xs->unwatch(path, "wait"));
    }

    static inline int counter_ = 0;
};

BOOST_AUTO_TEST_CASE(versions_list_must_contain_1) {
    BOOST_TEST(versions_include_1("1"));
    BOOST_TEST(versions_include_1("2,1"));
    BOOST_TEST(versions_include_1("1,2"));
    BOOST_TEST(versions_include_1("3,1,2"));
    BOOST_TEST(!versions_include_1("2"));
    BOOST_TEST(!versions_include_1("10"));
    BOOST_TEST(!versions_include_1("11,21"));
    BOOST_TEST(!versions_include_1(""));
    BOOST_TEST(!versions_include_1(" 1"));
}

BOOST_AUTO_TEST_CASE(nothing_is_published_before_the_backend_is_in_initwait) {
    SimWorld world;
    // Every feature is there, but the backend never leaves Initialising.
    world.write(world.be + "/versions", "1");
    world.write(world.be + "/max-rings", "2");
    world.write(world.be + "/max-ring-page-order", "4");
    auto fe = Frontend::connect(world.config(std::chrono::milliseconds(300)));
    BOOST_REQUIRE(!fe);
    BOOST_TEST(fe.error().value == ETIMEDOUT);
    BOOST_TEST(!world.read(world.fe + "/version").has_value());
    BOOST_TEST(!world.read(world.fe + "/ring-ref0").has_value());
    BOOST_TEST(world.read(world.fe + "/state").value_or("") == "1");
}

BOOST_AUTO_TEST_CASE(max_rings_below_2_is_refused_before_any_ring_is_published) {
    SimWorld world;
    world.write(world.be + "/versions", "1");
    world.write(world.be + "/max-rings", "1");
    world.write(world.be + "/max-ring-page-order", "4");
    world.write(world.be + "/state", "2");
    auto fe = Frontend::connect(world.config());
    BOOST_REQUIRE(!fe);
    BOOST_TEST(fe.error().value == EINVAL);
    BOOST_TEST(!world.read(world.fe + "/ring-ref0").has_value());
    BOOST_TEST(world.read(world.fe + "/state").value_or("") == "1");
}

BOOST_AUTO_TEST_CASE(versions_without_1_are_refused) {
    SimWorld world;
    world.write(world.be + "/versions", "2,3");
    world.write(world.be + "/max-rings", "2");
    world.write(world.be + "/max-ring-page-order", "4");
    world.write(world.be + "/state", "2");
    auto fe = Frontend::connect(world.config());
    BOOST_REQUIRE(!fe);
    BOOST_TEST(fe.error().value == EINVAL);
}

// What the scripted backend holds once connected.
struct BackendSide {
    std::unique_ptr<platform::GrantMapper> mapper;
    std::unique_ptr<platform::EventChannel> events;
    std::vector<platform::GrantMapping> intf_maps;
    std::vector<platform::GrantMapping> data_maps;
    std::vector<platform::BoundPort> ports;
    std::vector<RingMemory> rings;
};

// Backend bell over dom0's event channel ports.
class PortBell final : public BackendBell {
  public:
    explicit PortBell(BackendSide& side) : side_(side) {}
    Status notify(std::size_t ring) override {
        return side_.events->notify(side_.ports.at(ring).port());
    }
    int fd() const override { return side_.events->fd(); }
    Status acknowledge() override {
        for (;;) {
            auto port = side_.events->pending();
            if (!port) return std::unexpected(port.error());
            if (!*port) return {};
            if (auto st = side_.events->unmask(**port); !st) return st;
        }
    }

  private:
    BackendSide& side_;
};

BOOST_AUTO_TEST_CASE(handshake_publishes_keys_in_order_and_requests_round_trip) {
    SimWorld world;
    auto connecting = std::async(std::launch::async,
                                 [config = world.config()] { return Frontend::connect(config); });

    world.write(world.be + "/versions", "2,1");
    world.write(world.be + "/max-rings", "4");
    world.write(world.be + "/max-ring-page-order", "12");
    world.write(world.be + "/state", "2");
    world.wait_for(world.fe + "/state", "3");

    // Every key was there when the frontend said Initialised.
    BOOST_TEST(world.read(world.fe + "/version").value_or("") == "1");
    BOOST_TEST(world.read(world.fe + "/num-rings").value_or("") == "2");
    BackendSide side;
    auto mapper = platform::open_grant_mapper("sim:" + world.dir.string(), 0);
    auto events = platform::open_event_channel("sim:" + world.dir.string(), 0);
    BOOST_REQUIRE(mapper);
    BOOST_REQUIRE(events);
    side.mapper = std::move(*mapper);
    side.events = std::move(*events);
    for (int r = 0; r < 2; ++r) {
        const std::string n = std::to_string(r);
        auto ref = world.read(world.fe + "/ring-ref" + n);
        auto port = world.read(world.fe + "/event-channel-" + n);
        BOOST_REQUIRE(ref.has_value());
        BOOST_REQUIRE(port.has_value());
        const platform::GrantRef intf_ref = static_cast<platform::GrantRef>(std::stoul(*ref));
        auto intf_map = side.mapper->map(kGuest, std::span(&intf_ref, 1), true);
        BOOST_REQUIRE(intf_map);
        auto* intf = reinterpret_cast<ring::DataIntf*>(intf_map->bytes().data());
        // min(advertised 12, 9)
        auto order = ring::read_ring_order(*intf, 9);
        BOOST_REQUIRE(order);
        BOOST_TEST(*order == 9u);
        const auto refs = ring::read_refs(*intf, *order);
        auto data_map = side.mapper->map(kGuest, refs, true);
        BOOST_REQUIRE(data_map);
        auto bound =
            side.events->bind_interdomain(kGuest, static_cast<platform::Port>(std::stoul(*port)));
        BOOST_REQUIRE(bound);
        side.rings.push_back(RingMemory{.intf = intf, .data = data_map->bytes(), .order = *order});
        side.intf_maps.push_back(std::move(*intf_map));
        side.data_maps.push_back(std::move(*data_map));
        side.ports.push_back(std::move(*bound));
    }
    world.write(world.be + "/state", "4");
    auto fe = connecting.get();
    BOOST_REQUIRE(fe);
    BOOST_TEST(world.read(world.fe + "/state").value_or("") == "4");
    BOOST_TEST((*fe)->tag() == "share");
    BOOST_TEST((*fe)->ring_order() == 9u);
    Frontend& frontend = **fe;

    PortBell bell(side);
    RingBackend backend(side.rings, bell);
    std::atomic<std::size_t> version_ring{99};
    backend.start([&](RingBackend& b, BackendRequest r) {
        if (const auto* version = std::get_if<p9proto::Tversion>(&r.request.body)) {
            version_ring = r.ring;
            b.reply(r.ring, p9proto::Reply{
                                .tag = r.request.tag,
                                .body = p9proto::Rversion{.msize = version->msize,
                                                          .version = p9proto::Text{"9P2000.L"}}});
            return;
        }
        const auto& readlink = std::get<p9proto::Treadlink>(r.request.body);
        const std::string target =
            "fid" + std::to_string(readlink.fid) + "-ring" + std::to_string(r.ring);
        b.reply(r.ring, p9proto::Reply{.tag = r.request.tag,
                                       .body = p9proto::Rreadlink{.target = {target}}});
    });

    client::Client client(std::move(*fe));
    auto msize = client.negotiate(frontend.max_msize());
    BOOST_REQUIRE(msize);
    BOOST_TEST(*msize == 512u * 1024);
    BOOST_TEST(version_ring.load() == 1u);
    std::vector<std::uint16_t> tags;
    for (std::uint32_t fid = 0; fid < 10; ++fid) {
        auto tag = client.send(p9proto::Treadlink{.fid = fid});
        BOOST_REQUIRE(tag);
        tags.push_back(*tag);
    }
    for (std::uint32_t fid = 0; fid < 10; ++fid) {
        auto reply = client.await(tags[fid]);
        BOOST_REQUIRE(reply);
        BOOST_TEST(reply->as<p9proto::Rreadlink>()->target.str ==
                   "fid" + std::to_string(fid) + "-ring" + std::to_string(tags[fid] % 2));
    }
    backend.stop();
    BOOST_TEST(backend.errors().empty());

    // Shutdown: the frontend goes Closing; the backend lets go of the rings and
    // closes; only then can the frontend revoke its grants and go Closed.
    auto backend_close = std::async(std::launch::async, [&] {
        SimWorld& w = world;
        auto xs = xenstore::Xenstore::open_socket(w.xenstored->server().socket_path());
        if (!xs) return false;
        if (!xs->watch(w.fe + "/state", "close")) return false;
        for (;;) {
            while (xs->next_watch_event()) {
            }
            auto state = xs->try_read(w.fe + "/state");
            if (!state) return false;
            if (*state == std::optional<std::string>("5")) break;
            pollfd pfd{.fd = xs->watch_fd(), .events = POLLIN, .revents = 0};
            if (::poll(&pfd, 1, 10'000) != 1) return false;
        }
        side.ports.clear();
        side.data_maps.clear();
        side.intf_maps.clear();
        return static_cast<bool>(xs->write(w.be + "/state", "6"));
    });
    BOOST_REQUIRE(frontend.close());
    BOOST_TEST(backend_close.get());
    BOOST_TEST(world.read(world.fe + "/state").value_or("") == "6");
}

}  // namespace
}  // namespace xen9p::frontend::test
