// A simulated xenstored with guests created as libxl creates them, a fake
// backend that answers Closing with Closed, and helpers to read back a
// device's directories.
#pragma once

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "sim/toolstack.hpp"
#include "tests/sim_xenstored/fixture.hpp"

namespace xen9p::test {

struct Key {
    std::string name;
    std::string value;
};

// Exactly these keys in `dir`, in order, with these values; the directory
// and each key carry `perms`.
inline void expect_dir(Xenstore& xs, const std::string& dir, const std::vector<Key>& keys,
                       const std::vector<XsPermission>& perms) {
    BOOST_TEST_CONTEXT(dir) {
        BOOST_TEST((xs.permissions(dir).value() == perms));
        std::vector<std::string> names;
        for (const auto& key : keys) {
            names.push_back(key.name);
            BOOST_TEST_CONTEXT(key.name) {
                BOOST_TEST(xs.read(dir + "/" + key.name).value() == key.value);
                BOOST_TEST((xs.permissions(dir + "/" + key.name).value() == perms));
            }
        }
        BOOST_TEST(xs.directory(dir).value() == names, boost::test_tools::per_element());
    }
}

// Guests 5 ("alpha") and 6 ("beta"), created through libxl's layout.
struct GuestsFixture : XenstoreFixture {
    GuestsFixture() {
        sim::Toolstack tools(xs, dom0());
        BOOST_REQUIRE(tools.create_domain(5, "alpha").has_value());
        BOOST_REQUIRE(tools.create_domain(6, "beta").has_value());
    }
    Xenstore xs = dom0();
};

// A backend on its own connection that, like xen9pd's supervisor, answers a
// toolstack's Closing (state 5) on `backend_dir` with Closed (state 6), and
// records the `online` value it saw then.
class ClosingBackend {
  public:
    ClosingBackend(XenstoreFixture& fixture, std::string backend_dir)
        : xs_(fixture.dom0()), dir_(std::move(backend_dir)) {
        BOOST_REQUIRE(xs_.watch(dir_ + "/state", "be").has_value());
        (void)wait_event(xs_);  // the watch's first event
        thread_ = std::thread([this] { serve(); });
    }
    ClosingBackend(const ClosingBackend&) = delete;
    ClosingBackend& operator=(const ClosingBackend&) = delete;
    ~ClosingBackend() { join(); }

    // Waits for the backend thread (it ends once it answered, or gives up
    // after wait_event's bound).
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    std::string online_seen() const { return online_seen_; }
    bool answered() const { return answered_; }

  private:
    void serve() {
        while (wait_event(xs_)) {
            auto state = xs_.read(dir_ + "/state");
            if (state && *state == "5") {
                online_seen_ = xs_.read(dir_ + "/online").value_or("?");
                answered_ = xs_.write(dir_ + "/state", "6").has_value();
                return;
            }
        }
    }
    Xenstore xs_;
    std::string dir_;
    std::string online_seen_;
    std::atomic<bool> answered_ = false;
    std::thread thread_;
};

// A directory tree for exports: `root` (the allowed root) with `root/share`,
// and `outside` next to it; and a config file allowing `root`.
struct ExportDirs {
    ExportDirs() {
        char pattern[] = "/tmp/toolstack-export-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(pattern) != nullptr);
        base = pattern;
        root = base + "/root";
        outside = base + "/outside";
        config = base + "/xen9pd.conf";
        std::filesystem::create_directories(root + "/share");
        std::filesystem::create_directories(root + "/other");
        std::filesystem::create_directories(outside);
        std::ofstream(config) << "allowed-root = " << root << "\n";
    }
    ~ExportDirs() {
        std::error_code ignored;
        std::filesystem::remove_all(base, ignored);
    }
    std::string base;
    std::string root;
    std::string outside;
    std::string config;
};

}  // namespace xen9p::test
