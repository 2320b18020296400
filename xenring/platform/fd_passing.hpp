// Whole-message send/receive on a SOCK_SEQPACKET socket, with file descriptors
// attached as SCM_RIGHTS.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::platform {

inline constexpr std::size_t kMaxPassedFds = 4;

Status send_message(int sock, std::span<const std::byte> bytes, std::span<const int> fds = {});

struct Received {
    std::size_t size = 0;  // 0: the peer closed the connection
    std::vector<UniqueFd> fds;
};

// Truncated messages and surplus descriptors are errors (EMSGSIZE).
Result<Received> receive_message(int sock, std::span<std::byte> buffer);

}  // namespace xen9p::platform
