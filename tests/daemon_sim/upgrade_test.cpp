// `xen9pd upgrade` on the simulated Xen: the daemon executes its file again
// (a new binary, once installed) as the same process, and the new
// supervisor takes every device and running worker over. The guests see
// nothing: the workers serve on throughout, with their sessions, open files
// and locks, and the new supervisor drives the devices from there (a detach,
// a worker's death, a new guest).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>

#include "frontend/frontend.hpp"
#include "tests/daemon_sim/daemon_fixture.hpp"

namespace xen9p::test {
namespace {

struct CommandResult {
    int exit_status = -1;
    std::string output;
};

// Runs `xen9pd upgrade` (the command an admin or systemd's ExecReload runs)
// against the fixture's daemon.
CommandResult run_upgrade(DaemonFixture& f, const std::string& binary = XEN9PD_BINARY) {
    const auto command =
        binary + " upgrade --control-socket " + f.sim->control_socket().string() + " 2>&1";
    CommandResult result;
    FILE* out = ::popen(command.c_str(), "r");
    BOOST_REQUIRE(out != nullptr);
    char buf[256];
    while (std::fgets(buf, sizeof buf, out) != nullptr)
        result.output += buf;
    const int status = ::pclose(out);
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

bool running(pid_t pid) {
    return ::kill(pid, 0) == 0;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(upgrade, DaemonFixture)

BOOST_AUTO_TEST_CASE(every_device_and_its_session_is_kept_across_an_upgrade) {
    const auto share = add_guest(1);
    add_guest(2);
    add_guest(3);
    auto c = mount(1);
    auto other = mount(2);
    // Guest 3's frontend has not connected yet: its device waits in InitWait.
    BOOST_REQUIRE(wait_backend_state(3, {"2"}));
    write_file(*c, "kept", "before");
    open_and_lock(*c, 20, "kept");
    // Requests in flight across the re-exec: the worker answers them.
    const auto reads = send_reads(*other, 64, 16384);
    const auto daemon_pid = sim->daemon()->pid();
    const auto worker1 = wait_worker(1);
    const auto worker2 = wait_worker(2);
    BOOST_REQUIRE(worker1);
    BOOST_REQUIRE(worker2);

    const auto asked = std::chrono::steady_clock::now();
    const auto upgraded = run_upgrade(*this);
    BOOST_TEST_MESSAGE("xen9pd upgrade answered after "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - asked)
                              .count()
                       << " ms");
    BOOST_TEST(upgraded.exit_status == 0, upgraded.output);
    BOOST_TEST(upgraded.output ==
               "upgraded: pid " + std::to_string(daemon_pid) + " took over 3 devices\n");
    // The same process, its workers still its children serving the guests.
    BOOST_TEST(!sim->daemon()->poll_exit().has_value());
    BOOST_TEST((worker(1) == worker1));
    BOOST_TEST((worker(2) == worker2));
    BOOST_TEST(backend_state(1).value_or("") == "4");
    BOOST_TEST(backend_state(2).value_or("") == "4");
    BOOST_TEST(daemon_log().find("took over from the previous supervisor") != std::string::npos);
    // The xen-9pfsd key named this process all along.
    BOOST_TEST(daemon_log().find("took over a stale key") == std::string::npos);

    for (const auto tag : reads) {
        auto reply = other->await(tag);
        BOOST_REQUIRE_MESSAGE(reply, reply.error().message());
        BOOST_TEST(must(client::expect<p9proto::Rread>(*reply))->data.bytes.size() == 16384u);
    }
    const std::string more = "+after";
    must(client::write_all(*c, 20, 6, std::as_bytes(std::span(more))));
    BOOST_TEST(must(read_file(*c, "kept")) == "before+after");
    BOOST_TEST(locked_elsewhere(share / "kept"));

    // The new supervisor drives the devices: guest 3 connects now, guest 2
    // is detached, and a second upgrade takes over what the first left.
    auto third = mount(3);
    write_file(*third, "new", "guest 3");
    BOOST_TEST(must(read_file(*third, "new")) == "guest 3");
    BOOST_TEST(sim->toolstack().remove_9pfs(2, 0, std::chrono::seconds(5)).has_value());
    BOOST_TEST(process_gone(*worker2));

    const auto again = run_upgrade(*this);
    BOOST_TEST(again.exit_status == 0, again.output);
    BOOST_TEST(again.output.find(" took over 2 devices") != std::string::npos, again.output);
    BOOST_TEST(must(read_file(*third, "new")) == "guest 3");
    BOOST_TEST(must(read_file(*c, "kept")) == "before+after");
    BOOST_TEST(locked_elsewhere(share / "kept"));
    must(client::clunk(*c, 20));
}

BOOST_AUTO_TEST_CASE(a_worker_that_dies_after_an_upgrade_closes_its_device_only) {
    add_guest(1);
    add_guest(2);
    auto c = mount(1);
    auto other = mount(2);
    const auto worker1 = wait_worker(1);
    BOOST_REQUIRE(worker1);
    BOOST_TEST(run_upgrade(*this).exit_status == 0);

    // The new supervisor learns of the death from the inherited pidfd and
    // collects the exit: no zombie, the device closes as it would have.
    BOOST_REQUIRE(::kill(*worker1, SIGKILL) == 0);
    BOOST_TEST(wait_backend_state(1, {"5", "6"}));
    BOOST_TEST(simxen::wait_until([&] { return !running(*worker1); }));
    expect_only_device_lost(1, "worker ended", *other);
}

BOOST_AUTO_TEST_SUITE_END()

// The daemon started from a copy of xen9pd, as from /usr/sbin/xen9pd.
struct InstalledCopy {
    InstalledCopy() {
        char pattern[] = "/tmp/xen9pd-upgrade-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(pattern) != nullptr);
        dir = pattern;
        std::filesystem::copy_file(XEN9PD_BINARY, installed());
    }
    ~InstalledCopy() { std::filesystem::remove_all(dir); }
    std::filesystem::path installed() const { return dir / "xen9pd"; }
    std::filesystem::path dir;
};

struct InstalledDaemonFixture : InstalledCopy, DaemonFixture {
    InstalledDaemonFixture() : DaemonFixture(installed().string()) {}
};

BOOST_FIXTURE_TEST_CASE(the_file_installed_in_its_place_is_the_one_executed,
                        InstalledDaemonFixture) {
    add_guest(1);
    auto c = mount(1);
    write_file(*c, "f", "served");
    const auto daemon_pid = sim->daemon()->pid();

    // Removed (a package being replaced): the exec fails, the daemon says so
    // and serves on as it was.
    std::filesystem::remove(installed());
    const auto failed = run_upgrade(*this);
    BOOST_TEST(failed.exit_status == 1, failed.output);
    BOOST_TEST(failed.output.find("cannot execute " + installed().string()) != std::string::npos,
               failed.output);
    BOOST_TEST(!sim->daemon()->poll_exit().has_value());
    BOOST_TEST(must(read_file(*c, "f")) == "served");
    BOOST_TEST(sim->daemon_status().has_value());

    // A new file in its place (dpkg renames it there): that one runs now.
    std::filesystem::copy_file(XEN9PD_BINARY, dir / "xen9pd.new");
    std::filesystem::rename(dir / "xen9pd.new", installed());
    const auto upgraded = run_upgrade(*this);
    BOOST_TEST(upgraded.exit_status == 0, upgraded.output);
    std::error_code ec;
    BOOST_TEST(std::filesystem::read_symlink("/proc/" + std::to_string(daemon_pid) + "/exe", ec) ==
               installed());
    BOOST_TEST(must(read_file(*c, "f")) == "served");
    write_file(*c, "g", "after");
    BOOST_TEST(must(read_file(*c, "g")) == "after");
}

namespace {

// What a binary that cannot take the devices over does, installed in the
// daemon's place as a script that runs xen9pd with `extra` arguments.
void install_wrapper(const std::filesystem::path& at, const std::string& extra) {
    std::filesystem::remove(at);
    std::ofstream script(at);
    script << "#!/bin/sh\nexec " << XEN9PD_BINARY << " \"$@\" " << extra << "\n";
    script.close();
    std::filesystem::permissions(at, std::filesystem::perms::owner_all);
}

// No process at `pid` any more, not even a zombie nobody collects.
bool reaped(pid_t pid) {
    return simxen::wait_until(
        [pid] { return !std::filesystem::exists("/proc/" + std::to_string(pid)); });
}

// Guest 1 mounted, then an upgrade to a binary that runs xen9pd with
// `extra` arguments, which must fail: guest 1's worker.
pid_t fail_upgrade(InstalledDaemonFixture& f, const std::string& extra) {
    f.add_guest(1);
    auto c = f.mount(1);
    const auto worker = f.wait_worker(1);
    BOOST_REQUIRE(worker);
    install_wrapper(f.installed(), extra);
    const auto upgraded = run_upgrade(f);
    BOOST_TEST(upgraded.exit_status == 1, upgraded.output);
    BOOST_TEST(upgraded.output.find("did not take the devices over") != std::string::npos,
               upgraded.output);
    return *worker;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_handover_that_does_not_read_ends_its_workers, InstalledDaemonFixture) {
    // The new binary is handed a descriptor that names nothing.
    const auto worker1 = fail_upgrade(*this, "--handover-fd 1000");
    // Its workers are ended and collected, not left serving unsupervised.
    BOOST_TEST(reaped(worker1));
    BOOST_TEST(daemon_log().find("cannot read the previous supervisor's handover") !=
               std::string::npos);
    // The daemon serves on afresh: a new guest gets its share.
    add_guest(2);
    auto other = mount(2);
    write_file(*other, "f", "served");
    BOOST_TEST(must(read_file(*other, "f")) == "served");
}

BOOST_FIXTURE_TEST_CASE(a_binary_that_knows_no_handover_stops_the_workers, InstalledDaemonFixture) {
    // As an older xen9pd: the handover option is one it does not know.
    const auto worker1 = fail_upgrade(*this, "--handover-fd-unknown-here");
    // It refused its arguments (status 2); the workers saw their control
    // sockets close and stopped instead of serving with no supervisor.
    BOOST_TEST(simxen::wait_until([&] { return sim->daemon()->poll_exit().has_value(); }));
    BOOST_TEST(simxen::wait_until([&] { return ::kill(worker1, 0) != 0; }));
}

BOOST_FIXTURE_TEST_CASE(a_device_the_new_configuration_refuses_is_closed, DaemonFixture) {
    // The daemon reads a configuration file the upgrade's new daemon reads again.
    const auto conf = sim->dir() / "xen9pd.conf";
    std::ofstream(conf) << "# as installed\n";
    sim->daemon()->stop();
    must(sim->start_daemon({"--log-level", "debug", "--config", conf.string()}));
    add_guest(1);
    auto c = mount(1);
    const auto worker1 = wait_worker(1);
    BOOST_REQUIRE(worker1);
    // Only type=xen_9pfsd devices from now on: this one is of kind 9pfs.
    std::ofstream(conf) << "kinds = xen_9pfs\n";
    const auto upgraded = run_upgrade(*this);
    BOOST_TEST(upgraded.exit_status == 0, upgraded.output);
    BOOST_TEST(upgraded.output.find("took over 1 devices; closed 1 of them") != std::string::npos,
               upgraded.output);
    BOOST_TEST(wait_backend_state(1, {"6"}));
    BOOST_TEST(reaped(*worker1));
    BOOST_TEST(daemon_log().find("its kind is no longer served") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(a_stop_closes_the_connected_devices, DaemonFixture) {
    add_guest(1);
    add_guest(2);
    auto c = mount(1);
    BOOST_REQUIRE(wait_backend_state(2, {"2"}));
    // Unlike an upgrade, a stop ends the workers: the guest sees its device
    // close (its I/O fails) rather than wait for a daemon that is gone.
    BOOST_TEST(sim->daemon()->stop() == 0);
    BOOST_TEST(backend_state(1).value_or("") == "5");
    // One still waiting for its frontend has no guest to tell.
    BOOST_TEST(backend_state(2).value_or("") == "2");
}

}  // namespace xen9p::test
