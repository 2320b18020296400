#include "backend/supervisor/worker_uid.hpp"

namespace xen9p::supervisor {

std::optional<std::string> fixed_worker_uid_error(unsigned long long uid, uid_t range_base) {
    const unsigned long long first =
        static_cast<unsigned long long>(range_base) + kFixedWorkerUidFirst;
    const unsigned long long last =
        static_cast<unsigned long long>(range_base) + kFixedWorkerUidLast;
    if (uid >= first && uid <= last) return std::nullopt;
    return "worker uid " + std::to_string(uid) + " is outside " + std::to_string(first) + ".." +
           std::to_string(last) + " (range base + 32768..65535, which no device model uses)";
}

}  // namespace xen9p::supervisor
