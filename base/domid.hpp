// A Xen domain id (domid_t): 0 is dom0, the backend's own domain.
#pragma once

#include <cstdint>

namespace xen9p {

using DomId = std::uint16_t;

}  // namespace xen9p
