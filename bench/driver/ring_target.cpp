#include "bench/driver/ring_target.hpp"

#include <fstream>
#include <string>
#include <vector>

#include "bench/driver/ninep_fs.hpp"
#include "tests/simxen/sim_xen.hpp"

namespace xen9p::bench {
namespace {

// Guests are domains 1..N; the share has the same tag on each.
DomId domid_of(unsigned index) {
    return static_cast<DomId>(index + 1);
}

// A session the target keeps open: a guest connects once, as a mount does, and
// every workload borrows that connection (handles are closed by the workload).
class BorrowedFs final : public Fs {
  public:
    explicit BorrowedFs(Fs& fs) : fs_(fs) {}

    Result<Handle> walk(std::string_view path) override { return fs_.walk(path); }
    Result<Handle> open(std::string_view path, int flags) override { return fs_.open(path, flags); }
    Result<Handle> create(Handle dir, std::string_view name, int flags,
                          std::uint32_t mode) override {
        return fs_.create(dir, name, flags, mode);
    }
    Status close(Handle handle) override { return fs_.close(handle); }
    Status getattr(Handle handle) override { return fs_.getattr(handle); }
    Status unlink(Handle dir, std::string_view name) override { return fs_.unlink(dir, name); }
    Result<std::uint64_t> readdir(Handle dir) override { return fs_.readdir(dir); }
    std::uint32_t max_io() const override { return fs_.max_io(); }
    Result<std::uint64_t> io(Handle file, IoKind kind, const NextOp& next, unsigned depth,
                             std::span<std::byte> buffer) override {
        return fs_.io(file, kind, next, depth, buffer);
    }

  private:
    Fs& fs_;
};

class RingTarget final : public Target {
  public:
    RingTarget(simxen::SimXen& sim, unsigned guests, std::uint32_t msize)
        : sim_(sim), sessions_(guests), msize_(msize) {}

    std::string name() const override { return "xen9pd-ring"; }
    unsigned max_sessions() const override { return static_cast<unsigned>(sessions_.size()); }

    Result<std::unique_ptr<Fs>> connect(unsigned index) override {
        if (index >= sessions_.size()) return fail(EINVAL);
        if (!sessions_[index]) {
            auto frontend = sim_.connect(domid_of(index));
            if (!frontend) return std::unexpected(frontend.error());
            auto fs = NinepFs::connect(std::move(*frontend), msize_, "");
            if (!fs) return std::unexpected(fs.error());
            sessions_[index] = std::move(*fs);
        }
        return std::unique_ptr<Fs>(new BorrowedFs(*sessions_[index]));
    }

    // The workers of the devices connected so far, from `xen9pd status`: the
    // device's keeper and the server it forked (its child, which does the work).
    std::vector<int> serving_pids() override {
        auto status = sim_.daemon_status();
        if (!status) return {};
        std::vector<int> pids;
        for (unsigned i = 0; i < sessions_.size(); ++i) {
            auto keeper = simxen::worker_pid(*status, domid_of(i));
            if (!keeper) continue;
            pids.push_back(*keeper);
            std::ifstream children("/proc/" + std::to_string(*keeper) + "/task/" +
                                   std::to_string(*keeper) + "/children");
            for (int child = 0; children >> child;)
                pids.push_back(child);
        }
        return pids;
    }

  private:
    simxen::SimXen& sim_;
    std::vector<std::unique_ptr<NinepFs>> sessions_;
    std::uint32_t msize_;
};

class SimRingPlatform final : public RingPlatform {
  public:
    SimRingPlatform(std::unique_ptr<simxen::SimXen> sim, RingConfig config)
        : sim_(std::move(sim)), config_(std::move(config)) {}

    std::filesystem::path export_parent() const override { return sim_->dir() / "exports"; }
    int supervisor_pid() const override {
        return sim_->daemon() ? static_cast<int>(sim_->daemon()->pid()) : -1;
    }

    Result<std::unique_ptr<Target>> start(const std::string& export_dir) override {
        for (unsigned i = 0; i < config_.guests; ++i) {
            auto domid = domid_of(i);
            if (auto made = sim_->toolstack().create_domain(domid, "guest" + std::to_string(domid));
                !made) {
                return std::unexpected(made.error());
            }
        }
        std::vector<std::string> extra;
        if (config_.poll_window_us) {
            extra = {"--poll-window-us", std::to_string(*config_.poll_window_us)};
        }
        if (auto daemon = sim_->start_daemon(extra); !daemon) {
            return std::unexpected(daemon.error());
        }
        for (unsigned i = 0; i < config_.guests; ++i) {
            sim::P9Device device;
            device.domid = domid_of(i);
            device.tag = "share";
            device.path = export_dir;
            if (auto added = sim_->toolstack().add_9pfs(device); !added) {
                return std::unexpected(added.error());
            }
        }
        return std::unique_ptr<Target>(new RingTarget(*sim_, config_.guests, config_.msize));
    }

  private:
    std::unique_ptr<simxen::SimXen> sim_;
    RingConfig config_;
};

}  // namespace

Result<std::unique_ptr<RingPlatform>> start_ring_platform(const RingConfig& config) {
    auto sim = simxen::SimXen::start({config.sim_binary, config.xen9pd_binary});
    if (!sim) return std::unexpected(sim.error());
    return std::unique_ptr<RingPlatform>(new SimRingPlatform(std::move(*sim), config));
}

}  // namespace xen9p::bench
