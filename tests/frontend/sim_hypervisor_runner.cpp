#include "tests/frontend/sim_hypervisor_runner.hpp"

#include "sim/sim_hypervisor.hpp"

namespace xen9p::frontend::test {

namespace {

class Runner final : public HypervisorRunner {
  public:
    explicit Runner(std::unique_ptr<sim::SimHypervisor> hv) : hv_(std::move(hv)) {}
    ~Runner() override { hv_->stop(); }

  private:
    std::unique_ptr<sim::SimHypervisor> hv_;
};

}  // namespace

std::unique_ptr<HypervisorRunner> start_hypervisor(const std::filesystem::path& dir,
                                                   std::uint16_t guest) {
    auto hv = sim::SimHypervisor::create(dir);
    if (!hv) return nullptr;
    (*hv)->start_thread();
    if (!(*hv)->create_domain(guest)) return nullptr;
    return std::make_unique<Runner>(std::move(*hv));
}

}  // namespace xen9p::frontend::test
