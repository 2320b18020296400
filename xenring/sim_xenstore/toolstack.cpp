#include "xenring/sim_xenstore/toolstack.hpp"

#include <poll.h>

#include <charconv>
#include <cstdio>
#include <utility>

namespace xen9p::sim {
namespace {

using platform::DomId;
using platform::Xenstore;
using platform::XsPermission;
using Tx = Xenstore::Transaction;

constexpr const char* kClosing = "5";
constexpr const char* kClosed = "6";

std::string home(DomId domid) {
    return "/local/domain/" + std::to_string(domid);
}

std::string libxl_device_path(DomId domid, unsigned devid) {
    return "/libxl/" + std::to_string(domid) + "/device/9pfs/" + std::to_string(devid);
}

// A stand-in for the domain's UUID, stable per domid.
std::string fake_uuid(DomId domid) {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012x", static_cast<unsigned>(domid));
    return buf;
}

// libxl__xs_mknod: an empty node with the given permissions.
Status mknod(Xenstore& xs, Tx t, const std::string& path, const std::vector<XsPermission>& perms) {
    if (auto done = xs.mkdir(path, t); !done) return done;
    return xs.set_permissions(path, perms, t);
}

Status remove_if_present(Xenstore& xs, Tx t, const std::string& path) {
    auto done = xs.remove(path, t);
    if (!done && done.error().value != ENOENT) return done;
    return {};
}

}  // namespace

std::string p9_backend_path(const P9Device& device) {
    const char* kind = device.kind == P9Kind::kQemu ? "9pfs" : "xen_9pfs";
    return home(device.backend_domid) + "/backend/" + kind + "/" + std::to_string(device.domid) +
           "/" + std::to_string(device.devid);
}

std::string p9_frontend_path(DomId domid, unsigned devid) {
    return home(domid) + "/device/9pfs/" + std::to_string(devid);
}

Status Toolstack::create_domain(DomId domid, const std::string& name) {
    const std::string dom = home(domid);
    const std::string vm = "/vm/" + fake_uuid(domid);
    const std::string libxl = "/libxl/" + std::to_string(domid);
    const std::vector<XsPermission> noperm{{0, 'n'}};
    const std::vector<XsPermission> roperm{{0, 'n'}, {domid, 'r'}};
    const std::vector<XsPermission> rwperm{{domid, 'n'}};
    auto made = platform::in_transaction(xs_, [&](Tx t) -> Status {
        for (const auto& [path, perms] :
             std::vector<std::pair<std::string, std::vector<XsPermission>>>{
                 {dom, roperm}, {vm, roperm}, {libxl, noperm}, {libxl + "/device", noperm}}) {
            if (auto done = remove_if_present(xs_, t, path); !done) return done;
            if (auto done = mknod(xs_, t, path, perms); !done) return done;
        }
        for (const auto& [path, value] : std::vector<std::pair<std::string, std::string>>{
                 {dom + "/vm", vm},
                 {dom + "/name", name},
                 {dom + "/domid", std::to_string(domid)},
                 {vm + "/uuid", fake_uuid(domid)},
                 {vm + "/name", name}})
            if (auto done = xs_.write(path, value, t); !done) return done;
        for (const auto& [path, perms] :
             std::vector<std::pair<std::string, std::vector<XsPermission>>>{
                 {dom + "/control", roperm},
                 {dom + "/control/shutdown", rwperm},
                 {dom + "/device", roperm},
                 {dom + "/data", rwperm},
                 {dom + "/drivers", rwperm},
                 {dom + "/feature", rwperm},
                 {dom + "/attr", rwperm},
                 {dom + "/error", rwperm}})
            if (auto done = mknod(xs_, t, path, perms); !done) return done;
        return {};
    });
    if (!made) return made;
    // libxl__build_post: the store ring's frame and port, then the introduction.
    constexpr std::uint64_t kStoreMfn = 0xfefff;
    constexpr std::uint32_t kStorePort = 1;
    if (auto done = xs_.write(dom + "/store/ring-ref", std::to_string(kStoreMfn)); !done)
        return done;
    if (auto done = xs_.write(dom + "/store/port", std::to_string(kStorePort)); !done) return done;
    return xs_.introduce_domain(domid, kStoreMfn, kStorePort);
}

Status Toolstack::add_9pfs(const P9Device& device) {
    const std::string backend = p9_backend_path(device);
    const std::string frontend = p9_frontend_path(device.domid, device.devid);
    const std::string libxl = libxl_device_path(device.domid, device.devid);
    const std::vector<XsPermission> frontend_perms{{device.domid, 'n'},
                                                   {device.backend_domid, 'r'}};
    const std::vector<XsPermission> backend_perms{{device.backend_domid, 'n'}, {device.domid, 'r'}};

    std::vector<std::pair<std::string, std::string>> back{
        {"frontend-id", std::to_string(device.domid)},
        {"online", "1"},
        {"state", "1"},
        {"path", device.path},
        {"security_model", device.security_model}};
    if (device.kind == P9Kind::kXen9pfsd) {
        back.emplace_back("max-space", std::to_string(device.max_space));
        back.emplace_back("max-files", std::to_string(device.max_files));
        back.emplace_back("max-open-files", std::to_string(device.max_open_files));
        back.emplace_back("auto-delete", device.auto_delete ? "1" : "0");
    }
    const std::vector<std::pair<std::string, std::string>> front{
        {"backend-id", std::to_string(device.backend_domid)}, {"state", "1"}, {"tag", device.tag}};

    return platform::in_transaction(xs_, [&](Tx t) -> Status {
        if (auto done = remove_if_present(xs_, t, frontend); !done) return done;
        if (auto done = remove_if_present(xs_, t, backend); !done) return done;
        if (auto done = mknod(xs_, t, frontend, frontend_perms); !done) return done;
        if (auto done = xs_.write(frontend + "/backend", backend, t); !done) return done;
        for (const auto& [key, value] : front)
            if (auto done = xs_.write(frontend + "/" + key, value, t); !done) return done;
        if (auto done = mknod(xs_, t, backend, backend_perms); !done) return done;
        if (auto done = xs_.write(backend + "/frontend", frontend, t); !done) return done;
        for (const auto& [key, value] : back)
            if (auto done = xs_.write(backend + "/" + key, value, t); !done) return done;
        if (auto done = xs_.write(libxl + "/frontend", frontend, t); !done) return done;
        return xs_.write(libxl + "/backend", backend, t);
    });
}

Status Toolstack::wait_for_state(const std::string& state_path, const std::string& wanted,
                                 std::chrono::milliseconds timeout) {
    const std::string token = "toolstack-wait";
    if (auto done = waiter_.watch(state_path, token); !done) return done;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Status result = fail(ETIMEDOUT);
    for (;;) {
        auto state = waiter_.try_read(state_path);
        if (!state) {
            result = std::unexpected(state.error());
            break;
        }
        // A backend directory that vanished has nothing left to close.
        if (!*state || **state == wanted) {
            result = {};
            break;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd pfd{waiter_.watch_fd(), POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
            result = fail_errno();
            break;
        }
        while (waiter_.next_watch_event()) {
        }
    }
    (void)waiter_.unwatch(state_path, token);
    return result;
}

// libxl__xs_path_cleanup: remove the node, then every parent left empty.
Status Toolstack::path_cleanup(const std::string& path, Tx t) {
    if (auto done = remove_if_present(xs_, t, path); !done) return done;
    std::string current = path;
    for (auto slash = current.rfind('/'); slash != std::string::npos && slash > 0;
         slash = current.rfind('/')) {
        current.resize(slash);
        auto children = xs_.directory(current, t);
        if (!children || !children->empty()) break;
        if (auto done = remove_if_present(xs_, t, current); !done) return done;
    }
    return {};
}

Status Toolstack::remove_9pfs(DomId domid, unsigned devid, std::chrono::milliseconds timeout) {
    const std::string libxl = libxl_device_path(domid, devid);
    auto backend = xs_.try_read(libxl + "/backend");
    if (!backend) return std::unexpected(backend.error());
    if (!*backend) return fail(ENOENT);
    const std::string frontend = p9_frontend_path(domid, devid);
    const std::string state_path = **backend + "/state";

    bool present = false;
    auto closing = platform::in_transaction(xs_, [&](Tx t) -> Status {
        auto state = xs_.try_read(state_path, t);
        if (!state) return std::unexpected(state.error());
        present = state->has_value();
        if (!present) return {};
        if (auto done = xs_.write(**backend + "/online", "0", t); !done) return done;
        return xs_.write(state_path, kClosing, t);
    });
    if (!closing) return closing;
    const Status waited = present ? wait_for_state(state_path, kClosed, timeout) : Status{};
    if (!waited && waited.error().value != ETIMEDOUT) return waited;

    auto removed = platform::in_transaction(xs_, [&](Tx t) -> Status {
        if (auto done = path_cleanup(frontend, t); !done) return done;
        if (auto done = path_cleanup(**backend, t); !done) return done;
        return path_cleanup(libxl, t);
    });
    if (!removed) return removed;
    return waited;
}

Result<std::vector<unsigned>> Toolstack::list_9pfs(DomId domid) {
    auto entries = xs_.directory("/libxl/" + std::to_string(domid) + "/device/9pfs");
    if (!entries) {
        if (entries.error().value == ENOENT) return std::vector<unsigned>{};
        return std::unexpected(entries.error());
    }
    std::vector<unsigned> devids;
    for (const auto& entry : *entries)
        devids.push_back(static_cast<unsigned>(std::stoul(entry)));
    return devids;
}

Status Toolstack::destroy_domain(DomId domid, std::chrono::milliseconds device_timeout) {
    auto devids = list_9pfs(domid);
    if (!devids) return std::unexpected(devids.error());
    for (const unsigned devid : *devids) {
        auto removed = remove_9pfs(domid, devid, device_timeout);
        if (!removed && removed.error().value != ETIMEDOUT) return removed;
    }
    auto vm = xs_.try_read(home(domid) + "/vm");
    if (!vm) return std::unexpected(vm.error());
    for (const auto& path : {home(domid), vm->value_or(""), "/libxl/" + std::to_string(domid)}) {
        if (path.empty()) continue;
        auto done = xs_.remove(path);
        if (!done && done.error().value != ENOENT) return done;
    }
    return xs_.release_domain(domid);
}

}  // namespace xen9p::sim
