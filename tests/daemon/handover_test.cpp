// The text one supervisor hands the next across `xen9pd upgrade`: every
// field comes back as it went, and anything else is refused whole.
#define BOOST_TEST_MODULE handover
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/supervisor/handover.hpp"
#include "backend/supervisor/process_worker.hpp"

namespace xen9p::test {
namespace {

using supervisor::DeviceHandover;
using supervisor::Handover;
using supervisor::WorkerDescriptors;
using xenstore::XenbusState;

Handover sample() {
    Handover h;
    h.reply_fd = 9;
    DeviceHandover connected;
    connected.id = {"9pfs", 3, 0};
    connected.state = XenbusState::kConnected;
    connected.watching_frontend = true;
    connected.params.emplace();
    connected.params->device = connected.id;
    connected.params->tag = "share with spaces";
    connected.params->export_path = "/srv/share";
    connected.params->rings = {{8, 12}, {9, 13}};
    connected.params->uid = 190003;
    connected.params->gid = 190000;
    connected.worker = WorkerDescriptors{1234, 10, 11, 12, true, false};
    DeviceHandover closing;
    closing.id = {"xen_9pfs", 7, 2};
    closing.state = XenbusState::kConnected;
    closing.state_after_worker = XenbusState::kClosing;
    closing.worker_lost = true;
    closing.last_error = "worker ended: exit 1\nsecond line";
    closing.worker = WorkerDescriptors{1240, 13, -1, -1, true, true};
    DeviceHandover waiting;
    waiting.id = {"9pfs", 8, 0};
    waiting.state = XenbusState::kInitWait;
    h.devices = {connected, closing, waiting};
    h.retiring = {WorkerDescriptors{1300, 14, -1, -1, false, true}};
    return h;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(handover)

BOOST_AUTO_TEST_CASE(every_field_comes_back) {
    const auto h = sample();
    auto parsed = supervisor::parse_handover(supervisor::serialize(h));
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST((*parsed == h));
    BOOST_TEST((supervisor::descriptors_of(h) == std::vector<int>{9, 10, 11, 12, 13, 14}));
    BOOST_TEST(supervisor::parse_handover(supervisor::serialize(Handover{})).has_value());
}

BOOST_AUTO_TEST_CASE(anything_else_is_refused) {
    const auto text = supervisor::serialize(sample());
    auto refused = [](const std::string& t) { return !supervisor::parse_handover(t).has_value(); };
    BOOST_TEST(refused(""));
    // Another version, a cut, trailing bytes, an unknown line.
    BOOST_TEST(refused("xen9pd-handover 2" + text.substr(text.find('\n'))));
    BOOST_TEST(refused(text.substr(0, text.size() - 4)));
    BOOST_TEST(refused(text + "x"));
    BOOST_TEST(refused(text.substr(0, text.find("end\n")) + "what 1\nend\n"));
    // A descriptor named twice would be closed twice.
    auto twice = sample();
    twice.retiring[0].exit_fd = 10;
    BOOST_TEST(refused(supervisor::serialize(twice)));
    // So would a device named twice (its frontend watch too).
    auto same = sample();
    same.devices[2].id = same.devices[0].id;
    BOOST_TEST(refused(supervisor::serialize(same)));
    // Numbers out of range, a worker without its device, a block too long.
    auto state = text;
    state.replace(state.find("device 9pfs 3 0 4"), 17, "device 9pfs 3 0 9");
    BOOST_TEST(refused(state));
    auto domid = text;
    domid.replace(domid.find("device 9pfs 3 0"), 15, "device 9pfs 32752 0");
    BOOST_TEST(refused(domid));
    BOOST_TEST(refused("xen9pd-handover 1\nreply -1\nworker 5 6 -1 -1 1 0\nend\n"));
    BOOST_TEST(refused("xen9pd-handover 1\nreply -1\ndevice 9pfs 1 0 4 - 0 0\nerror 99\nx\nend\n"));
    BOOST_TEST(refused("xen9pd-handover 1\nreply -1\nretiring 0 6 -1 -1 0 1\nend\n"));
}

BOOST_AUTO_TEST_CASE(a_worker_is_taken_over_only_as_the_process_its_pidfd_names) {
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
    BOOST_REQUIRE(pidfd >= 0);
    supervisor::ProcessWorkerLauncher launcher("/bin/false", "worker", {});
    const worker_channel::DeviceId device{"9pfs", 1, 0};
    auto other = launcher.adopt({child + 1, ::dup(pidfd), -1, -1, true, false}, device);
    BOOST_TEST((!other && other.error().value == ESRCH));
    auto closed = launcher.adopt({child, 1000, -1, -1, true, false}, device);
    BOOST_TEST((!closed && closed.error().value == EBADF));
    auto adopted = launcher.adopt({child, pidfd, -1, -1, true, false}, device);
    BOOST_REQUIRE(adopted.has_value());
    auto& worker = **adopted;
    BOOST_TEST(worker.pid() == child);
    // Ours to stop and collect, as any worker the supervisor started.
    worker.stop(supervisor::WorkerClock::duration::zero());
    pollfd gone{worker.exit_fd(), POLLIN, 0};
    BOOST_REQUIRE(::poll(&gone, 1, 10000) == 1);
    BOOST_TEST(worker.reap());
    BOOST_TEST(WIFSIGNALED(worker.exit_status()));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
