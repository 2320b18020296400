// A test aid for the points of a request's life where a server may die: the
// first server of a device, armed with XEN9PD_KILL_AT=<point>:<n> in the
// daemon's environment, kills itself (SIGKILL) the n-th time it reaches that
// point, so that tests can check that its replacement carries each request
// over exactly once. Unarmed (the default) a point costs one load and branch.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace xen9p::server {

enum class KillPoint : std::uint8_t {
    kTaken,      // a request is out of the medium, nothing done yet
    kApplied,    // its operation is done and its reply built
    kRecorded,   // the session store holds what the operation changed
    kWritten,    // its reply is in the ring, not yet published
    kPublished,  // its reply is published, its request not yet released
    kReleased,   // its request's space went back to the guest
};

// `spec` is "<point>:<n>" with n >= 1; nullopt when it is not.
struct KillAt {
    KillPoint point{};
    std::uint64_t count = 0;
};
std::optional<KillAt> parse_kill_at(std::string_view spec);

// Arms the points from the environment; false (and nothing armed) when
// XEN9PD_KILL_AT is set but malformed.
bool arm_kill_point_from_environment();

namespace detail {
extern std::optional<KillAt> armed_kill;
void count_kill_point();
}  // namespace detail

inline void reached(KillPoint point) {
    if (detail::armed_kill && detail::armed_kill->point == point) [[unlikely]]
        detail::count_kill_point();
}

}  // namespace xen9p::server
