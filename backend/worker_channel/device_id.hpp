// Names one 9pfs device: the backend kind it was created under, the guest and
// the device number. Parsed from untrusted xenstore paths, so parsing is strict.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xen9p::worker_channel {

// `9pfs` is what libxl writes for type=qemu (and the only kind Xen 4.17
// knows); `xen_9pfs` is libxl 4.19+'s type=xen_9pfsd.
inline constexpr std::string_view kKindQemu = "9pfs";
inline constexpr std::string_view kKindXen9pfsd = "xen_9pfs";

struct DeviceId {
    std::string kind;
    std::uint16_t domid = 0;
    std::uint32_t devid = 0;

    friend auto operator<=>(const DeviceId&, const DeviceId&) = default;
    std::string to_string() const;
};

// "<backend_root>/<domid>/<devid>[/...]" -> the device; anything else -> nullopt.
std::optional<DeviceId> device_of_path(std::string_view backend_root, std::string_view kind,
                                       std::string_view path);

}  // namespace xen9p::worker_channel
