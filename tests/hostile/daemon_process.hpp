// `xen9pd serve` as a child process on a temporary export, for the hostile
// suite: connections over its unix socket, its memory and fd use read from
// /proc, its log lines for what it reports per session.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/stream_transport.hpp"

namespace xen9p::hostile {

struct DaemonLimits {
    std::size_t max_fids = 256;
    std::size_t max_in_flight = 16;
    std::size_t max_memory_mib = 0;   // --max-memory; 0: the daemon's default
    std::size_t max_connections = 0;  // --max-connections; 0: the daemon's default
    std::size_t max_open_files = 0;   // the daemon's RLIMIT_NOFILE; 0: inherited
};

struct Memory {
    std::size_t rss_kib = 0;  // VmRSS
    std::size_t hwm_kib = 0;  // VmHWM: the peak so far
};

// What /proc says of process `pid`.
Memory memory_of(pid_t pid);
std::size_t open_fds_of(pid_t pid);

class DaemonProcess {
  public:
    // Creates <top>/export (with `witness` holding kWitnessText) and
    // <top>/outside (with `secret` holding kSecretText) under /dev/shm, starts
    // the daemon and waits until its socket accepts.
    explicit DaemonProcess(DaemonLimits limits);
    // Stops the daemon (SIGTERM, then SIGKILL) and removes the directories.
    ~DaemonProcess();
    DaemonProcess(const DaemonProcess&) = delete;
    DaemonProcess& operator=(const DaemonProcess&) = delete;

    static constexpr std::string_view kWitnessText = "the witness file\n";
    static constexpr std::string_view kSecretText = "SECRET outside the export\n";

    const std::string& export_dir() const { return export_; }
    const std::string& outside_dir() const { return outside_; }
    const DaemonLimits& limits() const { return limits_; }
    const std::string& socket_path() const { return socket_; }
    pid_t pid() const { return pid_; }

    std::unique_ptr<client::StreamTransport> connect() const;

    Memory memory() const;
    std::size_t open_fds() const;
    bool running() const;
    // The largest max_in_flight its "session ended" log lines report so far.
    std::size_t max_in_flight_seen() const;
    // Its log (stderr) so far, one string per line.
    std::vector<std::string> log_lines() const;
    // User plus system CPU time it has used so far.
    double cpu_seconds() const;

  private:
    std::string top_;
    std::string export_;
    std::string outside_;
    std::string socket_;
    std::string log_;
    DaemonLimits limits_;
    pid_t pid_ = -1;
};

}  // namespace xen9p::hostile
