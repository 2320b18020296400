#include "backend/worker_channel/device_id.hpp"

#include <limits>

#include "base/parse_number.hpp"

namespace xen9p::worker_channel {

std::string DeviceId::to_string() const {
    return kind + "/" + std::to_string(domid) + "/" + std::to_string(devid);
}

std::optional<DeviceId> device_of_path(std::string_view backend_root, std::string_view kind,
                                       std::string_view path) {
    if (!path.starts_with(backend_root)) return std::nullopt;
    path.remove_prefix(backend_root.size());
    if (!path.starts_with('/')) return std::nullopt;
    path.remove_prefix(1);
    const auto slash = path.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto domid = parse_decimal(path.substr(0, slash), 0x7fef);  // DOMID_FIRST_RESERVED - 1
    path.remove_prefix(slash + 1);
    const auto devid_text = path.substr(0, path.find('/'));
    const auto devid = parse_decimal(devid_text, std::numeric_limits<std::uint32_t>::max());
    if (!domid || !devid) return std::nullopt;
    return DeviceId{std::string(kind), static_cast<std::uint16_t>(*domid),
                    static_cast<std::uint32_t>(*devid)};
}

}  // namespace xen9p::worker_channel
