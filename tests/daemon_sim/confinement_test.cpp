// What a guest can reach through xen9pd: its own share, as its own uid, from a
// sandboxed worker; exports outside the allowed roots are refused.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "tests/daemon_sim/daemon_fixture.hpp"

namespace xen9p::test {

BOOST_FIXTURE_TEST_SUITE(confinement, DaemonFixture)

BOOST_AUTO_TEST_CASE(two_guests_see_only_their_own_shares_as_their_own_uids) {
    const auto share1 = add_guest(1);
    const auto share2 = add_guest(2);
    auto c1 = mount(1);
    auto c2 = mount(2);
    write_file(*c1, "mine", "guest one");
    write_file(*c2, "mine", "guest two");
    BOOST_TEST(must(read_file(*c1, "mine")) == "guest one");
    BOOST_TEST(must(read_file(*c2, "mine")) == "guest two");
    // ".." at the root stays at the root: guest 2 cannot name guest 1's share.
    std::string_view up[] = {"..", "share1", "mine"};
    auto escaped = client::walk(*c2, 0, 30, up);
    BOOST_TEST(!escaped.has_value());

    struct stat st1 {
    }, st2{};
    BOOST_REQUIRE(::stat((share1 / "mine").c_str(), &st1) == 0);
    BOOST_REQUIRE(::stat((share2 / "mine").c_str(), &st2) == 0);
    BOOST_TEST(st1.st_uid == simxen::kUidRangeBase + 1);
    BOOST_TEST(st2.st_uid == simxen::kUidRangeBase + 2);
    const auto w1 = wait_worker(1);
    const auto w2 = wait_worker(2);
    BOOST_REQUIRE(w1);
    BOOST_REQUIRE(w2);
    BOOST_TEST(*w1 != *w2);
}

BOOST_AUTO_TEST_CASE(worker_runs_deprivileged_inside_its_export) {
    const auto share = add_guest(3);
    { std::ofstream marker(share / "marker-on-host"); }
    auto c = mount(3);
    const auto pid = wait_server(3);
    BOOST_REQUIRE(pid);
    const auto uid = std::to_string(simxen::kUidRangeBase + 3);
    const auto gid = std::to_string(simxen::kUidRangeBase);
    BOOST_TEST(simxen::proc_status_field(*pid, "Uid") ==
               uid + "\t" + uid + "\t" + uid + "\t" + uid);
    BOOST_TEST(simxen::proc_status_field(*pid, "Gid") ==
               gid + "\t" + gid + "\t" + gid + "\t" + gid);
    BOOST_TEST(simxen::proc_status_field(*pid, "Groups") == "");
    BOOST_TEST(simxen::proc_status_field(*pid, "CapEff") == "0000000000000000");
    BOOST_TEST(simxen::proc_status_field(*pid, "CapPrm") == "0000000000000000");
    BOOST_TEST(simxen::proc_status_field(*pid, "NoNewPrivs") == "1");
    BOOST_TEST(simxen::proc_status_field(*pid, "Seccomp") == "2");
    // Non-dumpable: its /proc entries belong to root, so the guest's device
    // model (the same uid under dm_restrict) cannot ptrace it or read its memory.
    struct stat proc {};
    BOOST_REQUIRE(::stat(("/proc/" + std::to_string(*pid) + "/mem").c_str(), &proc) == 0);
    BOOST_TEST(proc.st_uid == 0u);
    // Its root directory is the export: the host's marker file is at "/".
    const std::filesystem::path root = "/proc/" + std::to_string(*pid) + "/root";
    BOOST_TEST(std::filesystem::exists(root / "marker-on-host"));
    BOOST_TEST(!std::filesystem::exists(root / "etc" / "passwd"));
    // ps names it after xen9pd, not after the /proc/self/exe it was run from.
    std::ifstream cmdline("/proc/" + std::to_string(*pid) + "/cmdline");
    const std::string args{std::istreambuf_iterator<char>(cmdline), {}};
    BOOST_TEST(args.starts_with(std::string("xen9pd\0worker\0", 14)));
    std::ifstream comm("/proc/" + std::to_string(*pid) + "/comm");
    std::string name;
    std::getline(comm, name);
    BOOST_TEST(name == "xen9pd");
}

BOOST_AUTO_TEST_CASE(a_fixed_worker_uid_owns_what_the_guest_creates) {
    const uid_t fixed = simxen::kUidRangeBase + 40000;
    must(sim->toolstack().create_domain(7, "guest7"));
    const auto share = must(sim->make_export("fixed", 7));
    BOOST_REQUIRE(::chown(share.c_str(), fixed, simxen::kUidRangeBase) == 0);
    sim::P9Device device;
    device.domid = 7;
    device.tag = "fixed";
    device.path = share.string();
    device.worker_uid = fixed;
    must(sim->toolstack().add_9pfs(device));
    auto c = mount(7);
    write_file(*c, "created", "by a worker of uid 230000");
    const auto pid = wait_server(7);
    BOOST_REQUIRE(pid);
    const auto uid = std::to_string(fixed);
    BOOST_TEST(simxen::proc_status_field(*pid, "Uid") ==
               uid + "\t" + uid + "\t" + uid + "\t" + uid);
    struct stat created {};
    BOOST_REQUIRE(::stat((share / "created").c_str(), &created) == 0);
    BOOST_TEST(created.st_uid == fixed);
}

BOOST_AUTO_TEST_CASE(a_worker_uid_a_device_model_could_have_is_refused) {
    // Range base + 8 is the device model's uid of domain 8; base + 65536 is
    // past the range; 0 is root.
    const std::vector<std::pair<DomId, unsigned>> devices{
        {8, simxen::kUidRangeBase + 8}, {9, simxen::kUidRangeBase + 65536}, {10, 0}};
    for (const auto& [domid, uid] : devices) {
        BOOST_TEST_CONTEXT("uid " << uid) {
            must(sim->toolstack().create_domain(domid, "guest" + std::to_string(domid)));
            sim::P9Device device;
            device.domid = domid;
            device.tag = "t";
            device.path = must(sim->make_export("t" + std::to_string(domid), domid)).string();
            device.worker_uid = uid;
            must(sim->toolstack().add_9pfs(device));
            BOOST_TEST(wait_backend_state(domid, {"6"}));
            auto error = sim->xs().try_read(backend_path(domid) + "/hotplug-error");
            BOOST_REQUIRE(error.has_value());
            BOOST_TEST(error->value_or("").find("outside 222768..255535") != std::string::npos,
                       error->value_or(""));
            BOOST_TEST(!worker(domid).has_value());
        }
    }
}

BOOST_AUTO_TEST_CASE(export_outside_the_allowed_roots_is_refused_and_logged) {
    must(sim->toolstack().create_domain(4, "guest4"));
    sim::P9Device device;
    device.domid = 4;
    device.tag = "etc";
    device.path = "/etc";
    must(sim->toolstack().add_9pfs(device));
    BOOST_TEST(wait_backend_state(4, {"6"}));
    auto error = sim->xs().try_read(backend_path(4) + "/hotplug-error");
    BOOST_REQUIRE(error.has_value());
    BOOST_TEST(error->value_or("").find("outside the allowed") != std::string::npos);
    BOOST_TEST(daemon_log().find("outside the allowed") != std::string::npos);
    BOOST_TEST(!worker(4).has_value());
    // The guest's connect fails instead of hanging.
    auto fe = sim->connect(4, 0, std::chrono::seconds(5));
    BOOST_TEST(!fe.has_value());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
