// One 9pfs device as the supervisor drives it through the xenbus handshake:
// InitWait once its configuration is valid, a worker once the frontend is
// Initialised, Connected once the worker is ready, and Closing/Closed when
// the frontend, the toolstack or the worker ends it. A state that ends the
// worker is published once the worker is gone (it may map the guest's pages
// until then), and nothing here waits for it: the supervisor reports the
// worker's exit (on_worker_exit) and the deadlines it asked for (on_deadline).
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

#include "backend/log/log.hpp"
#include "backend/supervisor/handover.hpp"
#include "backend/supervisor/restart_backoff.hpp"
#include "backend/supervisor/supervisor_config.hpp"
#include "backend/supervisor/worker_launcher.hpp"
#include "backend/worker_channel/device_id.hpp"
#include "xenring/xenstore/xenbus_state.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::supervisor {

using xenstore::XenbusState;

class Device {
  public:
    Device(worker_channel::DeviceId id, std::string backend_path, xenstore::Xenstore& xs,
           const SupervisorConfig& config, WorkerLauncher& launcher);
    // Takes over a device the previous supervisor drove before it
    // re-executed, with its worker (adopted by the launcher, if it had one).
    Device(const DeviceHandover& handover, std::unique_ptr<Worker> worker, std::string backend_path,
           xenstore::Xenstore& xs, const SupervisorConfig& config, WorkerLauncher& launcher);
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    // Re-reads the device's xenstore nodes and takes the next step. False when
    // the backend directory is gone and the device should be forgotten.
    bool refresh();
    // The worker's control fd became readable.
    void on_worker_event();
    // The worker's output fd became readable.
    void on_worker_output();
    // The worker's exit fd became readable; true if the exit was collected.
    bool on_worker_exit();
    // The guest domain no longer exists.
    void domain_gone();
    // The daemon stops, its worker (released) is gone: a connected guest
    // sees the device close.
    void daemon_stopped();
    // The next time on_deadline wants to be called, if any.
    std::optional<WorkerClock::time_point> deadline() const;
    // Kills a worker that outlived its stop grace; true when a launch held
    // back by the restart back-off is due (the caller then refreshes).
    bool on_deadline(WorkerClock::time_point now);
    // Hands over the worker, asked to stop, before the device is forgotten:
    // the supervisor collects it.
    std::unique_ptr<Worker> release_worker();
    // What the next supervisor needs to take the device over; the worker's
    // descriptors stay the device's.
    DeviceHandover hand_over() const;

    const worker_channel::DeviceId& id() const { return id_; }
    const std::string& frontend_path() const { return frontend_path_; }
    // -1 when no worker runs.
    int worker_control_fd() const { return worker_ ? worker_->control_fd() : -1; }
    int worker_output_fd() const { return worker_ ? worker_->output_fd() : -1; }
    int worker_exit_fd() const { return worker_ ? worker_->exit_fd() : -1; }
    pid_t worker_pid() const { return worker_ ? worker_->pid() : -1; }
    // What the running worker last reported; nullopt without one.
    std::optional<stats::StatsReport> worker_stats() const {
        return worker_ ? worker_->stats() : std::nullopt;
    }
    XenbusState backend_state() const { return state_; }
    const std::optional<worker_channel::WorkerParams>& params() const { return params_; }
    // Why the device was refused or closed, for logs and status.
    const std::string& last_error() const { return last_error_; }
    // Taken over, then closed: its worker could not be taken over, or the
    // configuration no longer allows it.
    bool closed_on_takeover() const { return closed_on_takeover_; }

  private:
    // Reads and checks what the toolstack asks (read_backend_keys), then
    // opens the handshake and publishes InitWait; false when it refused.
    bool setup_from_backend_keys();
    // Closes the device for good with `why`, also left in hotplug-error; false.
    bool refuse(const std::string& why);
    // Publishes the backend's features and watches the frontend's state;
    // the error is the reason to refuse the device.
    std::optional<std::string> open_handshake();
    void connect_frontend();
    void close(XenbusState final_state, const std::string& why);
    void stop_worker();
    bool launch_held_back();
    bool publish_state(XenbusState state);
    // A line the guest can make recur (its frontend's states and keys, the
    // exits of the workers it drives), written through the device's limiter.
    void log_guest_caused(log::Level level, std::string_view message,
                          std::initializer_list<log::Field> fields = {});
    std::string backend_key(std::string_view key) const;
    std::string frontend_key(std::string_view key) const;

    worker_channel::DeviceId id_;
    std::string backend_path_;
    std::string frontend_path_;
    xenstore::Xenstore& xs_;
    const SupervisorConfig& config_;
    WorkerLauncher& launcher_;
    XenbusState state_ = XenbusState::kUnknown;
    bool watching_frontend_ = false;
    std::optional<worker_channel::WorkerParams> params_;
    std::unique_ptr<Worker> worker_;
    bool worker_lost_ = false;  // it closed its control socket
    std::optional<WorkerClock::time_point> worker_ready_at_;
    // What to publish once the stopping worker is gone.
    std::optional<XenbusState> state_after_worker_;
    RestartBackoff backoff_;
    std::optional<WorkerClock::time_point> launch_at_;  // a launch held back
    std::string last_error_;
    bool closed_on_takeover_ = false;
    // One bucket for the device's life: only the toolstack adds and removes
    // devices, so the guest cannot get a fresh one by cycling its frontend.
    log::RateLimiter log_limiter_;
    // The workers' own lines: a bucket of their own, so that a worker cannot
    // crowd out what the supervisor says about it.
    log::RateLimiter worker_output_limiter_;
};

}  // namespace xen9p::supervisor
