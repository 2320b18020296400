// The supervisor and a worker talk over one SOCK_SEQPACKET socket, one
// message a datagram: the supervisor sends the worker's parameters
// (worker_params.hpp) once, before the worker runs; the worker answers
// "ready" once it serves the device, then a statistics report once a second.
// Closing either end means stop. The worker serves a guest: what it says is
// untrusted, and the supervisor keeps only what parses strictly.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "backend/stats/stats_report.hpp"
#include "backend/worker_channel/worker_params.hpp"
#include "base/errno.hpp"

namespace xen9p::worker_channel {

// The worker's control socket; 0, 1 and 2 are its stdin (an empty pipe) and
// its stdout and stderr (a pipe the supervisor logs from), and it has no
// other descriptor at exec.
inline constexpr int kControlFd = 3;

// Parameters are a few hundred bytes; one datagram carries them whole.
inline constexpr std::size_t kMaxParamsSize = 64 * 1024;
// The longest worker message the supervisor reads; a statistics message with
// every request type is about 600 bytes.
inline constexpr std::size_t kMaxWorkerMessageSize = 4096;
// A worker's exit status when its device's servers died more often than
// worker::CrashLoopGuard allows (5 times within 60 s).
inline constexpr int kExitCrashLoop = 3;

// The message a worker sends once it serves the device.
inline constexpr std::string_view kReadyMessage = "ready";
// What starts the worker's statistics messages, followed by format_stats().
inline constexpr std::string_view kStatsPrefix = "stats ";

// Supervisor side: queues `params` on `control_fd` without blocking (the
// socket is fresh). E2BIG if they exceed kMaxParamsSize, else the send's errno.
Status send_params(int control_fd, const WorkerParams& params);
// Worker side: reads the parameters the supervisor sent on `control_fd`,
// blocking until they come. ECONNRESET if the supervisor closed its end.
Result<WorkerParams> receive_params(int control_fd);

// Worker side: tells the supervisor the device is being served.
Status report_ready(int control_fd);
// Worker side: sends `report` without blocking; false when a full socket or a
// gone supervisor lost it.
bool report_stats(int control_fd, const stats::StatsReport& report);

// Supervisor side: whether a worker's `message` is kReadyMessage.
bool is_ready_message(std::string_view message);
// Supervisor side: the report in a worker's statistics `message`; nullopt
// for any other message or one that does not parse strictly.
std::optional<stats::StatsReport> parse_stats_message(std::string_view message);

}  // namespace xen9p::worker_channel
