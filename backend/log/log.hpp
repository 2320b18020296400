// The one logger: one line per event on stderr, as
//   <time> level=<l> component=<c> [device=<d>] msg="<m>" key=value...
// Guest-triggered messages go through a RateLimiter so that a guest cannot
// make the daemon log without bound.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace xen9p::log {

enum class Level { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void set_level(Level level);
Level level();
// "error", "warning", "info", "debug"; false for anything else.
bool parse_level(std::string_view text, Level& out);
// The name parse_level takes: "error", "warning", "info", "debug".
std::string_view level_name(Level level);

struct Field {
    std::string_view key;
    std::string value;
};

// An error line carried as a value (e.g. in a std::expected) up to the
// caller that logs it and gives up.
struct ErrorLine {
    std::string_view message;
    std::vector<Field> fields;
};

void write(Level level, std::string_view component, std::string_view device,
           std::string_view message, std::initializer_list<Field> fields = {});

inline void error(std::string_view component, std::string_view device, std::string_view message,
                  std::initializer_list<Field> fields = {}) {
    write(Level::kError, component, device, message, fields);
}
// error() for a line carried as a value.
void error(std::string_view component, std::string_view device, const ErrorLine& line);
inline void warning(std::string_view component, std::string_view device, std::string_view message,
                    std::initializer_list<Field> fields = {}) {
    write(Level::kWarning, component, device, message, fields);
}
inline void info(std::string_view component, std::string_view device, std::string_view message,
                 std::initializer_list<Field> fields = {}) {
    write(Level::kInfo, component, device, message, fields);
}
inline void debug(std::string_view component, std::string_view device, std::string_view message,
                  std::initializer_list<Field> fields = {}) {
    write(Level::kDebug, component, device, message, fields);
}

// Token bucket: `burst` lines at once, then `per_second` lines per second.
// Lines refused are counted; limited() reports them with the next allowed line.
class RateLimiter {
  public:
    using Clock = std::chrono::steady_clock;

    explicit RateLimiter(double per_second = 5.0, double burst = 20.0,
                         Clock::time_point start = Clock::now())
        : per_second_(per_second), burst_(burst), tokens_(burst), last_(start) {}

    // True when a line may be written at `now` (a time before the last one
    // counts as the last one).
    bool allow(Clock::time_point now = Clock::now());
    // Lines refused since the last allowed one (reset by reading it).
    unsigned take_suppressed();
    // Lines refused over the limiter's life.
    std::uint64_t suppressed_total() const { return suppressed_total_; }

  private:
    double per_second_;
    double burst_;
    double tokens_;
    Clock::time_point last_;
    unsigned suppressed_ = 0;
    std::uint64_t suppressed_total_ = 0;
};

// write() for a line a guest or a socket peer can cause: refused lines are
// counted, not written, and the first line the limiter lets through again is
// preceded by one saying how many were dropped.
void limited(RateLimiter& limiter, Level level, std::string_view component, std::string_view device,
             std::string_view message, std::initializer_list<Field> fields = {});

}  // namespace xen9p::log
