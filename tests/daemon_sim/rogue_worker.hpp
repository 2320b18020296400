// The misbehaviours of tests/daemon_sim/rogue_worker_daemon.cpp's workers,
// chosen by the device's tag.
#pragma once

#include <optional>
#include <string_view>

namespace xen9p::test {

enum class RogueWorker {
    kClosesControl,   // closes its control socket and lives on
    kIgnoresSigterm,  // handles SIGTERM by noting it in kGotSigterm, and goes on
};

inline constexpr std::string_view kClosesControlTag = "closes-control";
inline constexpr std::string_view kIgnoresSigtermTag = "ignores-sigterm";
// Created in the export by the test: the rogue worker misbehaves from then
// on, and removes it once it has.
inline constexpr std::string_view kMisbehaveNow = "misbehave-now";
// Created in the export by a worker that ignores SIGTERM when one arrives.
inline constexpr std::string_view kGotSigterm = "got-sigterm";
// Every worker, rogue or not, appends a line to <export>.launches (beside the
// export, out of the guest's sight) as it starts: a count of launches that
// does not depend on the supervisor's rate-limited log.
inline constexpr std::string_view kLaunchesSuffix = ".launches";

inline std::optional<RogueWorker> rogue_worker_of_tag(std::string_view tag) {
    if (tag == kClosesControlTag) return RogueWorker::kClosesControl;
    if (tag == kIgnoresSigtermTag) return RogueWorker::kIgnoresSigterm;
    return std::nullopt;
}

}  // namespace xen9p::test
