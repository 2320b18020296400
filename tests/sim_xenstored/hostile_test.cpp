// Raw wire input a hostile guest could send: answered with an error or a
// disconnect, never a crash, and the daemon keeps serving everyone else.
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <random>

#include "base/unique_fd.hpp"
#include "tests/sim_xenstored/fixture.hpp"

extern "C" {
#include <xenstore.h>
}

namespace xen9p::test {
namespace {

struct Reply {
    xsd_sockmsg header{};
    std::string payload;
};

class RawClient {
  public:
    explicit RawClient(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM, 0)) {
        BOOST_REQUIRE(fd_);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        BOOST_REQUIRE(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
        timeval tv{5, 0};
        ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }

    int fd() const { return fd_.get(); }

    bool send_raw(const void* data, std::size_t len) {
        return ::send(fd_.get(), data, len, MSG_NOSIGNAL) == static_cast<ssize_t>(len);
    }

    bool send(std::uint32_t type, std::uint32_t len, std::string_view payload, std::uint32_t tx = 0,
              std::uint32_t req = 77) {
        xsd_sockmsg header{type, req, tx, len};
        return send_raw(&header, sizeof(header)) &&
               (payload.empty() || send_raw(payload.data(), payload.size()));
    }

    // nullopt when the daemon closed the connection.
    std::optional<Reply> receive() {
        Reply reply;
        if (!read_exact(&reply.header, sizeof(reply.header))) return std::nullopt;
        if (reply.header.len > XENSTORE_PAYLOAD_MAX) return std::nullopt;
        reply.payload.resize(reply.header.len);
        if (!read_exact(reply.payload.data(), reply.payload.size())) return std::nullopt;
        return reply;
    }

  private:
    bool read_exact(void* data, std::size_t len) {
        auto* p = static_cast<char*>(data);
        while (len > 0) {
            const ssize_t n = ::recv(fd_.get(), p, len, 0);
            if (n <= 0) return false;
            p += n;
            len -= static_cast<std::size_t>(n);
        }
        return true;
    }
    UniqueFd fd_;
};

std::string error_name(const Reply& reply) {
    BOOST_REQUIRE(reply.header.type == XS_ERROR);
    return std::string(reply.payload.c_str());
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(hostile_wire, XenstoreFixture)

BOOST_AUTO_TEST_CASE(replies_echo_the_request_id_and_errors_carry_the_errno_name) {
    RawClient raw(dir + "/xenstored.sock");
    BOOST_REQUIRE(raw.send(XS_READ, 6, std::string_view("/nope", 6), 0, 4242));
    const auto reply = raw.receive();
    BOOST_REQUIRE(reply.has_value());
    BOOST_TEST(reply->header.req_id == 4242u);
    BOOST_TEST(error_name(*reply) == "ENOENT");
}

BOOST_AUTO_TEST_CASE(an_unknown_message_type_is_enosys) {
    RawClient raw(dir + "/xenstored.sock");
    for (const std::uint32_t type : {std::uint32_t{XS_WATCH_EVENT}, std::uint32_t{XS_ERROR},
                                     std::uint32_t{XS_TYPE_COUNT + 5}, 0xffffffffu}) {
        BOOST_REQUIRE(raw.send(type, 2, std::string_view("x", 2)));
        const auto reply = raw.receive();
        BOOST_REQUIRE(reply.has_value());
        BOOST_TEST(error_name(*reply) == "ENOSYS");
    }
}

BOOST_AUTO_TEST_CASE(arguments_without_their_terminator_are_einval) {
    RawClient raw(dir + "/xenstored.sock");
    BOOST_REQUIRE(raw.send(XS_READ, 4, "/abc"));
    BOOST_TEST(error_name(*raw.receive()) == "EINVAL");
    BOOST_REQUIRE(raw.send(XS_WRITE, 4, "/abc"));
    BOOST_TEST(error_name(*raw.receive()) == "EINVAL");
    BOOST_REQUIRE(raw.send(XS_WATCH, 5, std::string_view("/abc", 5)));
    BOOST_TEST(error_name(*raw.receive()) == "EINVAL");
    BOOST_REQUIRE(raw.send(XS_RM, 0, ""));
    BOOST_TEST(error_name(*raw.receive()) == "EINVAL");
    BOOST_REQUIRE(raw.send(XS_SET_PERMS, 8, std::string_view("/a\0q5\0x", 8)));
    BOOST_TEST(error_name(*raw.receive()) == "EINVAL");
}

BOOST_AUTO_TEST_CASE(an_oversized_length_disconnects_only_that_client) {
    auto guest = this->guest(3);
    RawClient raw(server->server().domain_socket_path(3));
    BOOST_REQUIRE(raw.send(XS_READ, XENSTORE_PAYLOAD_MAX + 1, ""));
    BOOST_TEST(!raw.receive().has_value());
    BOOST_TEST(guest.domain_path(3).has_value());
    BOOST_TEST(dom0().write("/still/alive", "1").has_value());
}

BOOST_AUTO_TEST_CASE(a_full_size_payload_is_served_and_a_truncated_one_is_harmless) {
    RawClient raw(dir + "/xenstored.sock");
    std::string payload = "/big";
    payload.push_back('\0');
    payload.append(XENSTORE_PAYLOAD_MAX - payload.size(), 'v');
    BOOST_REQUIRE(raw.send(XS_WRITE, XENSTORE_PAYLOAD_MAX, payload));
    const auto reply = raw.receive();
    BOOST_REQUIRE(reply.has_value());
    BOOST_TEST(reply->header.type == std::uint32_t{XS_WRITE});
    BOOST_TEST(dom0().read("/big").value().size() == XENSTORE_PAYLOAD_MAX - 5);
    {
        RawClient partial(dir + "/xenstored.sock");
        BOOST_REQUIRE(partial.send(XS_WRITE, 100, "/half"));
    }
    BOOST_TEST(error_of(dom0().read("/half")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(a_guest_cannot_use_privileged_or_foreign_transactions) {
    auto guest = this->guest(3);
    RawClient raw(server->server().domain_socket_path(3));
    BOOST_REQUIRE(raw.send(XS_INTRODUCE, 6, std::string_view("4\0001\0001", 6)));
    BOOST_TEST(error_name(*raw.receive()) == "EACCES");
    auto admin = dom0();
    auto t = admin.transaction_start().value();
    BOOST_REQUIRE(raw.send(XS_WRITE, 5, std::string_view("/x\0yz", 5), t));
    BOOST_TEST(error_name(*raw.receive()) == "ENOENT");
    BOOST_REQUIRE(admin.transaction_end(t, true).has_value());
}

BOOST_AUTO_TEST_CASE(random_messages_from_a_guest_never_break_the_daemon) {
    auto admin = dom0();
    BOOST_REQUIRE(admin.write("/local/domain/3/data", "").has_value());
    BOOST_REQUIRE(admin.set_permissions("/local/domain/3", {{3, 'n'}}).has_value());
    auto guest = this->guest(3);
    std::mt19937 rng(1234);
    const char alphabet[] = {'/', 'a', 'b', '\0', '@', 'r', '5', '0', 'T', 'F', '.', ' '};
    int disconnects = 0;
    std::optional<RawClient> raw;
    for (int i = 0; i < 3000; ++i) {
        if (!raw) raw.emplace(server->server().domain_socket_path(3));
        const std::uint32_t type = rng() % (XS_TYPE_COUNT + 2);
        std::string payload(rng() % 24, '\0');
        for (auto& c : payload)
            c = alphabet[rng() % sizeof(alphabet)];
        if (rng() % 2 == 0) payload = "data/" + payload;
        const std::uint32_t tx = rng() % 4 == 0 ? rng() % 3 : 0;
        if (!raw->send(type, static_cast<std::uint32_t>(payload.size()), payload, tx)) {
            raw.reset();
            ++disconnects;
            continue;
        }
        // Each request gets exactly one reply, possibly after watch events.
        for (;;) {
            const auto reply = raw->receive();
            if (!reply) {
                raw.reset();
                ++disconnects;
                break;
            }
            if (reply->header.type != XS_WATCH_EVENT) break;
        }
    }
    BOOST_TEST(disconnects < 10);
    BOOST_TEST(guest.domain_path(3).has_value());
    BOOST_TEST(admin.write("/after/fuzz", "ok").has_value());
    BOOST_TEST(admin.read("/after/fuzz").value() == "ok");
}

BOOST_AUTO_TEST_CASE(a_guest_that_never_reads_is_throttled_not_served_forever) {
    auto guest = this->guest(3);
    RawClient raw(server->server().domain_socket_path(3));
    // Far more replies than the socket buffers and the output quota hold.
    int sent = 0;
    for (; sent < 200000; ++sent) {
        xsd_sockmsg header{XS_GET_DOMAIN_PATH, 1, 0, 2};
        const char body[] = "3";
        ::iovec iov[2] = {{&header, sizeof(header)}, {const_cast<char*>(body), 2}};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = 2;
        if (::sendmsg(raw.fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) <= 0) break;
    }
    BOOST_TEST(sent < 200000);
    BOOST_TEST(dom0().write("/still/serving", "1").has_value());
}

BOOST_AUTO_TEST_CASE(a_guest_cannot_open_more_connections_than_its_quota) {
    auto guest = this->guest(3);
    BOOST_REQUIRE(guest.domain_path(3).has_value());
    const std::string path = server->server().domain_socket_path(3);
    std::vector<std::unique_ptr<RawClient>> clients;
    const auto served = [](RawClient& c) {
        if (!c.send(XS_GET_DOMAIN_PATH, 2, std::string_view("3", 2))) return false;
        const auto reply = c.receive();
        return reply && reply->header.type == std::uint32_t{XS_GET_DOMAIN_PATH};
    };
    for (std::size_t i = 1; i < sim::XenstoredLimits{}.max_connections_per_domain; ++i) {
        clients.push_back(std::make_unique<RawClient>(path));
        BOOST_TEST(served(*clients.back()));
    }
    RawClient extra(path);
    BOOST_TEST(!served(extra));
    clients.pop_back();
    BOOST_TEST(guest.domain_path(3).has_value());
    RawClient replacement(path);
    BOOST_TEST(served(replacement));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
