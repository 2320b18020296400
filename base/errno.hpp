// Errors as values: a strong errno type and the Result<T> every fallible call returns.
#pragma once

#include <cerrno>
#include <expected>
#include <string>

namespace xen9p {

// A Linux errno value (always positive). Also what Rlerror carries on the wire.
struct Errno {
    int value = 0;

    friend constexpr bool operator==(Errno, Errno) = default;
    std::string message() const;
};

template <class T>
using Result = std::expected<T, Errno>;

// Result of a call that yields nothing but may fail.
using Status = std::expected<void, Errno>;

inline std::unexpected<Errno> fail(int err) {
    return std::unexpected(Errno{err});
}

// The current errno as an error value, for the syscall edge.
inline std::unexpected<Errno> fail_errno() {
    return std::unexpected(Errno{errno});
}

}  // namespace xen9p
