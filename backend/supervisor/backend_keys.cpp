#include "backend/supervisor/backend_keys.hpp"

#include <string_view>
#include <utility>

#include "backend/supervisor/export_path.hpp"
#include "backend/supervisor/worker_uid.hpp"
#include "base/parse_number.hpp"
#include "xenring/toolstack/nine_pfs_device.hpp"

namespace xen9p::supervisor {
namespace {

std::string key(const std::string& dir, std::string_view name) {
    return dir + "/" + std::string(name);
}

// The keys every device has: where its export is and how its files are
// stored. libxl writes frontend and frontend-id for this very device;
// anything else is not a device we understand.
struct RequiredKeys {
    std::string path;
    std::optional<std::string> security_model;
};

std::expected<RequiredKeys, std::string> read_required_keys(xenstore::Xenstore& xs,
                                                            const worker_channel::DeviceId& id,
                                                            const std::string& backend_path,
                                                            const std::string& frontend_path) {
    auto frontend = xs.try_read(key(backend_path, "frontend"));
    auto frontend_id = xs.try_read(key(backend_path, "frontend-id"));
    auto path = xs.try_read(key(backend_path, "path"));
    auto model = xs.try_read(key(backend_path, "security_model"));
    if (!frontend || !frontend_id || !path || !model)
        return std::unexpected("cannot read backend keys");
    if (*frontend != frontend_path)
        return std::unexpected("frontend key does not match the device");
    if (*frontend_id != std::to_string(id.domid))
        return std::unexpected("frontend-id does not match the device");
    if (!*path) return std::unexpected("no path");
    return RequiredKeys{std::move(**path), std::move(*model)};
}

// The daemon's default limits overridden by the xen_9pfsd keys and
// xen9pd's max-memory, where present; the first malformed one ends the read.
std::expected<worker_channel::ExportLimits, std::string> read_limits(
    xenstore::Xenstore& xs, const std::string& backend_path,
    const worker_channel::ExportLimits& defaults) {
    worker_channel::ExportLimits limits = defaults;
    auto limit = [&](std::string_view name, std::uint32_t& out) {
        auto value = xs.try_read(key(backend_path, name));
        if (!value || !*value) return true;
        auto parsed = parse_decimal(**value, 0xffffffff);
        if (!parsed) return false;
        // 0 means "backend default" (max-open-files) or "unlimited" (the others).
        if (*parsed != 0) out = static_cast<std::uint32_t>(*parsed);
        return true;
    };
    if (!limit("max-files", limits.max_files) || !limit("max-open-files", limits.max_open_files) ||
        !limit("max-space", limits.max_space_mib) ||
        !limit(toolstack::kMaxMemoryKey, limits.max_memory_mib) ||
        limits.max_memory_mib > worker_channel::ExportLimits::kMaxMaxMemoryMib)
        return std::unexpected("malformed limit");
    if (auto auto_delete = xs.try_read(key(backend_path, "auto-delete"));
        auto_delete && *auto_delete)
        limits.auto_delete = **auto_delete == "1";
    return limits;
}

// The uid of the guest's worker: the default for its domain, or the one
// xen9pd's own key fixes if the configuration allows it.
std::expected<uid_t, std::string> read_worker_uid(xenstore::Xenstore& xs,
                                                  const std::string& backend_path,
                                                  const SupervisorConfig& config, DomId domid) {
    auto fixed = xs.try_read(key(backend_path, toolstack::kWorkerUidKey));
    if (!fixed || !*fixed) return default_worker_uid(config.uid_range_base, domid);
    auto uid = parse_decimal(**fixed, 0xffffffff);
    if (!uid) return std::unexpected("malformed " + std::string(toolstack::kWorkerUidKey));
    if (auto error = fixed_worker_uid_error(*uid, config.uid_range_base))
        return std::unexpected(std::move(*error));
    return static_cast<uid_t>(*uid);
}

}  // namespace

std::expected<worker_channel::WorkerParams, std::string> read_backend_keys(
    xenstore::Xenstore& xs, const worker_channel::DeviceId& id, const std::string& backend_path,
    const std::string& frontend_path, const SupervisorConfig& config) {
    auto required = read_required_keys(xs, id, backend_path, frontend_path);
    if (!required) return std::unexpected(std::move(required.error()));
    auto export_dir = resolve_export(required->path, config.allowed_roots);
    if (!export_dir) return std::unexpected("path " + required->path + ": " + export_dir.error());

    worker_channel::WorkerParams params;
    params.device = id;
    params.export_path = *export_dir;
    params.security_model = required->security_model.value_or("none");
    if (!toolstack::is_security_model(params.security_model))
        return std::unexpected("unsupported security_model " + params.security_model);
    if (auto tag = xs.try_read(key(frontend_path, "tag")); tag && *tag) params.tag = **tag;
    auto limits = read_limits(xs, backend_path, config.default_limits);
    if (!limits) return std::unexpected(std::move(limits.error()));
    params.limits = *limits;
    params.max_ring_order = config.max_ring_order;
    auto uid = read_worker_uid(xs, backend_path, config, id.domid);
    if (!uid) return std::unexpected(std::move(uid.error()));
    params.uid = *uid;
    params.gid = config.gid;
    params.platform = config.platform;
    params.poll_window_us = config.poll_window_us;
    return params;
}

}  // namespace xen9p::supervisor
