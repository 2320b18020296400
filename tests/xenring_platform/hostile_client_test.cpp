// Malformed requests straight on the hypervisor socket: each is refused or
// drops that connection, and the service keeps serving everyone else.
#include <boost/test/unit_test.hpp>

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "sim/grant_sharer.hpp"
#include "tests/xenring_platform/fixture.hpp"
#include "xenring/platform/fd_passing.hpp"
#include "xenring/platform/platform.hpp"
#include "xenring/platform/sim_platform.hpp"
#include "xenring/platform/sim_protocol.hpp"

using namespace xen9p;
using namespace xen9p::platform;
using xen9p::sim::GrantSharer;
using xen9p::sim::open_grant_sharer;
using xen9p::test::kGuest;
using xen9p::test::SimFixture;

namespace {

UniqueFd raw_connect(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return {};
    return fd;
}

// The reply's errno, 0 for success, -1 when the service hung up.
int raw_call(int fd, std::span<const std::byte> bytes) {
    if (!platform::send_message(fd, bytes)) return -1;
    platform::sim_protocol::Reply reply;
    auto got = platform::receive_message(fd, std::as_writable_bytes(std::span(&reply, 1)));
    if (!got || got->size < platform::sim_protocol::kReplyHeader) return -1;
    return reply.error;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(hostile_clients, SimFixture)

BOOST_AUTO_TEST_CASE(malformed_requests_are_refused_and_the_service_survives) {
    auto sharer = open_grant_sharer(spec(), kGuest, 1);
    BOOST_REQUIRE(sharer);
    auto ref = (*sharer)->grant(0, 0, false);
    BOOST_REQUIRE(ref);

    auto fd = raw_connect(sim_socket(dir, 0));
    BOOST_REQUIRE(fd);
    platform::sim_protocol::Request req{};
    const auto whole = std::as_bytes(std::span(&req, 1));
    // Nothing before the connection names its device, and only once.
    req.op = platform::sim_protocol::Op::map;
    req.domid = kGuest;
    req.count = 1;
    BOOST_TEST(raw_call(fd.get(), whole) == ENOTTY);
    req.op = platform::sim_protocol::Op::open;
    req.arg = 0;
    BOOST_TEST(raw_call(fd.get(), whole) == EINVAL);
    req.arg = static_cast<std::uint32_t>(platform::sim_protocol::Device::grant_mapper);
    BOOST_TEST(raw_call(fd.get(), whole) == 0);
    BOOST_TEST(raw_call(fd.get(), whole) == EINVAL);
    // Another device's request, as an ioctl on the wrong device.
    req.op = platform::sim_protocol::Op::bind_interdomain;
    BOOST_TEST(raw_call(fd.get(), whole) == ENOTTY);
    // A map that claims more refs than it carries.
    req.op = platform::sim_protocol::Op::map;
    req.domid = kGuest;
    req.count = 3;
    BOOST_TEST(raw_call(fd.get(), whole.first(platform::sim_protocol::kRequestHeader + 4)) ==
               EINVAL);
    // Too many refs, a domid out of range, an unknown op.
    req.count = platform::sim_protocol::kMaxRefsPerMap + 1;
    BOOST_TEST(raw_call(fd.get(), whole) == EINVAL);
    req.count = 1;
    req.domid = 70000;
    BOOST_TEST(raw_call(fd.get(), whole) == EINVAL);
    req.op = static_cast<platform::sim_protocol::Op>(999);
    BOOST_TEST(raw_call(fd.get(), whole) == ENOSYS);
    // Unmapping what is not ours; granting before sharing memory.
    req.op = platform::sim_protocol::Op::unmap;
    req.arg = 12345;
    BOOST_TEST(raw_call(fd.get(), whole) == ENOENT);
    fd = raw_connect(sim_socket(dir, 0));
    BOOST_REQUIRE(fd);
    req.op = platform::sim_protocol::Op::open;
    req.arg = static_cast<std::uint32_t>(platform::sim_protocol::Device::grant_sharer);
    BOOST_TEST(raw_call(fd.get(), whole) == 0);
    req.op = platform::sim_protocol::Op::grant;
    req.domid = 0;
    req.arg = 0;
    BOOST_TEST(raw_call(fd.get(), whole) == EINVAL);
    // Sharing "memory" that is not big enough.
    req.op = platform::sim_protocol::Op::share_memory;
    req.arg = 1000;
    const int not_memory = ::eventfd(0, EFD_CLOEXEC);
    BOOST_REQUIRE(not_memory >= 0);
    BOOST_TEST(platform::send_message(fd.get(), whole.first(platform::sim_protocol::kRequestHeader),
                                      std::span(&not_memory, 1))
                   .has_value());
    ::close(not_memory);
    platform::sim_protocol::Reply reply;
    auto got = platform::receive_message(fd.get(), std::as_writable_bytes(std::span(&reply, 1)));
    BOOST_REQUIRE(got);
    BOOST_TEST(reply.error == EINVAL);
    // A runt message drops the connection.
    BOOST_TEST(raw_call(fd.get(), whole.first(3)) == -1);

    auto mapper = open_grant_mapper(spec());
    BOOST_REQUIRE(mapper);
    const GrantRef refs[] = {*ref};
    BOOST_TEST((*mapper)->map(kGuest, refs, false).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
