// xen9pd running against a fresh simulated Xen for each test, with guests
// created through the toolstack and mounted through the trans_xen-like frontend.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "base/unique_fd.hpp"
#include "client/client.hpp"
#include "client/operations.hpp"
#include "p9proto/constants.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/simxen/sim_xen.hpp"

namespace xen9p::test {

template <class T>
T must(Result<T> r) {
    BOOST_REQUIRE_MESSAGE(r.has_value(), r.error().message());
    return std::move(*r);
}

inline void must(const Status& s) {
    BOOST_REQUIRE_MESSAGE(s.has_value(), s.error().message());
}

// A whole file through a client (defined below).
inline void write_file(client::Client& c, const std::string& name, const std::string& content);
inline Result<std::string> read_file(client::Client& c, const std::string& name);

// Whether a process other than us holds a write-conflicting lock on `path`
// (a guest's lock, which the worker holds as an OFD lock).
inline bool locked_elsewhere(const std::filesystem::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    BOOST_REQUIRE(fd);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    BOOST_REQUIRE(::fcntl(fd.get(), F_OFD_GETLK, &fl) == 0);
    return fl.l_type != F_UNLCK;
}

struct DaemonFixture {
    explicit DaemonFixture(const std::string& daemon_binary = XEN9PD_BINARY) {
        sim = must(simxen::SimXen::start({XEN9P_SIM_BINARY, daemon_binary}));
        start_daemon();
    }
    // For tests that put devices in place before the daemon starts (and
    // then call start_daemon): the daemon reads them all at start-up.
    struct StartLater {};
    explicit DaemonFixture(StartLater) {
        sim = must(simxen::SimXen::start({XEN9P_SIM_BINARY, XEN9PD_BINARY}));
    }
    ~DaemonFixture() {
        // Keep the daemon's log when a test failed: it says why.
        using namespace boost::unit_test;
        if (!results_collector.results(framework::current_test_case().p_id).passed())
            std::cerr << "xen9pd log:\n" << daemon_log();
    }

    void start_daemon() { must(sim->start_daemon({"--log-level", "debug"})); }

    // A domain with a 9pfs device (devid 0) exporting a fresh directory.
    std::filesystem::path add_guest(DomId domid, const std::string& tag = "share") {
        must(sim->toolstack().create_domain(domid, "guest" + std::to_string(domid)));
        auto path = must(sim->make_export(tag + std::to_string(domid), domid));
        sim::P9Device device;
        device.domid = domid;
        device.tag = tag;
        device.path = path.string();
        must(sim->toolstack().add_9pfs(device));
        return path;
    }

    // Connects the guest's frontend and attaches fid 0 to the share's root.
    std::unique_ptr<client::Client> mount(
        DomId domid, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        auto c = std::make_unique<client::Client>(must(sim->connect(domid, 0, timeout)));
        must(c->negotiate());
        must(client::attach(*c, 0, "root", "", 0));
        return c;
    }

    std::string backend_path(DomId domid) {
        return "/local/domain/0/backend/9pfs/" + std::to_string(domid) + "/0";
    }

    std::optional<std::string> backend_state(DomId domid) {
        auto value = sim->xs().try_read(backend_path(domid) + "/state");
        if (!value) return std::nullopt;
        return *value;
    }

    // Waits (bounded) for the backend state to be one of `states` ("" = gone).
    bool wait_backend_state(DomId domid, std::initializer_list<std::string_view> states) {
        return simxen::wait_until([&] {
            const auto s = backend_state(domid).value_or("");
            for (auto want : states)
                if (s == want) return true;
            return false;
        });
    }

    std::optional<pid_t> worker(DomId domid) {
        auto status = sim->daemon_status();
        if (!status) return std::nullopt;
        return simxen::worker_pid(*status, domid);
    }

    std::optional<pid_t> wait_worker(DomId domid) {
        std::optional<pid_t> pid;
        simxen::wait_until([&] { return (pid = worker(domid)).has_value(); });
        return pid;
    }

    // The device's server: the worker's child (the worker keeps the device
    // and replaces the server when it dies), serving inside the sandbox.
    static std::optional<pid_t> server_of(pid_t worker) {
        const auto w = std::to_string(worker);
        std::ifstream children("/proc/" + w + "/task/" + w + "/children");
        pid_t pid = 0;
        if (children >> pid) return pid;
        return std::nullopt;
    }

    // The server of `domid`'s worker once it serves (seccomp on: confined).
    std::optional<pid_t> wait_server(DomId domid, std::optional<pid_t> not_this = std::nullopt) {
        std::optional<pid_t> pid;
        simxen::wait_until([&] {
            const auto w = worker(domid);
            pid = w ? server_of(*w) : std::nullopt;
            return pid && pid != not_this && simxen::proc_status_field(*pid, "Seccomp") == "2";
        });
        return pid;
    }

    static bool process_gone(pid_t pid) {
        return simxen::wait_until([pid] {
            std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
            std::string line;
            // Gone, or a zombie waiting for the supervisor's waitpid.
            if (!std::getline(stat, line)) return true;
            const auto close = line.rfind(')');
            return close != std::string::npos && line.substr(close + 2, 1) == "Z";
        });
    }

    // `xen9pd status`, or nullopt when the answer is not complete within
    // `limit`: for tests where a supervisor that blocks must fail, not hang.
    std::optional<std::string> status_within(std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const auto path = sim->control_socket().string();
        if (!fd || path.size() >= sizeof addr.sun_path) return std::nullopt;
        path.copy(addr.sun_path, path.size());
        // The listener's backlog takes the connection even while the daemon is busy.
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
            ::send(fd.get(), "status\n", 7, MSG_NOSIGNAL) != 7)
            return std::nullopt;
        std::string out;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd.get(), POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                return std::nullopt;
            char buf[4096];
            const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
            if (n < 0) return std::nullopt;
            if (n == 0) return out;
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

    // What the supervisor owes every other guest whatever one guest's worker
    // does: `xen9pd status`, a new guest's attach (the toolstack's nodes,
    // answered with InitWait) and a connected guest's detach (answered with
    // Closed) each within a second, a generous bound for work of
    // milliseconds. `attach` gets a new device; `detach` is mounted.
    void check_other_guests_served(DomId attach, DomId detach) {
        constexpr std::chrono::seconds kAnswer{1};
        BOOST_TEST(status_within(kAnswer).has_value(), "xen9pd status answers within 1 s");
        add_guest(attach);
        BOOST_TEST(simxen::wait_until([&] { return backend_state(attach) == "2"; }, kAnswer),
                   "an attach is answered with InitWait within 1 s");
        BOOST_TEST(sim->toolstack().remove_9pfs(detach, 0, kAnswer).has_value(),
                   "a detach is answered with Closed within 1 s");
    }

    // `domid`'s device closed (the guest's I/O fails, nothing hangs) with
    // `why` in the log, while the guest behind `other` is still served.
    void expect_only_device_lost(DomId domid, std::string_view why, client::Client& other) {
        BOOST_TEST(wait_backend_state(domid, {"5", "6"}));
        BOOST_TEST(daemon_log().find(why) != std::string::npos);
        write_file(other, "g", "unaffected");
        BOOST_TEST(must(read_file(other, "g")) == "unaffected");
    }

    std::string daemon_log() {
        std::ifstream log(sim->daemon_log());
        std::stringstream text;
        text << log.rdbuf();
        return text.str();
    }

    std::unique_ptr<simxen::SimXen> sim;
};

// Creates `name` under fid 0 with `content`; fids 10.. are used and clunked.
inline void write_file(client::Client& c, const std::string& name, const std::string& content) {
    must(client::walk(c, 0, 10, {}));
    auto created = must(c.call(p9proto::Tlcreate{10, {name}, p9proto::dotl::kRdwr, 0644, 0}));
    must(client::expect<p9proto::Rlcreate>(created));
    must(client::write_all(c, 10, 0, std::as_bytes(std::span(content))));
    must(client::clunk(c, 10));
}

inline Result<std::string> read_file(client::Client& c, const std::string& name) {
    std::string_view path[] = {name};
    if (auto w = client::walk(c, 0, 11, path); !w) return std::unexpected(w.error());
    if (auto o = client::lopen(c, 11, p9proto::dotl::kRdonly); !o) {
        (void)client::clunk(c, 11);
        return std::unexpected(o.error());
    }
    auto data = client::read_all(c, 11);
    (void)client::clunk(c, 11);
    if (!data) return std::unexpected(data.error());
    return std::string(reinterpret_cast<const char*>(data->data()), data->size());
}

// Opens the existing file `name` read-write on `fid` and takes a write lock
// on it as lock owner 42 (the guest's process), which the worker holds.
inline void open_and_lock(client::Client& c, std::uint32_t fid, const std::string& name) {
    std::string_view path[] = {name};
    must(client::walk(c, 0, fid, path));
    must(client::lopen(c, fid, p9proto::dotl::kRdwr));
    auto locked = must(c.call(
        p9proto::Tlock{fid, p9proto::lock::kWriteLock, 0, 0, 0, 42, p9proto::Text{"guest"}}));
    BOOST_TEST(must(client::expect<p9proto::Rlock>(locked))->status ==
               p9proto::lock::kStatusSuccess);
}

// Writes a 256 KiB file "f" and sends `count` reads of `chunk` bytes of it
// on fid 20 without waiting for their replies.
inline std::vector<std::uint16_t> send_reads(client::Client& c, std::size_t count,
                                             std::uint32_t chunk) {
    write_file(c, "f", std::string(256 * 1024, 'v'));
    std::string_view f[] = {"f"};
    must(client::walk(c, 0, 20, f));
    must(client::lopen(c, 20, p9proto::dotl::kRdonly));
    std::vector<std::uint16_t> tags;
    for (std::uint64_t i = 0; i < count; ++i)
        tags.push_back(must(c.send(p9proto::Tread{20, (i * chunk) % (256 * 1024), chunk})));
    return tags;
}

}  // namespace xen9p::test
