#include "xenring/toolstack/nine_pfs_device.hpp"

#include <algorithm>

#include "base/parse_number.hpp"

namespace xen9p::toolstack {
namespace {

// Removes `prefix` from the front of `text`; false if it is not there.
bool consume(std::string_view& text, std::string_view prefix) {
    if (!text.starts_with(prefix)) return false;
    text.remove_prefix(prefix.size());
    return true;
}

}  // namespace

std::string_view kind_name(BackendKind kind) {
    return kind == BackendKind::k9pfs ? "9pfs" : "xen_9pfs";
}

std::optional<BackendKind> parse_kind(std::string_view name) {
    if (name == "9pfs") return BackendKind::k9pfs;
    if (name == "xen_9pfs") return BackendKind::kXen9pfs;
    return std::nullopt;
}

bool is_valid_tag(std::string_view tag) {
    return !tag.empty() && tag.size() <= kMaxTagLength &&
           std::all_of(tag.begin(), tag.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

bool is_security_model(std::string_view model) {
    return model == "none" || model == "passthrough" || model == "mapped-xattr";
}

std::string domain_home(DomId domid) {
    return "/local/domain/" + std::to_string(domid);
}

std::string backend_path(DomId backend_domid, BackendKind kind, DomId domid, unsigned devid) {
    return domain_home(backend_domid) + "/backend/" + std::string(kind_name(kind)) + "/" +
           std::to_string(domid) + "/" + std::to_string(devid);
}

std::string backend_path(const NinePfsDevice& device) {
    return backend_path(device.backend_domid, device.kind, device.domid, device.devid);
}

std::string frontend_path(DomId domid, unsigned devid) {
    return domain_home(domid) + "/device/9pfs/" + std::to_string(devid);
}

std::string libxl_path(DomId domid, unsigned devid) {
    return "/libxl/" + std::to_string(domid) + "/device/9pfs/" + std::to_string(devid);
}

std::optional<BackendLocation> parse_backend_path(std::string_view path, DomId domid,
                                                  unsigned devid) {
    if (!consume(path, "/local/domain/")) return std::nullopt;
    const auto slash = path.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto backend = parse_decimal(path.substr(0, slash), 0x7fef);  // DOMID_FIRST_RESERVED - 1
    if (!backend) return std::nullopt;
    path.remove_prefix(slash);
    if (!consume(path, "/backend/")) return std::nullopt;
    for (const BackendKind kind : {BackendKind::k9pfs, BackendKind::kXen9pfs}) {
        std::string_view rest = path;
        if (consume(rest, kind_name(kind)) &&
            rest == "/" + std::to_string(domid) + "/" + std::to_string(devid))
            return BackendLocation{static_cast<DomId>(*backend), kind};
    }
    return std::nullopt;
}

}  // namespace xen9p::toolstack
