// The privileged half of xen9pd: watches the backend directories it claims,
// drives each device through the xenbus handshake, and starts one worker per
// connected device. It never parses 9P and never touches guest memory, and
// it never waits for a worker: exits come as pidfds and kill deadlines as a
// timerfd in its poll set, so one guest's worker cannot stall the others.
#pragma once

#include <poll.h>

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend/supervisor/device.hpp"
#include "backend/supervisor/handover.hpp"
#include "backend/supervisor/singleton_key.hpp"
#include "backend/supervisor/supervisor_config.hpp"
#include "backend/supervisor/worker_launcher.hpp"
#include "base/unique_fd.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::supervisor {

struct DeviceStatus {
    worker_channel::DeviceId id;
    std::string tag;
    std::string path;
    std::string security_model;
    XenbusState state = XenbusState::kUnknown;
    pid_t worker_pid = -1;
    uid_t worker_uid = 0;
    std::optional<stats::StatsReport> stats;  // the worker's last report
    std::string last_error;
};

class Supervisor {
  public:
    Supervisor(SupervisorConfig config, xenstore::Xenstore xs,
               std::unique_ptr<WorkerLauncher> launcher);
    ~Supervisor();

    // Takes over what the previous supervisor of this process handed on as
    // it re-executed (handover.hpp), owning its descriptors from here on.
    // Before start(): the first rescan then finds the devices taken over.
    // Returns how many of them it closed (their worker could not be taken
    // over, or the configuration no longer allows them).
    std::size_t adopt(const Handover& handover);
    // What the next supervisor needs to take every device and worker over;
    // the descriptors stay this supervisor's.
    Handover hand_over() const;

    // Claims the xen-9pfsd singleton key (when serving xen_9pfs) and sets the watches.
    Status start();
    // The fds to wait on (POLLIN): xenstore watches, the deadline timer and
    // every worker.
    std::vector<pollfd> poll_fds() const;
    // Handles whatever poll() reported ready among the fds of poll_fds().
    void handle_ready(std::span<const pollfd> fds);
    // poll_fds + poll + handle_ready, for callers with nothing else to wait on.
    Status run_once(int timeout_ms);
    // Stops every worker (waiting a bounded time for them), closes the
    // connected devices, forgets them and releases the singleton key.
    void shutdown();

    std::vector<DeviceStatus> status() const;

  private:
    std::string backend_root(std::string_view kind) const;
    void handle_watch(const xenstore::WatchEvent& event);
    void rescan(const std::string& kind);
    void refresh_device(const worker_channel::DeviceId& id);
    void domains_released();
    void on_worker_fd(int fd);
    void on_timer();
    void arm_timer();
    void forget(std::map<worker_channel::DeviceId, std::unique_ptr<Device>>::iterator device);
    void retire(std::unique_ptr<Worker> worker);
    // Reaps a retiring worker; true once it is gone.
    bool collect(Worker& worker);
    // True once every retiring worker is collected.
    bool wait_for_retiring();

    SupervisorConfig config_;
    xenstore::Xenstore xs_;
    std::unique_ptr<WorkerLauncher> launcher_;
    std::map<worker_channel::DeviceId, std::unique_ptr<Device>> devices_;
    // Workers of forgotten devices, stopping, until their exit is collected.
    std::vector<std::unique_ptr<Worker>> retiring_;
    // The output of workers of removed devices (only the toolstack removes).
    log::RateLimiter retired_log_limiter_;
    UniqueFd timer_;  // armed at the nearest deadline of a device or worker
    // The xen-9pfsd key, while this daemon owns it.
    std::optional<SingletonKey> singleton_;
};

}  // namespace xen9p::supervisor
