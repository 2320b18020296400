#include "backend/worker/confinement.hpp"

#include <utility>

namespace xen9p::daemon {

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

std::expected<fs::Export, ConfinementError> confine_to_export(const sandbox::SandboxPolicy& policy,
                                                              const fs::ExportConfig& config) {
    using Step = ConfinementError::Step;
    auto confined = sandbox::enter_sandbox(policy);
    if (!confined) return std::unexpected(ConfinementError{Step::kSandbox, confined.error()});
    // "/" is now the export; the usage scan (Export::open) runs in here too.
    auto ex = fs::Export::open("/", config, std::move(confined->proc_fd));
    if (!ex) return std::unexpected(ConfinementError{Step::kExport, ex.error()});
    return std::move(*ex);
}

std::expected<ConfinedWorker, ConfinementError> confine_worker(const sandbox::SandboxPolicy& policy,
                                                               const fs::ExportConfig& config) {
    using Step = ConfinementError::Step;
    // io_uring_setup is not in the sandbox's allow-list.
    auto loop = io::EventLoop::create();
    if (!loop) return std::unexpected(ConfinementError{Step::kEventLoop, loop.error()});
    auto ex = confine_to_export(policy, config);
    if (!ex) return std::unexpected(ex.error());
    return ConfinedWorker{std::move(*loop), std::move(*ex)};
}

}  // namespace xen9p::daemon
