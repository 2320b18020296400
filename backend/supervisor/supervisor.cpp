#include "backend/supervisor/supervisor.hpp"

#include <signal.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "backend/log/log.hpp"
#include "backend/supervisor/singleton_key.hpp"

namespace xen9p::supervisor {
namespace {

constexpr std::string_view kComponent = "supervisor";
constexpr std::string_view kBackendToken = "be:";
constexpr std::string_view kFrontendToken = "fe:";
constexpr std::string_view kReleaseToken = "release";
// Watch events handled per round: a guest writing its frontend nodes in a
// loop must not keep the control socket and the other devices waiting.
constexpr int kWatchEventsPerRound = 64;
// At shutdown: how long stopping workers get before they are killed, and how
// long their exit is then waited for.
constexpr std::chrono::seconds kShutdownGrace{2};
constexpr std::chrono::seconds kShutdownKillWait{1};
// What a retiring worker taken over from the previous supervisor gets.
constexpr std::chrono::seconds kRetireGrace{2};

}  // namespace

Supervisor::Supervisor(SupervisorConfig config, xenstore::Xenstore xs,
                       std::unique_ptr<WorkerLauncher> launcher)
    : config_(std::move(config)), xs_(std::move(xs)), launcher_(std::move(launcher)) {}

Supervisor::~Supervisor() {
    shutdown();
}

std::string Supervisor::backend_root(std::string_view kind) const {
    return "/local/domain/" + std::to_string(config_.self_domid) + "/backend/" + std::string(kind);
}

std::size_t Supervisor::adopt(const Handover& handover) {
    std::size_t workers = 0;
    std::size_t closed = 0;
    for (const auto& taken : handover.devices) {
        std::unique_ptr<Worker> worker;
        if (taken.worker) {
            auto adopted = launcher_->adopt(*taken.worker, taken.id);
            if (adopted) {
                worker = std::move(*adopted);
                ++workers;
            } else {
                log::error(kComponent, taken.id.to_string(), "cannot take over the worker",
                           {{"pid", std::to_string(taken.worker->pid)},
                            {"error", adopted.error().message()}});
            }
        }
        const auto path = backend_root(taken.id.kind) + "/" + std::to_string(taken.id.domid) + "/" +
                          std::to_string(taken.id.devid);
        auto device =
            std::make_unique<Device>(taken, std::move(worker), path, xs_, config_, *launcher_);
        if (device->closed_on_takeover()) ++closed;
        log::info(kComponent, taken.id.to_string(), "device taken over",
                  {{"state", std::to_string(static_cast<int>(taken.state))},
                   {"worker_pid", std::to_string(device->worker_pid())}});
        devices_.insert_or_assign(taken.id, std::move(device));
    }
    for (const auto& stopping : handover.retiring) {
        auto adopted = launcher_->adopt(stopping, worker_channel::DeviceId{});
        if (!adopted) continue;
        (*adopted)->stop(kRetireGrace);
        retire(std::move(*adopted));
    }
    log::info(kComponent, "", "took over from the previous supervisor",
              {{"devices", std::to_string(handover.devices.size())},
               {"workers", std::to_string(workers)},
               {"closed", std::to_string(closed)},
               {"retiring", std::to_string(retiring_.size())}});
    return closed;
}

Handover Supervisor::hand_over() const {
    Handover handover;
    for (const auto& [id, device] : devices_) {
        auto taken = device->hand_over();
        // A device never claimed is found again by the next rescan.
        if (taken.state == XenbusState::kUnknown) {
            if (taken.worker) handover.retiring.push_back(*taken.worker);
            continue;
        }
        handover.devices.push_back(std::move(taken));
    }
    for (const auto& worker : retiring_)
        handover.retiring.push_back(worker->descriptors());
    // A retiring worker's last lines name a device the next supervisor no
    // longer knows: its output is not handed on.
    for (auto& worker : handover.retiring)
        worker.output_fd = -1;
    return handover;
}

Status Supervisor::start() {
    const bool claims_xen_9pfs =
        std::find(config_.kinds.begin(), config_.kinds.end(),
                  std::string(worker_channel::kKindXen9pfsd)) != config_.kinds.end();
    if (claims_xen_9pfs) {
        // libxl (4.19+) spawns xen-9pfsd only while this key is absent, and
        // waits for "running": owning it makes type=xen_9pfsd devices ours.
        SingletonKey key(config_.self_domid);
        auto claimed = key.claim(xs_);
        if (!claimed) return std::unexpected(claimed.error());
        if (*claimed == ClaimOutcome::kOtherDaemonRunning) {
            log::error(kComponent, "", "another 9pfs daemon is running for this domain",
                       {{"key", key.path() + "/pid"}});
            return fail(EEXIST);
        }
        singleton_.emplace(key);
    } else {
        // Claimed before an upgrade whose configuration no longer serves
        // xen_9pfs: libxl must be free to start a daemon for it again.
        SingletonKey(config_.self_domid).release(xs_);
    }
    for (const auto& kind : config_.kinds) {
        if (auto w = xs_.watch(backend_root(kind), std::string(kBackendToken) + kind); !w) return w;
    }
    if (auto w = xs_.watch("@releaseDomain", kReleaseToken); !w) return w;
    timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!timer_) return fail_errno();
    log::info(kComponent, "", "watching",
              {{"domid", std::to_string(config_.self_domid)},
               {"kinds", std::to_string(config_.kinds.size())}});
    return {};
}

std::vector<pollfd> Supervisor::poll_fds() const {
    std::vector<pollfd> fds;
    fds.push_back({xs_.watch_fd(), POLLIN, 0});
    if (timer_) fds.push_back({timer_.get(), POLLIN, 0});
    for (const auto& [id, device] : devices_) {
        if (device->worker_control_fd() >= 0)
            fds.push_back({device->worker_control_fd(), POLLIN, 0});
        if (device->worker_output_fd() >= 0) fds.push_back({device->worker_output_fd(), POLLIN, 0});
        if (device->worker_exit_fd() >= 0) fds.push_back({device->worker_exit_fd(), POLLIN, 0});
    }
    for (const auto& worker : retiring_)
        fds.push_back({worker->exit_fd(), POLLIN, 0});
    return fds;
}

void Supervisor::handle_ready(std::span<const pollfd> fds) {
    // An fd is looked up again for each report: handling one may have closed
    // another and given its number to a new fd, which then merely gets a
    // look that finds nothing (every handler here only reads what is ready).
    for (const auto& p : fds) {
        if (p.revents == 0 || p.fd == xs_.watch_fd()) continue;
        if (p.fd == timer_.get()) {
            on_timer();
        } else {
            on_worker_fd(p.fd);
        }
    }
    for (int i = 0; i < kWatchEventsPerRound; ++i) {
        auto event = xs_.next_watch_event();
        if (!event) break;
        handle_watch(*event);
    }
    arm_timer();
}

Status Supervisor::run_once(int timeout_ms) {
    auto fds = poll_fds();
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0) return errno == EINTR ? Status{} : fail_errno();
    handle_ready(fds);
    return {};
}

void Supervisor::on_worker_fd(int fd) {
    for (auto& [id, device] : devices_) {
        if (device->worker_control_fd() == fd) {
            device->on_worker_event();
            return;
        }
        if (device->worker_output_fd() == fd) {
            device->on_worker_output();
            return;
        }
        if (device->worker_exit_fd() == fd) {
            // Frontend changes seen while the worker stopped are taken up now.
            if (device->on_worker_exit()) refresh_device(worker_channel::DeviceId(id));
            return;
        }
    }
    std::erase_if(retiring_, [this, fd](const auto& worker) {
        return worker->exit_fd() == fd && collect(*worker);
    });
}

void Supervisor::on_timer() {
    std::uint64_t expirations = 0;
    (void)!::read(timer_.get(), &expirations, sizeof expirations);
    const auto now = WorkerClock::now();
    std::vector<worker_channel::DeviceId> due;
    for (auto& [id, device] : devices_) {
        if (device->on_deadline(now)) due.push_back(id);
    }
    for (const auto& id : due)
        refresh_device(id);
    for (auto& worker : retiring_) {
        if (worker->expire(now))
            log::warning(kComponent, "", "worker of a removed device did not stop in time: killed",
                         {{"pid", std::to_string(worker->pid())}});
    }
}

void Supervisor::arm_timer() {
    if (!timer_) return;
    std::optional<WorkerClock::time_point> next;
    auto consider = [&next](std::optional<WorkerClock::time_point> t) {
        if (t && (!next || *t < *next)) next = t;
    };
    for (const auto& [id, device] : devices_)
        consider(device->deadline());
    for (const auto& worker : retiring_)
        consider(worker->deadline());
    itimerspec spec{};
    if (next) {
        // steady_clock is CLOCK_MONOTONIC; a time already passed fires at once.
        const auto since = next->time_since_epoch();
        const auto sec = std::chrono::duration_cast<std::chrono::seconds>(since);
        spec.it_value.tv_sec = sec.count();
        spec.it_value.tv_nsec =
            std::chrono::duration_cast<std::chrono::nanoseconds>(since - sec).count();
        // All zero would disarm the timer.
        if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    }
    if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0)
        log::error(kComponent, "", "cannot arm the timer", {{"error", Errno{errno}.message()}});
}

void Supervisor::handle_watch(const xenstore::WatchEvent& event) {
    const std::string_view token = event.token;
    if (token == kReleaseToken) {
        domains_released();
        return;
    }
    if (token.starts_with(kFrontendToken)) {
        for (auto& [id, device] : devices_) {
            if (token.substr(kFrontendToken.size()) == id.to_string()) {
                refresh_device(id);
                return;
            }
        }
        return;
    }
    if (!token.starts_with(kBackendToken)) return;
    const std::string kind(token.substr(kBackendToken.size()));
    const auto root = backend_root(kind);
    if (auto id = worker_channel::device_of_path(root, kind, event.path)) {
        if (!devices_.contains(*id)) {
            // A node of a device we do not know yet: rescan to pick it up.
            rescan(kind);
            return;
        }
        refresh_device(*id);
        return;
    }
    rescan(kind);
}

void Supervisor::rescan(const std::string& kind) {
    const auto root = backend_root(kind);
    std::vector<worker_channel::DeviceId> present;
    if (auto domains = xs_.directory(root)) {
        for (const auto& domain : *domains) {
            auto devices = xs_.directory(root + "/" + domain);
            if (!devices) continue;
            for (const auto& dev : *devices) {
                if (auto id =
                        worker_channel::device_of_path(root, kind, root + "/" + domain + "/" + dev))
                    present.push_back(*id);
            }
        }
    }
    for (const auto& id : present) {
        if (!devices_.contains(id)) {
            const auto path =
                root + "/" + std::to_string(id.domid) + "/" + std::to_string(id.devid);
            devices_.emplace(id, std::make_unique<Device>(id, path, xs_, config_, *launcher_));
        }
        refresh_device(id);
    }
    for (auto it = devices_.begin(); it != devices_.end();) {
        const auto here = it++;
        if (here->first.kind == kind &&
            std::find(present.begin(), present.end(), here->first) == present.end())
            forget(here);
    }
}

void Supervisor::refresh_device(const worker_channel::DeviceId& id) {
    auto it = devices_.find(id);
    if (it == devices_.end()) return;
    if (!it->second->refresh()) {
        log::info(kComponent, id.to_string(), "device removed");
        forget(it);
    }
}

void Supervisor::forget(
    std::map<worker_channel::DeviceId, std::unique_ptr<Device>>::iterator device) {
    retire(device->second->release_worker());
    devices_.erase(device);
}

void Supervisor::retire(std::unique_ptr<Worker> worker) {
    if (worker && !collect(*worker)) retiring_.push_back(std::move(worker));
}

bool Supervisor::collect(Worker& worker) {
    if (!worker.reap()) return false;
    // Its last lines (a stopping worker says so) are not polled for: taken now.
    worker.drain_output(retired_log_limiter_);
    return true;
}

void Supervisor::domains_released() {
    for (auto& [id, device] : devices_) {
        auto introduced = xs_.domain_introduced(id.domid);
        if (introduced && !*introduced) device->domain_gone();
    }
}

void Supervisor::shutdown() {
    for (auto& [id, device] : devices_)
        retire(device->release_worker());
    // Connected guests see their devices close (their I/O fails instead of
    // waiting for a daemon that is gone), once every worker, which may map
    // their pages until then, is gone.
    if (wait_for_retiring()) {
        for (auto& [id, device] : devices_)
            device->daemon_stopped();
    }
    devices_.clear();
    if (singleton_) {
        singleton_->release(xs_);
        singleton_.reset();
    }
}

bool Supervisor::wait_for_retiring() {
    // The one place the supervisor waits for workers: nothing is served any
    // more, and the workers should unmap the guests' pages and unbind their
    // ports before the daemon is gone. Bounded: a worker that ignores SIGTERM
    // is killed after kShutdownGrace, and one that a kill does not end within
    // kShutdownKillWait is left behind (killed again as it is dropped).
    const auto give_up = WorkerClock::now() + kShutdownGrace + kShutdownKillWait;
    for (auto& worker : retiring_)
        worker->stop(kShutdownGrace);
    for (;;) {
        std::erase_if(retiring_, [this](const auto& worker) { return collect(*worker); });
        const auto now = WorkerClock::now();
        if (retiring_.empty() || now >= give_up) break;
        auto until = give_up;
        std::vector<pollfd> fds;
        for (auto& worker : retiring_) {
            worker->expire(now);
            if (auto next = worker->deadline(); next && *next < until) until = *next;
            fds.push_back({worker->exit_fd(), POLLIN, 0});
        }
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(until - now);
        (void)::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    }
    const bool all_gone = retiring_.empty();
    if (!all_gone)
        log::warning(kComponent, "", "workers still running at shutdown",
                     {{"count", std::to_string(retiring_.size())}});
    retiring_.clear();
    return all_gone;
}

std::vector<DeviceStatus> Supervisor::status() const {
    std::vector<DeviceStatus> out;
    for (const auto& [id, device] : devices_) {
        DeviceStatus s;
        s.id = id;
        s.state = device->backend_state();
        s.worker_pid = device->worker_pid();
        s.stats = device->worker_stats();
        s.last_error = device->last_error();
        if (const auto& p = device->params()) {
            s.tag = p->tag;
            s.path = p->export_path.string();
            s.security_model = p->security_model;
            s.worker_uid = p->uid;
        }
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace xen9p::supervisor
