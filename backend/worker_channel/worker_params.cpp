#include "backend/worker_channel/worker_params.hpp"

#include <limits>
#include <map>

#include "base/parse_number.hpp"

namespace xen9p::worker_channel {
namespace {

constexpr std::uint64_t kU32Max = std::numeric_limits<std::uint32_t>::max();

}  // namespace

std::string serialize(const WorkerParams& p) {
    std::string out;
    auto line = [&out](std::string_view key, const std::string& value) {
        out.append(key).append("=").append(value).append("\n");
    };
    line("kind", p.device.kind);
    line("domid", std::to_string(p.device.domid));
    line("devid", std::to_string(p.device.devid));
    line("tag", p.tag);
    line("path", p.export_path.string());
    line("security_model", p.security_model);
    line("read_only", p.read_only ? "1" : "0");
    line("max_files", std::to_string(p.limits.max_files));
    line("max_open_files", std::to_string(p.limits.max_open_files));
    line("max_space_mib", std::to_string(p.limits.max_space_mib));
    line("auto_delete", p.limits.auto_delete ? "1" : "0");
    line("max_memory_mib", std::to_string(p.limits.max_memory_mib));
    line("max_ring_order", std::to_string(p.max_ring_order));
    line("num_rings", std::to_string(p.rings.size()));
    for (std::size_t i = 0; i < p.rings.size(); ++i) {
        line("ring_ref" + std::to_string(i), std::to_string(p.rings[i].ring_ref));
        line("event_channel" + std::to_string(i), std::to_string(p.rings[i].event_channel));
    }
    line("uid", std::to_string(p.uid));
    line("gid", std::to_string(p.gid));
    line("platform", p.platform);
    line("poll_window_us", std::to_string(p.poll_window_us));
    return out;
}

Result<WorkerParams> parse_worker_params(std::string_view text) {
    std::map<std::string, std::string, std::less<>> kv;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) return fail(EINVAL);
        const auto line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) return fail(EINVAL);
        if (!kv.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1))).second)
            return fail(EINVAL);
    }
    auto take = [&kv](std::string_view key) -> std::optional<std::string> {
        auto it = kv.find(key);
        if (it == kv.end()) return std::nullopt;
        auto value = std::move(it->second);
        kv.erase(it);
        return value;
    };
    auto number = [&take](std::string_view key, std::uint64_t max) -> std::optional<std::uint64_t> {
        auto value = take(key);
        return value ? parse_decimal(*value, max) : std::nullopt;
    };
    auto flag = [&take](std::string_view key) -> std::optional<bool> {
        auto value = take(key);
        if (value == "1") return true;
        if (value == "0") return false;
        return std::nullopt;
    };

    WorkerParams p;
    auto kind = take("kind");
    auto domid = number("domid", 0x7fef);
    auto devid = number("devid", kU32Max);
    auto tag = take("tag");
    auto path = take("path");
    auto model = take("security_model");
    auto read_only = flag("read_only");
    auto max_files = number("max_files", kU32Max);
    auto max_open = number("max_open_files", kU32Max);
    auto max_space = number("max_space_mib", kU32Max);
    auto auto_delete = flag("auto_delete");
    auto max_memory = number("max_memory_mib", ExportLimits::kMaxMaxMemoryMib);
    auto order = number("max_ring_order", 9);
    auto num_rings = number("num_rings", 64);
    auto uid = number("uid", kU32Max);
    auto gid = number("gid", kU32Max);
    auto platform = take("platform");
    if (!kind || !domid || !devid || !tag || !path || !model || !read_only || !max_files ||
        !max_open || !max_space || !auto_delete || !max_memory ||
        *max_memory < ExportLimits::kMinMaxMemoryMib || !order || !num_rings || !uid || !gid ||
        !platform)
        return fail(EINVAL);
    p.device =
        DeviceId{*kind, static_cast<std::uint16_t>(*domid), static_cast<std::uint32_t>(*devid)};
    p.tag = *tag;
    p.export_path = *path;
    p.security_model = *model;
    p.read_only = *read_only;
    p.limits =
        ExportLimits{static_cast<std::uint32_t>(*max_files), static_cast<std::uint32_t>(*max_open),
                     static_cast<std::uint32_t>(*max_space), *auto_delete,
                     static_cast<std::uint32_t>(*max_memory)};
    p.max_ring_order = static_cast<std::uint32_t>(*order);
    for (std::uint64_t i = 0; i < *num_rings; ++i) {
        auto ref = number("ring_ref" + std::to_string(i), kU32Max);
        auto port = number("event_channel" + std::to_string(i), kU32Max);
        if (!ref || !port) return fail(EINVAL);
        p.rings.push_back({static_cast<std::uint32_t>(*ref), static_cast<std::uint32_t>(*port)});
    }
    p.uid = static_cast<uid_t>(*uid);
    p.gid = static_cast<gid_t>(*gid);
    p.platform = *platform;
    // Optional: a handover from a daemon that predates it has none.
    if (kv.contains("poll_window_us")) {
        auto window = number("poll_window_us", WorkerParams::kMaxPollWindowUs);
        if (!window) return fail(EINVAL);
        p.poll_window_us = static_cast<std::uint32_t>(*window);
    }
    if (!kv.empty()) return fail(EINVAL);  // unknown keys
    return p;
}

}  // namespace xen9p::worker_channel
