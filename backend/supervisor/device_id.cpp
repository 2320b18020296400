#include "backend/supervisor/device_id.hpp"

#include <limits>

namespace xen9p::daemon {

std::string DeviceId::to_string() const {
    return kind + "/" + std::to_string(domid) + "/" + std::to_string(devid);
}

std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) {
    if (text.empty() || text.size() > 20) return std::nullopt;
    if (text.size() > 1 && text[0] == '0') return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
        if (digit > max || value > (max - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
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

}  // namespace xen9p::daemon
