#include "xenring/toolstack/device_nodes.hpp"

#include <poll.h>

#include <algorithm>
#include <set>
#include <utility>

#include "base/parse_number.hpp"
#include "xenring/xenstore/xenbus_state.hpp"

namespace xen9p::toolstack {
namespace {

using xenstore::XenbusState;
using xenstore::Xenstore;
using xenstore::XsPermission;
using Tx = Xenstore::Transaction;

// Far beyond what any guest has; only bounds the search for a free devid.
constexpr unsigned kMaxDevid = 0xffff;

std::string state_text(XenbusState state) {
    return std::to_string(static_cast<int>(state));
}

std::optional<unsigned> devid_of(std::string_view name) {
    const auto value = parse_decimal(name, kMaxDevid);
    if (!value) return std::nullopt;
    return static_cast<unsigned>(*value);
}

// The entries of `path`, none if it does not exist.
Result<std::vector<std::string>> entries(Xenstore& xs, const std::string& path, Tx t) {
    auto names = xs.directory(path, t);
    if (!names && names.error().value == ENOENT) return std::vector<std::string>{};
    return names;
}

Result<bool> exists(Xenstore& xs, const std::string& path, Tx t) {
    auto value = xs.try_read(path, t);
    if (!value) return std::unexpected(value.error());
    return value->has_value();
}

AddFailure xenstore_failure(Errno error) {
    return AddFailure{AddFailure::Reason::kXenstore, error, 0};
}

}  // namespace

std::optional<std::string> DeviceNodes::locate_backend(DomId domid, unsigned devid, Tx t) {
    // libxl's copy first: the guest cannot write it.
    if (auto copy = xs_.try_read(libxl_path(domid, devid) + "/backend", t); copy && *copy) {
        if (parse_backend_path(**copy, domid, devid)) return **copy;
    }
    // Nodes written without libxl (by hand, as for Xen 4.17 before this
    // tool): the frontend's key, which the guest owns, so it counts only if
    // that backend directory names this frontend back.
    auto named = xs_.try_read(frontend_path(domid, devid) + "/backend", t);
    if (!named || !*named || !parse_backend_path(**named, domid, devid)) return std::nullopt;
    auto back = xs_.try_read(**named + "/frontend", t);
    if (!back || !*back || **back != frontend_path(domid, devid)) return std::nullopt;
    return **named;
}

Result<std::vector<ExistingDevice>> DeviceNodes::list(DomId domid, Tx t) {
    std::set<unsigned> devids;
    for (const auto& root : {domain_home(domid) + "/device/9pfs",
                             "/libxl/" + std::to_string(domid) + "/device/9pfs"}) {
        auto names = entries(xs_, root, t);
        if (!names) return std::unexpected(names.error());
        for (const auto& name : *names)
            if (auto devid = devid_of(name)) devids.insert(*devid);
    }
    std::vector<ExistingDevice> devices;
    for (const unsigned devid : devids) {
        ExistingDevice device;
        device.devid = devid;
        auto tag = xs_.try_read(frontend_path(domid, devid) + "/tag", t);
        if (!tag) return std::unexpected(tag.error());
        device.tag = tag->value_or("");
        device.backend = locate_backend(domid, devid, t);
        if (device.backend) device.kind = parse_backend_path(*device.backend, domid, devid)->kind;
        devices.push_back(std::move(device));
    }
    return devices;
}

// Taken by a listed device, or by a backend directory left without frontend.
Result<bool> DeviceNodes::devid_in_use(const NinePfsDevice& device,
                                       const std::vector<ExistingDevice>& have, Tx t) {
    if (std::ranges::any_of(have, [&](const auto& d) { return d.devid == device.devid; }))
        return true;
    for (const BackendKind kind : {BackendKind::k9pfs, BackendKind::kXen9pfs}) {
        auto found =
            exists(xs_, backend_path(device.backend_domid, kind, device.domid, device.devid), t);
        if (!found || *found) return found;
    }
    return false;
}

Status DeviceNodes::write_nodes(const NinePfsDevice& device, Tx t) {
    const std::string backend = backend_path(device);
    const std::string frontend = frontend_path(device.domid, device.devid);
    const std::string libxl = libxl_path(device.domid, device.devid);
    const std::vector<XsPermission> frontend_perms{{device.domid, 'n'},
                                                   {device.backend_domid, 'r'}};
    const std::vector<XsPermission> backend_perms{{device.backend_domid, 'n'}, {device.domid, 'r'}};
    const std::string initialising = state_text(XenbusState::kInitialising);

    std::vector<std::pair<std::string, std::string>> back{
        {"frontend-id", std::to_string(device.domid)},
        {"online", "1"},
        {"state", initialising},
        {"path", device.path},
        {"security_model", device.security_model}};
    if (device.kind == BackendKind::kXen9pfs) {
        back.emplace_back("max-space", std::to_string(device.max_space));
        back.emplace_back("max-files", std::to_string(device.max_files));
        back.emplace_back("max-open-files", std::to_string(device.max_open_files));
        back.emplace_back("auto-delete", device.auto_delete ? "1" : "0");
    }
    if (device.worker_uid)
        back.emplace_back(std::string(kWorkerUidKey), std::to_string(*device.worker_uid));
    if (device.max_memory_mib)
        back.emplace_back(std::string(kMaxMemoryKey), std::to_string(*device.max_memory_mib));
    const std::vector<std::pair<std::string, std::string>> front{
        {"backend-id", std::to_string(device.backend_domid)},
        {"state", initialising},
        {"tag", device.tag}};

    // libxl__device_generic_add: frontend first, then backend, then the copy;
    // keys inherit their directory's permissions.
    if (auto done = remove_if_present(xs_, t, frontend); !done) return done;
    if (auto done = mknod(xs_, t, frontend, frontend_perms); !done) return done;
    if (auto done = xs_.write(frontend + "/backend", backend, t); !done) return done;
    for (const auto& [key, value] : front)
        if (auto done = xs_.write(frontend + "/" + key, value, t); !done) return done;
    if (auto done = remove_if_present(xs_, t, backend); !done) return done;
    if (auto done = mknod(xs_, t, backend, backend_perms); !done) return done;
    if (auto done = xs_.write(backend + "/frontend", frontend, t); !done) return done;
    for (const auto& [key, value] : back)
        if (auto done = xs_.write(backend + "/" + key, value, t); !done) return done;
    if (auto done = xs_.write(libxl + "/frontend", frontend, t); !done) return done;
    return xs_.write(libxl + "/backend", backend, t);
}

std::expected<unsigned, AddFailure> DeviceNodes::add(NinePfsDevice device, DevidChoice choice) {
    std::optional<AddFailure> refused;
    auto done = xenstore::in_transaction(xs_, [&](Tx t) -> Status {
        refused.reset();
        auto have = list(device.domid, t);
        if (!have) return std::unexpected(have.error());
        for (const auto& other : *have) {
            if (other.tag == device.tag) {
                refused = AddFailure{AddFailure::Reason::kTagInUse, Errno{EEXIST}, other.devid};
                return fail(EEXIST);
            }
        }
        if (choice == DevidChoice::kLowestFree) device.devid = 0;
        for (;;) {
            auto used = devid_in_use(device, *have, t);
            if (!used) return std::unexpected(used.error());
            if (!*used) break;
            if (choice == DevidChoice::kAsGiven) {
                refused = AddFailure{AddFailure::Reason::kDevidTaken, Errno{EEXIST}, device.devid};
                return fail(EEXIST);
            }
            if (device.devid == kMaxDevid) {
                refused = AddFailure{AddFailure::Reason::kNoFreeDevid, Errno{ENOSPC}, 0};
                return fail(ENOSPC);
            }
            ++device.devid;
        }
        return write_nodes(device, t);
    });
    if (refused) return std::unexpected(*refused);
    if (!done) return std::unexpected(xenstore_failure(done.error()));
    return device.devid;
}

Status DeviceNodes::wait_for_closed(const std::string& state_path,
                                    std::chrono::milliseconds timeout) {
    const std::string token = "xen9p-toolstack-close";
    const std::string closed = state_text(XenbusState::kClosed);
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
        if (!*state || **state == closed) {
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
Status DeviceNodes::path_cleanup(const std::string& path, Tx t) {
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

Status DeviceNodes::remove(DomId domid, unsigned devid, std::chrono::milliseconds timeout,
                           OnTimeout on_timeout) {
    const std::string frontend = frontend_path(domid, devid);
    const std::string libxl = libxl_path(domid, devid);
    std::optional<std::string> backend;
    bool wait = false;
    auto closing = xenstore::in_transaction(xs_, [&](Tx t) -> Status {
        backend = locate_backend(domid, devid, t);
        wait = false;
        if (!backend) {
            auto front = exists(xs_, frontend, t);
            if (!front) return std::unexpected(front.error());
            auto copy = exists(xs_, libxl, t);
            if (!copy) return std::unexpected(copy.error());
            return *front || *copy ? Status{} : fail(ENOENT);
        }
        auto state = xs_.try_read(*backend + "/state", t);
        if (!state) return std::unexpected(state.error());
        if (!*state || **state == state_text(XenbusState::kClosed)) return {};
        wait = true;
        if (auto done = xs_.write(*backend + "/online", "0", t); !done) return done;
        return xs_.write(*backend + "/state", state_text(XenbusState::kClosing), t);
    });
    if (!closing) return closing;
    const Status waited = wait ? wait_for_closed(*backend + "/state", timeout) : Status{};
    if (!waited && waited.error().value != ETIMEDOUT) return waited;
    if (!waited && on_timeout == OnTimeout::kKeepNodes) return waited;

    auto removed = xenstore::in_transaction(xs_, [&](Tx t) -> Status {
        if (auto done = path_cleanup(frontend, t); !done) return done;
        if (backend)
            if (auto done = path_cleanup(*backend, t); !done) return done;
        return path_cleanup(libxl, t);
    });
    if (!removed) return removed;
    return waited;
}

}  // namespace xen9p::toolstack
