#include "backend/supervisor/worker_output.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>

namespace xen9p::supervisor {
namespace {

constexpr std::string_view kComponent = "worker";
// A pipe holds 64 KiB unless its writer enlarges it: what is drained at exit.
constexpr std::size_t kDrainBytes = 64 * 1024;

// The level of a line in log::write's format, "<time> level=<l>
// component=<c> device=<d> msg=...", whose device is `device` (or a
// connection of it, "ring:<device>") and whose component is not the
// supervisor's; nullopt for anything else.
std::optional<log::Level> level_of_worker_line(std::string_view line, std::string_view device) {
    std::string_view fields[4];
    for (auto& field : fields) {
        const auto space = line.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        line.remove_prefix(space + 1);
        field = line.substr(0, line.find(' '));
    }
    log::Level level;
    if (!fields[0].starts_with("level=") || !log::parse_level(fields[0].substr(6), level))
        return std::nullopt;
    if (!fields[1].starts_with("component=") || fields[1] == "component=supervisor")
        return std::nullopt;
    if (!fields[2].starts_with("device=")) return std::nullopt;
    const auto named = fields[2].substr(7);
    const auto colon = named.find(':');
    if (named != device && (colon == std::string_view::npos || named.substr(colon + 1) != device))
        return std::nullopt;
    if (!fields[3].starts_with("msg=")) return std::nullopt;
    return level;
}

}  // namespace

WorkerOutput::WorkerOutput(UniqueFd pipe, std::string device)
    : pipe_(std::move(pipe)), device_(std::move(device)) {}

void WorkerOutput::expire(WorkerClock::time_point now) {
    if (muted_until_ && *muted_until_ <= now) muted_until_.reset();
}

void WorkerOutput::forward(log::RateLimiter& limiter) {
    if (!pipe_ || muted_until_) return;
    const auto now = WorkerClock::now();
    if (now - window_start_ >= std::chrono::seconds(1)) {
        window_start_ = now;
        window_bytes_ = 0;
    }
    const auto budget = std::min(kBytesPerRound, kBytesPerSecond - window_bytes_);
    if (!read_some(limiter, budget)) {
        // EOF (the worker closed its stdout and stderr, or is gone) or an error.
        pipe_.reset();
        return;
    }
    if (window_bytes_ >= kBytesPerSecond) {
        muted_until_ = window_start_ + std::chrono::seconds(1);
        if (!std::exchange(told_muted_, true))
            log::limited(limiter, log::Level::kWarning, kComponent, device_,
                         "worker writes faster than it may: its output is read at a bounded rate",
                         {{"bytes_per_second", std::to_string(kBytesPerSecond)}});
    }
}

void WorkerOutput::drain(log::RateLimiter& limiter) {
    if (pipe_) (void)read_some(limiter, kDrainBytes);
    if (!partial_.empty()) emit(limiter, partial_, cutting_);
    partial_.clear();
    pipe_.reset();
    muted_until_.reset();
}

bool WorkerOutput::read_some(log::RateLimiter& limiter, std::size_t budget) {
    std::array<char, kBytesPerRound> buf;
    while (budget > 0) {
        const ssize_t n = ::read(pipe_.get(), buf.data(), std::min(budget, buf.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN;
        if (n == 0) return false;
        const auto got = static_cast<std::size_t>(n);
        budget -= got;
        window_bytes_ += got;
        std::string_view data(buf.data(), got);
        while (!data.empty()) {
            const auto end = data.find('\n');
            const auto piece = data.substr(0, end);
            if (!cutting_) {
                const auto room = kMaxLine - partial_.size();
                partial_.append(piece.substr(0, room));
                if (piece.size() > room) {
                    // Overlong: its first kMaxLine bytes are logged, the rest dropped.
                    emit(limiter, partial_, true);
                    partial_.clear();
                    cutting_ = true;
                }
            }
            if (end == std::string_view::npos) break;
            if (!cutting_) emit(limiter, partial_, false);
            partial_.clear();
            cutting_ = false;
            data.remove_prefix(end + 1);
        }
    }
    return true;
}

void WorkerOutput::emit(log::RateLimiter& limiter, std::string_view line, bool cut) {
    // An honest worker's line is written as it is: log::write's format for
    // this device, no control bytes. Anything else (another device, the
    // supervisor's component, a crash message, a cut line) is quoted into a
    // line of ours.
    const auto level = cut ? std::nullopt : level_of_worker_line(line, device_);
    const bool verbatim = level && std::none_of(line.begin(), line.end(), [](char c) {
                              const auto u = static_cast<unsigned char>(c);
                              return u < 0x20 || u == 0x7f;
                          });
    if (!verbatim) {
        log::limited(limiter, log::Level::kWarning, kComponent, device_, "worker output",
                     {{"line", std::string(line)}, {"cut", cut ? "1" : "0"}});
        return;
    }
    if (*level > log::level() || !limiter.allow()) return;
    if (const unsigned dropped = limiter.take_suppressed(); dropped != 0)
        log::write(log::Level::kWarning, kComponent, device_, "log lines dropped by the rate limit",
                   {{"dropped", std::to_string(dropped)}});
    std::string out(line);
    out.push_back('\n');
    // One write per line keeps lines whole beside the supervisor's own.
    (void)!::write(STDERR_FILENO, out.data(), out.size());
}

}  // namespace xen9p::supervisor
