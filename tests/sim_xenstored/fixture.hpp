// A simulated xenstored on its own thread in a fresh directory, with helpers
// to connect the real libxenstore as dom0 or as a guest.
#pragma once

#include <poll.h>
#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sim/xenstored.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::test {

using xenstore::Xenstore;
using xenstore::XsPermission;

struct XenstoreFixture {
    explicit XenstoreFixture(sim::XenstoredLimits limits = {}) {
        char pattern[] = "/tmp/xs-test-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(pattern) != nullptr);
        dir = pattern;
        auto started = sim::XenstoredThread::start(dir, limits, [this](sim::Xenstored& s) {
            s.on_introduce([this](DomId d) {
                std::lock_guard lock(hooks_mutex);
                introduced.push_back(d);
            });
            s.on_release([this](DomId d) {
                std::lock_guard lock(hooks_mutex);
                released.push_back(d);
            });
        });
        BOOST_REQUIRE(started.has_value());
        server = std::move(*started);
    }
    ~XenstoreFixture() {
        server.reset();
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }

    Xenstore dom0() {
        auto xs = Xenstore::open_socket(dir + "/xenstored.sock");
        BOOST_REQUIRE(xs.has_value());
        return std::move(*xs);
    }

    // Introduces `domid` (through dom0) if needed and connects as it.
    Xenstore guest(DomId domid) {
        auto admin = dom0();
        auto known = admin.domain_introduced(domid);
        BOOST_REQUIRE(known.has_value());
        if (!*known) BOOST_REQUIRE(admin.introduce_domain(domid, 1, 1).has_value());
        auto xs = Xenstore::open_socket(server->server().domain_socket_path(domid));
        BOOST_REQUIRE(xs.has_value());
        return std::move(*xs);
    }

    std::vector<DomId> introduced_copy() {
        std::lock_guard lock(hooks_mutex);
        return introduced;
    }
    std::vector<DomId> released_copy() {
        std::lock_guard lock(hooks_mutex);
        return released;
    }

    std::string dir;
    std::unique_ptr<sim::XenstoredThread> server;
    std::mutex hooks_mutex;
    std::vector<DomId> introduced;
    std::vector<DomId> released;
};

// The next watch event, waiting at most a few seconds (a bound, not a timing check).
inline std::optional<xenstore::WatchEvent> wait_event(Xenstore& xs) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        if (auto event = xs.next_watch_event()) return event;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd pfd{xs.watch_fd(), POLLIN, 0};
        ::poll(&pfd, 1, static_cast<int>(left.count()));
    }
}

// Every event already sent to `xs`: a round trip first, since xenstored
// queues events for a connection before any later reply to it.
inline std::vector<xenstore::WatchEvent> drain_events(Xenstore& xs) {
    (void)xs.domain_path(0);
    std::vector<xenstore::WatchEvent> events;
    while (auto event = xs.next_watch_event())
        events.push_back(*event);
    return events;
}

inline int error_of(const Status& status) {
    return status ? 0 : status.error().value;
}

template <class T>
int error_of(const Result<T>& result) {
    return result ? 0 : result.error().value;
}

}  // namespace xen9p::test
