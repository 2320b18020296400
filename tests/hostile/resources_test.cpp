// What xen9pd serve spends for hostile clients, bounded: memory under
// connections that keep xattr values and fill every slot with max-size
// requests, connections past --max-connections, and accepting when the
// process is out of descriptors (no spinning, no unbounded log).
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "client/operations.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/hostile/daemon_process.hpp"
#include "tests/hostile/memory_pressure.hpp"

namespace xen9p::hostile {
namespace {

// What the daemon's code, libraries and allocator add to the memory budget:
// its resident memory at start, plus this for what is not budgeted (stream
// receive buffers, transient allocations, allocator slack).
constexpr std::size_t kUnbudgetedKib = 24 * 1024;

// A fresh connection negotiates, attaches and reads the witness file.
bool witness_served(const DaemonProcess& daemon) {
    auto transport = client::StreamTransport::connect_unix(daemon.socket_path());
    if (!transport) return false;
    client::Client c(std::make_unique<client::StreamTransport>(std::move(*transport)));
    if (!c.negotiate(8192)) return false;
    if (!client::attach(c, 0, "root", "", 0)) return false;
    const std::string_view name[] = {"witness"};
    if (!client::walk(c, 0, 1, name) || !client::lopen(c, 1, p9proto::dotl::kRdonly)) return false;
    auto data = client::read_all(c, 1);
    return data && std::string(reinterpret_cast<const char*>(data->data()), data->size()) ==
                       DaemonProcess::kWitnessText;
}

std::size_t lines_with(const std::vector<std::string>& lines, std::string_view text) {
    return static_cast<std::size_t>(std::ranges::count_if(
        lines, [text](const std::string& l) { return l.find(text) != std::string::npos; }));
}

// The sum of the dropped=N fields of the limiter's summary lines.
std::size_t dropped_lines(const std::vector<std::string>& lines) {
    std::size_t dropped = 0;
    constexpr std::string_view kKey = " dropped=";
    for (const auto& l : lines) {
        if (l.find("dropped by the rate limit") == std::string::npos) continue;
        if (auto at = l.find(kKey); at != std::string::npos)
            dropped += std::stoull(l.substr(at + kKey.size()));
    }
    return dropped;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resources)

BOOST_AUTO_TEST_CASE(kept_xattr_values_and_full_slots_stay_within_the_memory_budget) {
    constexpr std::size_t kBudgetMib = 32;
    const DaemonLimits limits{
        .max_fids = 4096, .max_in_flight = 256, .max_memory_mib = kBudgetMib, .max_connections = 4};
    DaemonProcess daemon(limits);
    const Memory start = daemon.memory();
    AttackContext ctx;
    ctx.msize = 1024 * 1024 + 24;
    ctx.limits = limits;
    // Every connection but one presses; the last one is the witness's.
    std::vector<std::unique_ptr<MemoryPressure>> attackers;
    for (std::size_t i = 0; i + 1 < limits.max_connections; ++i) {
        attackers.push_back(std::make_unique<MemoryPressure>(daemon.connect(), ctx, 1024));
        BOOST_TEST_MESSAGE("attacker " << i << ": " << attackers.back()->values_kept()
                                       << " values kept, " << attackers.back()->requests_sent()
                                       << " requests sent");
        // Each connection's share of the values half: refused with a precise error.
        BOOST_CHECK_EQUAL(attackers.back()->refusal(), ENOMEM);
        BOOST_CHECK_LT(attackers.back()->values_kept(), 1024u);
    }
    const Memory held = daemon.memory();
    BOOST_TEST_MESSAGE("xen9pd memory under pressure: start VmRSS "
                       << start.rss_kib << " KiB, VmRSS " << held.rss_kib << " KiB, VmHWM "
                       << held.hwm_kib << " KiB, budget " << kBudgetMib * 1024 << " KiB");
    BOOST_CHECK_LT(held.hwm_kib, start.rss_kib + kBudgetMib * 1024 + kUnbudgetedKib);
    BOOST_CHECK(witness_served(daemon));
    BOOST_CHECK(daemon.running());
}

BOOST_AUTO_TEST_CASE(the_kernel_caps_the_data_size_at_the_budget_plus_a_constant) {
    const DaemonLimits limits{.max_memory_mib = 48};
    DaemonProcess daemon(limits);
    std::ifstream in("/proc/" + std::to_string(daemon.pid()) + "/limits");
    std::string line;
    std::string data_size;
    while (std::getline(in, line)) {
        if (line.starts_with("Max data size")) data_size = line;
    }
    BOOST_TEST_MESSAGE(data_size);
    std::istringstream fields(data_size.substr(std::string_view("Max data size").size()));
    std::string soft;
    std::string hard;
    fields >> soft >> hard;
#ifdef XEN9P_SANITIZE
    BOOST_CHECK_EQUAL(soft, "unlimited");
#else
    // --max-memory plus 64 MiB (server::kProcessMemoryOverhead), soft and hard.
    const std::string expected = std::to_string((48ull + 64) << 20);
    BOOST_CHECK_EQUAL(soft, expected);
    BOOST_CHECK_EQUAL(hard, expected);
#endif
}

BOOST_AUTO_TEST_CASE(connections_past_the_limit_are_closed_with_rate_limited_log_lines) {
    const DaemonLimits limits{.max_connections = 2};
    DaemonProcess daemon(limits);
    // DaemonProcess's readiness probe connected once; let that session end.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::vector<std::unique_ptr<client::Client>> held;
    for (int i = 0; i < 2; ++i) {
        held.push_back(std::make_unique<client::Client>(daemon.connect()));
        BOOST_REQUIRE(held.back()->negotiate(8192).has_value());
    }
    constexpr std::size_t kRefused = 100;
    std::size_t closed = 0;
    for (std::size_t i = 0; i < kRefused; ++i) {
        client::Client c(daemon.connect());
        if (!c.negotiate(8192)) ++closed;
    }
    BOOST_CHECK_EQUAL(closed, kRefused);
    // The limiter opens again after a while: the next line says what it dropped.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    {
        client::Client c(daemon.connect());
        BOOST_CHECK(!c.negotiate(8192).has_value());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto lines = daemon.log_lines();
    const std::size_t refused_lines = lines_with(lines, "too many connections");
    BOOST_TEST_MESSAGE("refused connections: " << kRefused + 1 << ", logged " << refused_lines
                                               << ", dropped " << dropped_lines(lines));
    BOOST_CHECK_LE(refused_lines, 30u);
    BOOST_CHECK_EQUAL(refused_lines + dropped_lines(lines), kRefused + 1);
    // A connection that ends makes room for a new one.
    held.pop_back();
    bool served = false;
    for (int i = 0; i < 100 && !served; ++i) {
        served = witness_served(daemon);
        if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    BOOST_CHECK(served);
}

BOOST_AUTO_TEST_CASE(accept_out_of_descriptors_pauses_without_spinning_or_flooding_the_log) {
    // Room for the daemon's own descriptors (8 here) and a few connections
    // and files: the 40 connections below run it out.
    const DaemonLimits limits{.max_open_files = 16};
    DaemonProcess daemon(limits);
    const double cpu_before = daemon.cpu_seconds();
    std::vector<std::unique_ptr<client::StreamTransport>> connections;
    for (int i = 0; i < 40; ++i)
        connections.push_back(daemon.connect());
    constexpr auto kWatch = std::chrono::seconds(3);
    std::this_thread::sleep_for(kWatch);
    const double cpu = daemon.cpu_seconds() - cpu_before;
    const auto lines = daemon.log_lines();
    BOOST_TEST_MESSAGE("out of descriptors for 3 s: " << lines.size() << " log lines, " << cpu
                                                      << " s of CPU");
    BOOST_CHECK_GT(lines_with(lines, "accept paused"), 0u);
    // The limiter's burst plus its rate over the watch, with room for the start lines.
    BOOST_CHECK_LE(lines.size(), 60u);
    BOOST_CHECK_LT(cpu, 0.5);
    // Descriptors come back: the daemon accepts again and serves.
    connections.clear();
    bool served = false;
    for (int i = 0; i < 200 && !served; ++i) {
        served = witness_served(daemon);
        if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    BOOST_CHECK(served);
    BOOST_CHECK(daemon.running());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::hostile
