#include "backend/supervisor/device.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "backend/log/log.hpp"
#include "backend/supervisor/backend_keys.hpp"
#include "backend/worker_channel/messages.hpp"
#include "base/parse_number.hpp"

namespace xen9p::supervisor {
namespace {

constexpr std::string_view kComponent = "supervisor";
// A worker unmaps and unbinds on SIGTERM within milliseconds; one that has not
// exited after this long is killed.
constexpr std::chrono::seconds kStopGrace{2};

std::optional<XenbusState> parse_state(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    const auto value = parse_decimal(*text, 8);
    if (!value) return std::nullopt;
    return static_cast<XenbusState>(*value);
}

std::string describe_exit(int status) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == worker_channel::kExitCrashLoop)
        return "its servers died more than 5 times within 60 s";
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
}

}  // namespace

Device::Device(worker_channel::DeviceId id, std::string backend_path, xenstore::Xenstore& xs,
               const SupervisorConfig& config, WorkerLauncher& launcher)
    : id_(std::move(id)),
      backend_path_(std::move(backend_path)),
      frontend_path_("/local/domain/" + std::to_string(id_.domid) + "/device/9pfs/" +
                     std::to_string(id_.devid)),
      xs_(xs),
      config_(config),
      launcher_(launcher) {}

Device::Device(const DeviceHandover& handover, std::unique_ptr<Worker> worker,
               std::string backend_path, xenstore::Xenstore& xs, const SupervisorConfig& config,
               WorkerLauncher& launcher)
    : Device(handover.id, std::move(backend_path), xs, config, launcher) {
    state_ = handover.state;
    state_after_worker_ = handover.state_after_worker;
    params_ = handover.params;
    last_error_ = handover.last_error;
    worker_ = std::move(worker);
    // The frontend's watch went with the previous supervisor's xenstore
    // connection; it fires once now, as every new watch does.
    if (handover.watching_frontend) {
        if (auto w = xs_.watch(frontend_key("state"), "fe:" + id_.to_string()); w)
            watching_frontend_ = true;
        else
            close(XenbusState::kClosed, "cannot watch the frontend state");
    }
    if (!worker_) {
        state_after_worker_.reset();
        // Nobody would serve it: the guest sees the device close instead.
        if (handover.worker) {
            closed_on_takeover_ = true;
            close(handover.state_after_worker.value_or(XenbusState::kClosing),
                  "its worker could not be taken over");
        }
    } else if (handover.worker_lost) {
        worker_lost_ = true;
        worker_->stop(WorkerClock::duration::zero());
    } else if (handover.worker->stopping) {
        worker_->stop(kStopGrace);
    } else if (handover.worker->ready) {
        worker_ready_at_ = WorkerClock::now();
    }
    if (!params_ || state_after_worker_ || closed_on_takeover_) return;
    // The configuration may have changed with the upgrade: a device it no
    // longer allows is closed, and one it allows reconnects with its new
    // settings (the running worker keeps those it started with).
    if (std::find(config_.kinds.begin(), config_.kinds.end(), id_.kind) == config_.kinds.end()) {
        closed_on_takeover_ = true;
        refuse("its kind is no longer served");
        return;
    }
    auto params = read_backend_keys(xs_, id_, backend_path_, frontend_path_, config_);
    if (!params) {
        closed_on_takeover_ = true;
        refuse(params.error());
        return;
    }
    params->rings = params_->rings;
    params_ = std::move(*params);
}

Device::~Device() {
    if (watching_frontend_) (void)xs_.unwatch(frontend_key("state"), "fe:" + id_.to_string());
}

std::string Device::backend_key(std::string_view key) const {
    return backend_path_ + "/" + std::string(key);
}

std::string Device::frontend_key(std::string_view key) const {
    return frontend_path_ + "/" + std::string(key);
}

void Device::log_guest_caused(log::Level level, std::string_view message,
                              std::initializer_list<log::Field> fields) {
    log::limited(log_limiter_, level, kComponent, id_.to_string(), message, fields);
}

bool Device::publish_state(XenbusState state) {
    const auto value = std::to_string(static_cast<int>(state));
    if (auto written = xs_.write(backend_key("state"), value); !written) {
        log_guest_caused(log::Level::kError, "cannot write backend state",
                         {{"state", value}, {"error", written.error().message()}});
        return false;
    }
    state_ = state;
    log_guest_caused(log::Level::kInfo, "backend state", {{"state", value}});
    return true;
}

void Device::stop_worker() {
    if (!worker_ || worker_->stopping()) return;
    log_guest_caused(log::Level::kInfo, "stopping worker",
                     {{"pid", std::to_string(worker_->pid())}});
    worker_->stop(kStopGrace);
}

void Device::close(XenbusState final_state, const std::string& why) {
    if (!why.empty()) {
        last_error_ = why;
        log_guest_caused(log::Level::kWarning, "closing device", {{"reason", why}});
    }
    if (worker_) {
        // The frontend may free its ring pages once it sees the state: the
        // worker must have unmapped them first.
        state_after_worker_ = final_state;
        stop_worker();
        return;
    }
    if (state_ != final_state) publish_state(final_state);
}

bool Device::launch_held_back() {
    const auto next = backoff_.next_launch();
    if (WorkerClock::now() >= next) {
        launch_at_.reset();
        return false;
    }
    launch_at_ = next;
    if (backoff_.first_hold()) {
        // Once per episode, and an episode ends only after 10 s connected: not
        // through the limiter, whose bucket the same cycling may have emptied.
        const auto delay =
            std::chrono::ceil<std::chrono::milliseconds>(next - WorkerClock::now()).count();
        log::warning(kComponent, id_.to_string(),
                     "frontend restarts quickly: holding back its workers",
                     {{"delay_ms", std::to_string(delay)},
                      {"max_delay_ms", std::to_string(RestartBackoff::kMaxDelay.count())}});
    }
    return true;
}

bool Device::setup_from_backend_keys() {
    auto params = read_backend_keys(xs_, id_, backend_path_, frontend_path_, config_);
    if (!params) return refuse(params.error());
    params_ = std::move(*params);
    if (auto error = open_handshake()) return refuse(*error);
    log::info(kComponent, id_.to_string(), "device configured",
              {{"path", params_->export_path.string()},
               {"tag", params_->tag},
               {"security_model", params_->security_model}});
    return publish_state(XenbusState::kInitWait);
}

bool Device::refuse(const std::string& why) {
    // The device stays Closed until the toolstack removes it; the reason
    // is also left where xl tools look for backend errors.
    (void)xs_.write(backend_key("hotplug-error"), why);
    close(XenbusState::kClosed, why);
    return false;
}

std::optional<std::string> Device::open_handshake() {
    if (!xs_.write(backend_key("versions"), "1") ||
        !xs_.write(backend_key("max-rings"), std::to_string(config_.max_rings)) ||
        !xs_.write(backend_key("max-ring-page-order"), std::to_string(config_.max_ring_order)))
        return "cannot publish backend features";
    if (!watching_frontend_) {
        if (!xs_.watch(frontend_key("state"), "fe:" + id_.to_string()))
            return "cannot watch the frontend state";
        watching_frontend_ = true;
    }
    return std::nullopt;
}

void Device::connect_frontend() {
    auto version = xs_.try_read(frontend_key("version"));
    auto num_rings_text = xs_.try_read(frontend_key("num-rings"));
    if (!version || !*version || **version != "1") {
        close(XenbusState::kClosed, "frontend version is not 1");
        return;
    }
    const auto num_rings = num_rings_text && *num_rings_text
                               ? parse_decimal(**num_rings_text, config_.max_rings)
                               : std::nullopt;
    if (!num_rings || *num_rings == 0) {
        close(XenbusState::kClosed, "frontend num-rings is invalid");
        return;
    }
    worker_channel::WorkerParams params = *params_;
    params.rings.clear();
    for (std::uint64_t i = 0; i < *num_rings; ++i) {
        const auto n = std::to_string(i);
        auto ref = xs_.try_read(frontend_key("ring-ref" + n));
        auto port = xs_.try_read(frontend_key("event-channel-" + n));
        const auto ref_value = ref && *ref ? parse_decimal(**ref, 0xffffffff) : std::nullopt;
        const auto port_value = port && *port ? parse_decimal(**port, 0xffffffff) : std::nullopt;
        if (!ref_value || !port_value || *port_value == 0) {
            close(XenbusState::kClosed, "frontend ring " + n + " keys are invalid");
            return;
        }
        params.rings.push_back(
            {static_cast<std::uint32_t>(*ref_value), static_cast<std::uint32_t>(*port_value)});
    }
    auto worker = launcher_.launch(params);
    if (!worker) {
        close(XenbusState::kClosed, "cannot start worker: " + worker.error().message());
        return;
    }
    worker_ = std::move(*worker);
    params_ = std::move(params);
    log_guest_caused(log::Level::kInfo, "worker started",
                     {{"pid", std::to_string(worker_->pid())},
                      {"uid", std::to_string(params_->uid)},
                      {"rings", std::to_string(params_->rings.size())}});
}

bool Device::refresh() {
    auto backend_state = xs_.try_read(backend_key("state"));
    if (!backend_state) return true;  // transient xenstore error: keep what we have
    // The toolstack removed the device; the supervisor collects the worker.
    if (!*backend_state) return false;
    auto online = xs_.try_read(backend_key("online"));
    const bool offline = online && *online && **online == "0";

    if (state_ == XenbusState::kUnknown) {
        const auto initial = parse_state(*backend_state);
        if (offline || initial != XenbusState::kInitialising) {
            // Another backend (or the toolstack) already drives it.
            if (last_error_.empty()) {
                last_error_ = "not claimed: backend state " + **backend_state;
                log::info(kComponent, id_.to_string(), "device not claimed",
                          {{"state", **backend_state}});
            }
            return true;
        }
        setup_from_backend_keys();
        return true;
    }

    if (offline) {
        // libxl removes a device with online=0 and state=5, then waits for 6.
        close(XenbusState::kClosed, {});
        return true;
    }

    auto frontend_text = xs_.try_read(frontend_key("state"));
    if (!frontend_text) return true;
    // A vanished frontend counts as Closed.
    const auto frontend = *frontend_text ? parse_state(*frontend_text) : XenbusState::kClosed;
    if (!frontend) return true;

    switch (state_) {
        case XenbusState::kInitWait:
            if (*frontend == XenbusState::kInitialised && !worker_) {
                if (!launch_held_back()) connect_frontend();
            } else if (*frontend == XenbusState::kClosing || *frontend == XenbusState::kClosed) {
                if (worker_) close(*frontend, {});
            }
            break;
        case XenbusState::kConnected:
            if (*frontend == XenbusState::kClosing || *frontend == XenbusState::kClosed)
                close(*frontend, {});
            break;
        case XenbusState::kClosing:
            // A watch reports the value when it is read: a frontend that closed
            // and started over at once is seen Initialising, never Closed.
            if (*frontend == XenbusState::kClosed || *frontend == XenbusState::kInitialising ||
                *frontend == XenbusState::kInitWait)
                close(XenbusState::kClosed, {});
            if (state_ != XenbusState::kClosed) break;
            [[fallthrough]];
        case XenbusState::kClosed:
            // A frontend that starts over gets a fresh worker.
            if (params_ &&
                (*frontend == XenbusState::kInitialising || *frontend == XenbusState::kInitWait)) {
                last_error_.clear();
                publish_state(XenbusState::kInitWait);
            }
            break;
        default:
            break;
    }
    return true;
}

void Device::on_worker_event() {
    if (!worker_) return;
    switch (worker_->next_event()) {
        case WorkerEvent::kNone:
            break;
        case WorkerEvent::kReady:
            if (state_ == XenbusState::kInitWait && !worker_->stopping()) {
                worker_ready_at_ = WorkerClock::now();
                publish_state(XenbusState::kConnected);
            }
            break;
        case WorkerEvent::kTooFast:
            log_guest_caused(log::Level::kWarning,
                             "worker sends faster than it reports: its control socket is read "
                             "at a bounded rate",
                             {{"pid", std::to_string(worker_->pid())}});
            break;
        case WorkerEvent::kLost:
            // Killed already; the device closes once the process is gone. A
            // worker that exits closes its files first: it may be gone now.
            worker_lost_ = true;
            if (on_worker_exit()) break;
            log_guest_caused(log::Level::kWarning, "worker closed its control socket: killed",
                             {{"pid", std::to_string(worker_->pid())}});
            break;
    }
}

void Device::on_worker_output() {
    if (worker_) worker_->forward_output(worker_output_limiter_);
}

bool Device::on_worker_exit() {
    if (!worker_ || !worker_->reap()) return false;
    worker_->drain_output(worker_output_limiter_);
    const auto now = WorkerClock::now();
    const int status = worker_->exit_status();
    const auto how = describe_exit(status);
    const auto pid = std::to_string(worker_->pid());
    backoff_.worker_ended(now,
                          worker_ready_at_ ? now - *worker_ready_at_ : WorkerClock::duration{});
    worker_ready_at_.reset();
    worker_.reset();
    const bool lost = std::exchange(worker_lost_, false);
    if (const auto next = std::exchange(state_after_worker_, std::nullopt)) {
        log_guest_caused(log::Level::kInfo, "worker stopped", {{"pid", pid}, {"how", how}});
        if (state_ != *next) publish_state(*next);
        return true;
    }
    log_guest_caused(log::Level::kError, "worker ended", {{"pid", pid}, {"how", how}});
    // Our kill is dropped for a worker already exiting: its own status says so.
    const bool killed = lost && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    // The guest sees the device close and fails its I/O instead of hanging.
    close(XenbusState::kClosing,
          killed ? "worker closed its control socket and was killed" : "worker ended: " + how);
    return true;
}

void Device::domain_gone() {
    if (state_ == XenbusState::kUnknown || state_ == XenbusState::kClosed) {
        stop_worker();
        return;
    }
    close(XenbusState::kClosed, "domain destroyed");
}

void Device::daemon_stopped() {
    if (state_ == XenbusState::kConnected) publish_state(XenbusState::kClosing);
}

std::optional<WorkerClock::time_point> Device::deadline() const {
    auto next = worker_ ? worker_->deadline() : std::nullopt;
    if (launch_at_ && (!next || *launch_at_ < *next)) next = launch_at_;
    return next;
}

bool Device::on_deadline(WorkerClock::time_point now) {
    if (worker_ && worker_->expire(now))
        log_guest_caused(log::Level::kWarning, "worker did not stop in time: killed",
                         {{"pid", std::to_string(worker_->pid())}});
    if (!launch_at_ || now < *launch_at_) return false;
    launch_at_.reset();
    return true;
}

DeviceHandover Device::hand_over() const {
    DeviceHandover handover;
    handover.id = id_;
    handover.state = state_;
    handover.state_after_worker = state_after_worker_;
    handover.watching_frontend = watching_frontend_;
    handover.worker_lost = worker_lost_;
    handover.last_error = last_error_;
    handover.params = params_;
    if (worker_) handover.worker = worker_->descriptors();
    return handover;
}

std::unique_ptr<Worker> Device::release_worker() {
    stop_worker();
    state_after_worker_.reset();
    return std::move(worker_);
}

}  // namespace xen9p::supervisor
