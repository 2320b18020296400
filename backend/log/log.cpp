#include "backend/log/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <span>
#include <utility>

namespace xen9p::log {
namespace {

std::atomic<Level> current_level{Level::kInfo};

// Values with spaces, quotes or control bytes are quoted and escaped so that
// one event stays one parseable line whatever a guest put in a name.
void append_value(std::string& out, std::string_view value) {
    const bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
        return c > ' ' && c != '"' && c != '\\' && c != '=' && c != 0x7f;
    });
    if (plain) {
        out.append(value);
        return;
    }
    out.push_back('"');
    for (const char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (u < 0x20 || u == 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out.append("\\x");
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xf]);
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
}

}  // namespace

void set_level(Level level) {
    current_level.store(level);
}
Level level() {
    return current_level.load();
}

std::string_view level_name(Level level) {
    switch (level) {
        case Level::kError:
            return "error";
        case Level::kWarning:
            return "warning";
        case Level::kInfo:
            return "info";
        case Level::kDebug:
            return "debug";
    }
    return "info";
}

bool parse_level(std::string_view text, Level& out) {
    for (Level l : {Level::kError, Level::kWarning, Level::kInfo, Level::kDebug}) {
        if (text == level_name(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

namespace {

void write_line(Level lvl, std::string_view component, std::string_view device,
                std::string_view message, std::span<const Field> fields) {
    if (lvl > level()) return;
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);

    std::string line(stamp);
    line.append(" level=").append(level_name(lvl));
    line.append(" component=");
    append_value(line, component);
    if (!device.empty()) {
        line.append(" device=");
        append_value(line, device);
    }
    line.append(" msg=");
    append_value(line, message);
    for (const auto& f : fields) {
        line.push_back(' ');
        line.append(f.key).push_back('=');
        append_value(line, f.value);
    }
    line.push_back('\n');
    // One write per line keeps lines whole when several processes share stderr.
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void write(Level lvl, std::string_view component, std::string_view device, std::string_view message,
           std::initializer_list<Field> fields) {
    write_line(lvl, component, device, message, std::span(fields.begin(), fields.size()));
}

void error(std::string_view component, std::string_view device, const ErrorLine& line) {
    write_line(Level::kError, component, device, line.message, line.fields);
}

bool RateLimiter::allow(Clock::time_point now) {
    if (now > last_) {
        const double elapsed = std::chrono::duration<double>(now - last_).count();
        last_ = now;
        tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
    }
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return true;
    }
    ++suppressed_;
    ++suppressed_total_;
    return false;
}

unsigned RateLimiter::take_suppressed() {
    return std::exchange(suppressed_, 0u);
}

void limited(RateLimiter& limiter, Level lvl, std::string_view component, std::string_view device,
             std::string_view message, std::initializer_list<Field> fields) {
    if (lvl > level() || !limiter.allow()) return;
    if (const unsigned dropped = limiter.take_suppressed(); dropped != 0) {
        write(Level::kWarning, component, device, "log lines dropped by the rate limit",
              {{"dropped", std::to_string(dropped)}});
    }
    write(lvl, component, device, message, fields);
}

}  // namespace xen9p::log
