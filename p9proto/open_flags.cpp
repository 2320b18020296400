#include "p9proto/open_flags.hpp"

#include <fcntl.h>

#include <array>

namespace xen9p::p9proto {
namespace {

struct FlagPair {
    std::uint32_t dotl;
    int host;
};

// Every P9_DOTL_* bit beside the access mode, with its host O_* value. The
// values coincide on x86 Linux but not on every architecture, so nothing is
// passed through unchanged. O_LARGEFILE is 0 in 64-bit user space; such a
// pair only ever translates towards the host.
constexpr std::array kFlags = std::to_array<FlagPair>({
    {dotl::kCreate, O_CREAT},
    {dotl::kExcl, O_EXCL},
    {dotl::kNoctty, O_NOCTTY},
    {dotl::kTrunc, O_TRUNC},
    {dotl::kAppend, O_APPEND},
    {dotl::kNonblock, O_NONBLOCK},
    {dotl::kDsync, O_DSYNC},
    {dotl::kFasync, O_ASYNC},
    {dotl::kDirect, O_DIRECT},
    {dotl::kLargefile, O_LARGEFILE},
    {dotl::kDirectory, O_DIRECTORY},
    {dotl::kNofollow, O_NOFOLLOW},
    {dotl::kNoatime, O_NOATIME},
    {dotl::kCloexec, O_CLOEXEC},
    {dotl::kSync, O_SYNC},
});

// Flags whose meaning belongs to the server's own fd, not the guest's wish:
// a controlling terminal, SIGIO delivery, close-on-exec of the server's fd,
// and symlink handling (the server walks without following links anyway).
constexpr std::uint32_t kDroppedForHost =
    dotl::kNoctty | dotl::kFasync | dotl::kCloexec | dotl::kNofollow;

int host_access_mode(std::uint32_t dotl_flags) {
    switch (dotl_flags & dotl::kAccmode) {
        case dotl::kRdonly:
            return O_RDONLY;
        case dotl::kWronly:
            return O_WRONLY;
        case dotl::kRdwr:
            return O_RDWR;
        default:
            return O_ACCMODE;  // P9_DOTL_NOACCESS, kept as sent
    }
}

std::uint32_t dotl_access_mode(int host_flags) {
    switch (host_flags & O_ACCMODE) {
        case O_RDONLY:
            return dotl::kRdonly;
        case O_WRONLY:
            return dotl::kWronly;
        case O_RDWR:
            return dotl::kRdwr;
        default:
            return dotl::kNoaccess;
    }
}

}  // namespace

int host_open_flags(std::uint32_t dotl_flags) {
    int host = host_access_mode(dotl_flags);
    for (const auto& pair : kFlags) {
        if ((pair.dotl & kDroppedForHost) != 0) continue;
        if ((dotl_flags & pair.dotl) != 0) host |= pair.host;
    }
    return host;
}

std::uint32_t dotl_open_flags(int host_flags) {
    std::uint32_t dotl = dotl_access_mode(host_flags);
    for (const auto& pair : kFlags) {
        // O_SYNC includes the O_DSYNC bit on Linux: require all of its bits.
        if (pair.host != 0 && (host_flags & pair.host) == pair.host) dotl |= pair.dotl;
    }
    return dotl;
}

}  // namespace xen9p::p9proto
