#include "backend/worker/confinement.hpp"

#include <utility>

namespace xen9p::worker {

std::string_view confinement_step_name(ConfinementError::Step step) {
    switch (step) {
        case ConfinementError::Step::kEventLoop:
            return "io_uring";
        case ConfinementError::Step::kSandbox:
            return "sandbox";
        case ConfinementError::Step::kExport:
            return "export";
    }
    return "unknown";
}

std::string_view confinement_name(sandbox::Confinement confinement) {
    return confinement == sandbox::Confinement::kPivotRoot ? "pivot_root" : "chroot";
}

std::expected<ConfinedExport, ConfinementError> confine_to_export(
    const sandbox::SandboxPolicy& policy, const fs::ExportConfig& config) {
    using Step = ConfinementError::Step;
    auto confined = sandbox::enter_sandbox(policy);
    if (!confined) return std::unexpected(ConfinementError{Step::kSandbox, confined.error()});
    // "/" is now the export; the usage scan (Export::open) runs in here too.
    auto ex = fs::Export::open("/", config, std::move(confined->proc_fd));
    if (!ex) return std::unexpected(ConfinementError{Step::kExport, ex.error()});
    return ConfinedExport{std::move(*ex), confined->confinement};
}

std::expected<ConfinedWorker, ConfinementError> confine_worker(const sandbox::SandboxPolicy& policy,
                                                               const fs::ExportConfig& config) {
    using Step = ConfinementError::Step;
    // io_uring_setup is not in the sandbox's allow-list.
    auto loop = io::EventLoop::create();
    if (!loop) return std::unexpected(ConfinementError{Step::kEventLoop, loop.error()});
    auto confined = confine_to_export(policy, config);
    if (!confined) return std::unexpected(confined.error());
    return ConfinedWorker{std::move(*loop), std::move(confined->ex), confined->confinement};
}

}  // namespace xen9p::worker
