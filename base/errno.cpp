#include "base/errno.hpp"

#include <cstring>

namespace xen9p {

std::string Errno::message() const {
    return std::strerror(value);
}

}  // namespace xen9p
