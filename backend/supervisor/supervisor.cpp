#include "backend/supervisor/supervisor.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>

#include "backend/log/log.hpp"

namespace xen9p::daemon {
namespace {

constexpr std::string_view kComponent = "supervisor";
constexpr std::string_view kBackendToken = "be:";
constexpr std::string_view kFrontendToken = "fe:";
constexpr std::string_view kReleaseToken = "release";

bool process_alive(pid_t pid) {
    return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

}  // namespace

Supervisor::Supervisor(SupervisorConfig config, platform::Xenstore xs,
                       std::unique_ptr<WorkerLauncher> launcher)
    : config_(std::move(config)), xs_(std::move(xs)), launcher_(std::move(launcher)) {}

Supervisor::~Supervisor() {
    shutdown();
}

std::string Supervisor::backend_root(std::string_view kind) const {
    return "/local/domain/" + std::to_string(config_.self_domid) + "/backend/" + std::string(kind);
}

Status Supervisor::start() {
    const bool claims_xen_9pfs = std::find(config_.kinds.begin(), config_.kinds.end(),
                                           std::string(kKindXen9pfsd)) != config_.kinds.end();
    if (claims_xen_9pfs) {
        // libxl (4.19+) spawns xen-9pfsd only while this key is absent, and
        // waits for "running": owning it makes type=xen_9pfsd devices ours.
        const auto base = "/local/domain/" + std::to_string(config_.self_domid) + "/libxl/xen-9pfs";
        bool other_running = false;
        auto claimed =
            platform::in_transaction(xs_, [&](platform::Xenstore::Transaction t) -> Status {
                auto state = xs_.try_read(base + "/state", t);
                if (!state) return std::unexpected(state.error());
                auto pid = xs_.try_read(base + "/pid", t);
                if (!pid) return std::unexpected(pid.error());
                if (*state && *pid) {
                    const auto other = parse_decimal(**pid, 0x7fffffff);
                    if (other && static_cast<pid_t>(*other) != ::getpid() &&
                        process_alive(static_cast<pid_t>(*other))) {
                        other_running = true;
                        return {};
                    }
                }
                if (auto w = xs_.write(base + "/state", "running", t); !w) return w;
                return xs_.write(base + "/pid", std::to_string(::getpid()), t);
            });
        if (!claimed) return claimed;
        if (other_running) {
            log::error(kComponent, "", "another 9pfs daemon is running for this domain",
                       {{"key", base + "/pid"}});
            return fail(EEXIST);
        }
        claimed_singleton_ = true;
    }
    for (const auto& kind : config_.kinds) {
        if (auto w = xs_.watch(backend_root(kind), std::string(kBackendToken) + kind); !w) return w;
    }
    if (auto w = xs_.watch("@releaseDomain", kReleaseToken); !w) return w;
    log::info(kComponent, "", "watching",
              {{"domid", std::to_string(config_.self_domid)},
               {"kinds", std::to_string(config_.kinds.size())}});
    return {};
}

std::vector<pollfd> Supervisor::poll_fds() const {
    std::vector<pollfd> fds;
    fds.push_back({xs_.watch_fd(), POLLIN, 0});
    for (const auto& [id, device] : devices_) {
        if (device->worker_fd() >= 0) fds.push_back({device->worker_fd(), POLLIN, 0});
    }
    return fds;
}

void Supervisor::handle_ready(std::span<const pollfd> fds) {
    for (const auto& p : fds) {
        if (p.revents == 0 || p.fd == xs_.watch_fd()) continue;
        for (auto& [id, device] : devices_) {
            if (device->worker_fd() == p.fd) {
                device->on_worker_event();
                break;
            }
        }
    }
    while (auto event = xs_.next_watch_event())
        handle_watch(*event);
}

Status Supervisor::run_once(int timeout_ms) {
    auto fds = poll_fds();
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0) return errno == EINTR ? Status{} : fail_errno();
    handle_ready(fds);
    return {};
}

void Supervisor::handle_watch(const platform::WatchEvent& event) {
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
    if (auto id = device_of_path(root, kind, event.path)) {
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
    std::vector<DeviceId> present;
    if (auto domains = xs_.directory(root)) {
        for (const auto& domain : *domains) {
            auto devices = xs_.directory(root + "/" + domain);
            if (!devices) continue;
            for (const auto& dev : *devices) {
                if (auto id = device_of_path(root, kind, root + "/" + domain + "/" + dev))
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
    std::erase_if(devices_, [&](const auto& entry) {
        return entry.first.kind == kind &&
               std::find(present.begin(), present.end(), entry.first) == present.end();
    });
}

void Supervisor::refresh_device(const DeviceId& id) {
    auto it = devices_.find(id);
    if (it == devices_.end()) return;
    if (!it->second->refresh()) {
        log::info(kComponent, id.to_string(), "device removed");
        devices_.erase(it);
    }
}

void Supervisor::domains_released() {
    for (auto& [id, device] : devices_) {
        auto introduced = xs_.domain_introduced(id.domid);
        if (introduced && !*introduced) device->domain_gone();
    }
}

void Supervisor::shutdown() {
    devices_.clear();
    if (claimed_singleton_) {
        (void)xs_.remove("/local/domain/" + std::to_string(config_.self_domid) + "/libxl/xen-9pfs");
        claimed_singleton_ = false;
    }
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

}  // namespace xen9p::daemon
