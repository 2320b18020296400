#include "backend/server/kill_point.hpp"

#include <signal.h>

#include <array>
#include <cstdlib>
#include <utility>

#include "base/parse_number.hpp"

namespace xen9p::server {
namespace {

constexpr std::array<std::pair<std::string_view, KillPoint>, 6> kNames{{
    {"taken", KillPoint::kTaken},
    {"applied", KillPoint::kApplied},
    {"recorded", KillPoint::kRecorded},
    {"written", KillPoint::kWritten},
    {"published", KillPoint::kPublished},
    {"released", KillPoint::kReleased},
}};

}  // namespace

namespace detail {

std::optional<KillAt> armed_kill;

void count_kill_point() {
    // raise() is tgkill on ourselves, which the sandbox allows.
    if (--armed_kill->count == 0) ::raise(SIGKILL);
}

}  // namespace detail

std::optional<KillAt> parse_kill_at(std::string_view spec) {
    const auto colon = spec.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto name = spec.substr(0, colon);
    auto count = parse_number<std::uint64_t>(spec.substr(colon + 1));
    if (!count || *count == 0) return std::nullopt;
    for (const auto& [known, point] : kNames)
        if (known == name) return KillAt{point, *count};
    return std::nullopt;
}

bool arm_kill_point_from_environment() {
    const char* spec = std::getenv("XEN9PD_KILL_AT");
    if (spec == nullptr) return true;
    detail::armed_kill = parse_kill_at(spec);
    return detail::armed_kill.has_value();
}

}  // namespace xen9p::server
