// The misbehaviours of tests/daemon_sim/rogue_worker_daemon.cpp's workers,
// chosen by the device's tag.
#pragma once

#include <optional>
#include <string_view>

namespace xen9p::test {

enum class RogueWorker {
    kClosesControl,   // closes its control socket and lives on
    kIgnoresSigterm,  // handles SIGTERM by noting it in kGotSigterm, and goes on
    kFloodsControl,   // sends 1-byte messages on its control socket without pause
    // writes kForgedLine, then kFloodLines lines to its stderr without pause
    kFloodsOutput,
};

inline constexpr std::string_view kClosesControlTag = "closes-control";
inline constexpr std::string_view kIgnoresSigtermTag = "ignores-sigterm";
inline constexpr std::string_view kFloodsControlTag = "floods-control";
inline constexpr std::string_view kFloodsOutputTag = "floods-output";
// A line in the log's format that claims to be the supervisor's, about
// another guest's device (9pfs/2/0).
inline constexpr std::string_view kForgedLine =
    "2026-01-01T00:00:00Z level=error component=supervisor device=9pfs/2/0 msg=\"forged by "
    "worker\"\n";
inline constexpr std::string_view kFloodLine = "flood line from worker\n";
inline constexpr int kFloodLines = 200000;
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
    if (tag == kFloodsControlTag) return RogueWorker::kFloodsControl;
    if (tag == kFloodsOutputTag) return RogueWorker::kFloodsOutput;
    return std::nullopt;
}

}  // namespace xen9p::test
