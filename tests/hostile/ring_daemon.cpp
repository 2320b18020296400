#include "tests/hostile/ring_daemon.hpp"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "backend/server/session.hpp"

namespace xen9p::hostile {

namespace {

constexpr DomId kAttacker = 1;
constexpr DomId kWitness = 2;

void write_owned(const std::string& path, std::string_view content, uid_t uid) {
    std::ofstream(path, std::ios::binary) << content;
    BOOST_REQUIRE(::chown(path.c_str(), uid, simxen::kUidRangeBase) == 0);
}

// As for `serve` (daemon_process.cpp): in the sanitizer build, freed memory
// held in quarantine would count as the workers' (they inherit this).
void bound_asan_quarantine() {
    const char* outer = std::getenv("ASAN_OPTIONS");
    std::string options = outer != nullptr ? outer : "";
    if (options.find("quarantine_size_mb") != std::string::npos) return;
    options = "quarantine_size_mb=8" + (options.empty() ? "" : ":" + options);
    BOOST_REQUIRE(::setenv("ASAN_OPTIONS", options.c_str(), 1) == 0);
}

}  // namespace

RingDaemon::RingDaemon() {
    bound_asan_quarantine();
    const server::SessionConfig defaults;
    limits_ = {.max_fids = defaults.max_fids, .max_in_flight = defaults.max_in_flight};
    auto sim = simxen::SimXen::start({XEN9P_SIM_BINARY, XEN9PD_PATH});
    BOOST_REQUIRE_MESSAGE(sim.has_value(), "cannot start the simulated Xen");
    sim_ = std::move(*sim);
    BOOST_REQUIRE(sim_->start_daemon({"--log-level", "info"}).has_value());
    export_ = add_guest(kAttacker, "attacked");
    add_guest(kWitness, "witness");
    outside_ = (sim_->dir() / "exports" / "outside").string();
    std::filesystem::create_directory(outside_);
    std::ofstream(outside_ + "/secret", std::ios::binary) << DaemonProcess::kSecretText;
}

std::string RingDaemon::add_guest(DomId domid, const std::string& name) {
    BOOST_REQUIRE(sim_->toolstack().create_domain(domid, name).has_value());
    auto path = sim_->make_export(name, domid);
    BOOST_REQUIRE(path.has_value());
    // The worker writes as the guest's uid: the witness is its file.
    write_owned((*path / "witness").string(), DaemonProcess::kWitnessText,
                simxen::kUidRangeBase + domid);
    sim::P9Device device;
    device.domid = domid;
    device.tag = name;
    device.path = path->string();
    BOOST_REQUIRE(sim_->toolstack().add_9pfs(device).has_value());
    return path->string();
}

std::unique_ptr<AttackerRing> RingDaemon::attacker() {
    auto fe = sim_->connect(kAttacker);
    BOOST_REQUIRE_MESSAGE(fe.has_value(), "guest 1 cannot connect its device");
    auto watcher = xenstore::Xenstore::open_socket(
        frontend::sim_xenstore_socket(sim_->dir().string(), kAttacker));
    BOOST_REQUIRE(watcher.has_value());
    auto ring = AttackerRing::start(std::move(*fe), std::move(*watcher));
    BOOST_REQUIRE(ring.has_value());
    BOOST_REQUIRE(simxen::wait_until([&] {
        auto status = sim_->daemon_status();
        auto pid = status ? simxen::worker_pid(*status, kAttacker) : std::nullopt;
        if (pid) attacked_worker_ = *pid;
        return pid.has_value();
    }));
    return std::move(*ring);
}

std::unique_ptr<client::ClientTransport> RingDaemon::connect() const {
    auto fe = sim_->connect(kWitness);
    BOOST_REQUIRE_MESSAGE(fe.has_value(), "guest 2 cannot connect its device");
    return std::move(*fe);
}

bool RingDaemon::running() const {
    if (sim_->daemon() == nullptr || sim_->daemon()->poll_exit()) return false;
    std::ifstream log(sim_->daemon_log());
    std::string line;
    while (std::getline(log, line)) {
        if (line.find("worker ended") != std::string::npos &&
            line.find("signal") != std::string::npos)
            return false;
    }
    return true;
}

std::size_t RingDaemon::max_in_flight_seen() const {
    constexpr std::string_view kKey = " max_in_flight=";
    const std::string device = " domid=" + std::to_string(kAttacker) + " ";
    std::size_t seen = 0;
    simxen::wait_until([&] {
        auto status = sim_->daemon_status();
        if (!status) return false;
        std::istringstream lines(*status);
        std::string line;
        while (std::getline(lines, line)) {
            const auto at = line.find(kKey);
            if (line.find(device) == std::string::npos || at == std::string::npos) continue;
            seen = std::strtoull(line.c_str() + at + kKey.size(), nullptr, 10);
        }
        return seen > 0;
    });
    return seen;
}

}  // namespace xen9p::hostile
