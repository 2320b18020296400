// Small fd-relative helpers shared by the operations: statx of an fd, re-opening
// an O_PATH fd through /proc/self/fd, and the read-only check.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include "backend/fs/export.hpp"
#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::fs {

inline constexpr unsigned kStatxWanted = STATX_BASIC_STATS | STATX_BTIME;

// statx of the file `fd` refers to (never following a symlink).
Result<struct statx> stat_fd(int fd, unsigned mask = kStatxWanted);

// A real open file description for the inode behind O_PATH fd `fd` (`flags`
// gets O_CLOEXEC added). Works for unlinked files and after a chroot.
Result<UniqueFd> reopen(const Export& ex, int fd, int flags);

// EROFS on a read-only export.
Status check_writable(const Export& ex);

// True for character and block devices, FIFOs and sockets.
bool is_special(std::uint32_t mode);

}  // namespace xen9p::fs
