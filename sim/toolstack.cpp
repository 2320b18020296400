#include "sim/toolstack.hpp"

#include <cstdio>
#include <utility>

namespace xen9p::sim {
namespace {

using xenstore::Xenstore;
using xenstore::XsPermission;
using Tx = Xenstore::Transaction;

// A stand-in for the domain's UUID, stable per domid.
std::string fake_uuid(DomId domid) {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012x", static_cast<unsigned>(domid));
    return buf;
}

}  // namespace

Status Toolstack::create_domain(DomId domid, const std::string& name) {
    const std::string dom = toolstack::domain_home(domid);
    const std::string vm = "/vm/" + fake_uuid(domid);
    const std::string libxl = "/libxl/" + std::to_string(domid);
    const std::vector<XsPermission> noperm{{0, 'n'}};
    const std::vector<XsPermission> roperm{{0, 'n'}, {domid, 'r'}};
    const std::vector<XsPermission> rwperm{{domid, 'n'}};
    auto made = xenstore::in_transaction(xs_, [&](Tx t) -> Status {
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
    auto added = devices_.add(device, toolstack::DevidChoice::kAsGiven);
    if (!added) return std::unexpected(added.error().error);
    return {};
}

Status Toolstack::remove_9pfs(DomId domid, unsigned devid, std::chrono::milliseconds timeout) {
    return devices_.remove(domid, devid, timeout, toolstack::OnTimeout::kRemoveNodes);
}

Result<std::vector<unsigned>> Toolstack::list_9pfs(DomId domid) {
    auto devices = devices_.list(domid);
    if (!devices) return std::unexpected(devices.error());
    std::vector<unsigned> devids;
    for (const auto& device : *devices)
        devids.push_back(device.devid);
    return devids;
}

Status Toolstack::destroy_domain(DomId domid, std::chrono::milliseconds device_timeout) {
    auto devids = list_9pfs(domid);
    if (!devids) return std::unexpected(devids.error());
    for (const unsigned devid : *devids) {
        auto removed = remove_9pfs(domid, devid, device_timeout);
        if (!removed && removed.error().value != ETIMEDOUT) return removed;
    }
    auto vm = xs_.try_read(toolstack::domain_home(domid) + "/vm");
    if (!vm) return std::unexpected(vm.error());
    for (const auto& path :
         {toolstack::domain_home(domid), vm->value_or(""), "/libxl/" + std::to_string(domid)}) {
        if (path.empty()) continue;
        auto done = xs_.remove(path);
        if (!done && done.error().value != ENOENT) return done;
    }
    return xs_.release_domain(domid);
}

}  // namespace xen9p::sim
