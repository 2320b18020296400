// The README's demo: the simulated Xen platform, a guest with a 9pfs device
// created through the toolstack as libxl does, xen9pd serving it from a
// sandboxed worker, and the guest connecting like Linux trans_xen to do real
// work on the share (a tree, files read back with checksums, rename, readdir,
// stat, a lock), checking every result. Prints the device's xenstore tree, the
// worker's credentials and sandbox, and `xen9pd status`.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "client/operations.hpp"
#include "client/owned_reply.hpp"
#include "p9proto/constants.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/simxen/sim_xen.hpp"

namespace fs = std::filesystem;
namespace simxen = xen9p::simxen;
namespace p9proto = xen9p::p9proto;
using namespace xen9p::client;
using xen9p::DomId;

namespace {

// Unwinds to main so that the simulated platform and xen9pd are stopped.
struct DemoFailure {
    std::string what;
};

[[noreturn]] void die(const std::string& what, const xen9p::Errno& e) {
    throw DemoFailure{what + ": " + e.message()};
}

template <class T>
T check(xen9p::Result<T> r, const std::string& what) {
    if (!r) die(what, r.error());
    return std::move(*r);
}

void check(const xen9p::Status& r, const std::string& what) {
    if (!r) die(what, r.error());
}

template <class R>
R call(Client& c, const p9proto::RequestBody& body, const std::string& what) {
    auto reply = check(c.call(body), what);
    return *check(expect<R>(reply), what);
}

std::uint32_t fnv1a(std::span<const std::byte> data) {
    std::uint32_t h = 2166136261u;
    for (auto b : data)
        h = (h ^ static_cast<std::uint32_t>(b)) * 16777619u;
    return h;
}

}  // namespace

// The guest's work on the share; returns the bytes written.
std::uint64_t guest_workload(Client& c) {
    check(attach(c, 0, "root", "", 0), "Tattach");
    std::cout << "guest: attached to the share as uid 0\n";

    // A small tree: src/lib with files of odd sizes, written and read back.
    call<p9proto::Rmkdir>(c, p9proto::Tmkdir{0, {"src"}, 0755, 0}, "mkdir src");
    std::string_view src[] = {"src"};
    check(walk(c, 0, 1, src), "walk src");
    call<p9proto::Rmkdir>(c, p9proto::Tmkdir{1, {"lib"}, 0755, 0}, "mkdir src/lib");
    std::uint32_t total = 0;
    for (int i = 0; i < 8; ++i) {
        const std::string name = "file" + std::to_string(i) + ".c";
        std::vector<std::byte> data(1000 + i * 37777);
        for (std::size_t j = 0; j < data.size(); ++j)
            data[j] = static_cast<std::byte>((j * 131 + i) & 0xff);
        check(walk(c, 1, 2, {}), "clone");
        call<p9proto::Rlcreate>(c, p9proto::Tlcreate{2, {name}, p9proto::dotl::kRdwr, 0644, 0},
                                "create");
        check(write_all(c, 2, 0, data), "write " + name);
        check(clunk(c, 2), "clunk");
        std::string_view path[] = {name};
        check(walk(c, 1, 3, path), "walk " + name);
        check(lopen(c, 3, p9proto::dotl::kRdonly), "open " + name);
        auto back = check(read_all(c, 3), "read " + name);
        check(clunk(c, 3), "clunk");
        if (fnv1a(back) != fnv1a(data) || back.size() != data.size())
            throw DemoFailure{name + " read back differs"};
        total += static_cast<std::uint32_t>(data.size());
        std::cout << "guest: wrote and read back src/" << name << " (" << data.size()
                  << " bytes, fnv1a " << std::hex << fnv1a(data) << std::dec << ")\n";
    }
    call<p9proto::Rrenameat>(c, p9proto::Trenameat{1, {"file0.c"}, 1, {"main.c"}}, "rename");
    std::cout << "guest: renamed src/file0.c to src/main.c\n";

    check(walk(c, 1, 4, {}), "clone");
    check(lopen(c, 4, p9proto::dotl::kRdonly | p9proto::dotl::kDirectory), "opendir");
    auto entries = check(readdir_all(c, 4), "readdir");
    std::cout << "guest: ls src:";
    for (const auto& e : entries)
        std::cout << " " << e.name;
    std::cout << "\n";
    check(clunk(c, 4), "clunk");

    std::string_view main_c[] = {"main.c"};
    check(walk(c, 1, 5, main_c), "walk main.c");
    auto attr = call<p9proto::Rgetattr>(c, p9proto::Tgetattr{5, p9proto::getattr::kAll}, "getattr");
    std::cout << "guest: stat src/main.c: size " << attr.size << " mode " << std::oct
              << (attr.mode & 07777) << std::dec << " nlink " << attr.nlink << "\n";
    check(lopen(c, 5, p9proto::dotl::kRdwr), "open main.c");
    auto lock = call<p9proto::Rlock>(
        c, p9proto::Tlock{5, p9proto::lock::kWriteLock, 0, 0, 0, 42, {"demo-guest"}}, "lock");
    std::cout << "guest: fcntl write lock on src/main.c: "
              << (lock.status == p9proto::lock::kStatusSuccess ? "granted" : "not granted") << "\n";
    check(clunk(c, 5), "clunk");
    return total;
}

int run_demo(simxen::SimXen* sim) {
    std::cout << "== simulated Xen (xenstored, grant table, event channels) in "
              << sim->dir().string() << "\n";
    constexpr DomId kGuest = 1;
    check(sim->toolstack().create_domain(kGuest, "guest1"), "create domain");
    const fs::path share = check(sim->make_export("share", kGuest), "make export");
    check(sim->start_daemon(), "start xen9pd");
    std::cout << "== xen9pd run --xen sim:" << sim->dir().string() << " --allowed-root "
              << share.parent_path().string() << " --uid-range-base " << simxen::kUidRangeBase
              << "\n";

    xen9p::sim::P9Device device;
    device.domid = kGuest;
    device.tag = "share";
    device.path = share.string();
    check(sim->toolstack().add_9pfs(device), "add 9pfs device");
    std::cout << "== toolstack: 9pfs device 0 of domain 1, tag share, path " << share.string()
              << "\n";

    auto frontend = check(sim->connect(kGuest), "guest connect");
    std::cout << "guest: connected like trans_xen: 2 rings of order " << frontend->ring_order()
              << "\n";
    std::cout << "== xenstore, backend:\n"
              << sim->tree(frontend->backend_path()) << "== xenstore, frontend:\n"
              << sim->tree(frontend->frontend_path());

    Client c(std::move(frontend));
    const auto msize = check(c.negotiate(512 * 1024), "Tversion");
    std::cout << "guest: Tversion 9P2000.L, msize " << msize << "\n";
    const std::uint64_t total = guest_workload(c);

    // Workers report their statistics once a second.
    std::string status;
    simxen::wait_until([&] {
        status = check(sim->daemon_status(), "xen9pd status");
        return status.find(" requests=0 ") == std::string::npos &&
               status.find(" requests=") != std::string::npos;
    });
    std::cout << "== xen9pd status\n" << status;
    const auto worker = simxen::worker_pid(status, kGuest);
    if (!worker) {
        std::cerr << "demo: no worker in xen9pd status\n";
        return 1;
    }
    std::cout << "== worker " << *worker << ", /proc/" << *worker << "/status:\n";
    for (const char* key : {"Uid", "Gid", "Groups", "CapEff", "NoNewPrivs", "Seccomp"})
        std::cout << "   " << key << ":\t" << simxen::proc_status_field(*worker, key) << "\n";
    std::error_code ec;
    std::cout << "   root: "
              << fs::read_symlink("/proc/" + std::to_string(*worker) + "/root", ec).string()
              << " (the export, pivoted to /)\n";

    std::cout << "== on the host, " << share.string() << "/src:\n";
    std::uint64_t host_total = 0;
    for (const auto& e : fs::directory_iterator(share / "src")) {
        struct stat st {};
        ::lstat(e.path().c_str(), &st);
        std::cout << "   " << e.path().filename().string() << " uid " << st.st_uid;
        if (e.is_regular_file()) {
            std::cout << " " << e.file_size() << " bytes";
            host_total += e.file_size();
        }
        std::cout << "\n";
    }
    if (host_total != total) {
        std::cerr << "demo: host sees " << host_total << " bytes, guest wrote " << total << "\n";
        return 1;
    }

    // The guest unmounts (its frontend closes), then the toolstack removes the device.
    { Client gone = std::move(c); }
    check(sim->toolstack().remove_9pfs(kGuest, 0), "remove 9pfs device");
    simxen::wait_until(
        [&] { return check(sim->daemon_status(), "xen9pd status") == "no devices\n"; });
    std::cout << "== device removed; xen9pd status:\n"
              << check(sim->daemon_status(), "xen9pd status");
    std::cout << "demo: OK (" << total
              << " bytes written by the guest over the Xen rings are on the host)\n";
    return 0;
}

int main() {
    auto sim = simxen::SimXen::start({XEN9P_SIM_BINARY, XEN9PD_BINARY});
    if (!sim) {
        std::cerr << "demo: start xen9p-sim: " << sim.error().message() << "\n";
        return 1;
    }
    try {
        return run_demo(sim->get());
    } catch (const DemoFailure& failure) {
        std::cerr << "demo: " << failure.what << "\n";
        // xen9pd's own account of what went wrong.
        std::ifstream log((*sim)->daemon_log());
        std::cerr << "== xen9pd log:\n" << log.rdbuf();
        return 1;
    }
}
