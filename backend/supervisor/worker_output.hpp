// What a worker writes to its stdout and stderr: a pipe whose read end the
// supervisor polls, so that a worker holds no descriptor of the supervisor's
// log (which it could read, truncate or flood) and its lines reach the log
// attributed to its device and through the device's rate limiter.
// Reading is bounded per round and per second: a worker that writes faster
// is not read for a while, its pipe fills and its own writes block, which
// stalls that worker alone.
#pragma once

#include <optional>
#include <string>

#include "backend/log/log.hpp"
#include "backend/supervisor/worker_launcher.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::supervisor {

class WorkerOutput {
  public:
    // The longest line forwarded whole; longer ones are cut.
    static constexpr std::size_t kMaxLine = 4096;
    static constexpr std::size_t kBytesPerRound = 16 * 1024;
    static constexpr std::size_t kBytesPerSecond = 64 * 1024;

    // `pipe` is the non-blocking read end; `device` names the worker's device.
    WorkerOutput(UniqueFd pipe, std::string device);

    // Readable when the worker wrote something; -1 once closed or while muted.
    int fd() const { return muted_until_ ? -1 : pipe_.get(); }
    // The pipe itself, muted or not; -1 once closed.
    int descriptor() const { return pipe_.get(); }
    // When a muted pipe is to be read again.
    std::optional<WorkerClock::time_point> resume_at() const { return muted_until_; }
    void expire(WorkerClock::time_point now);
    // Reads a bounded amount and logs each complete line through `limiter`.
    void forward(log::RateLimiter& limiter);
    // The worker is gone: logs what is left (bounded) and closes the pipe.
    void drain(log::RateLimiter& limiter);

  private:
    // Reads at most `budget` bytes; false at EOF or on an error.
    bool read_some(log::RateLimiter& limiter, std::size_t budget);
    void emit(log::RateLimiter& limiter, std::string_view line, bool cut);

    UniqueFd pipe_;
    std::string device_;
    std::string partial_;   // the start of a line whose end has not come yet
    bool cutting_ = false;  // dropping the rest of an overlong line
    WorkerClock::time_point window_start_{};
    std::size_t window_bytes_ = 0;
    std::optional<WorkerClock::time_point> muted_until_;
    bool told_muted_ = false;
};

}  // namespace xen9p::supervisor
