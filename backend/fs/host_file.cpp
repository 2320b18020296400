#include "backend/fs/host_file.hpp"

#include <cerrno>
#include <charconv>

namespace xen9p::fs {

Result<struct statx> stat_fd(int fd, unsigned mask) {
    struct statx st {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, mask, &st) != 0) return fail_errno();
    return st;
}

Result<UniqueFd> reopen(const Export& ex, int fd, int flags) {
    char name[16];
    auto [end, ec] = std::to_chars(name, name + sizeof(name) - 1, fd);
    if (ec != std::errc{}) return fail(EBADF);
    *end = '\0';
    int reopened = ::openat(ex.proc_fd(), name, flags | O_CLOEXEC);
    if (reopened < 0) return fail_errno();
    return UniqueFd(reopened);
}

Status check_writable(const Export& ex) {
    if (ex.read_only()) return fail(EROFS);
    return {};
}

bool is_special(std::uint32_t mode) {
    return S_ISCHR(mode) || S_ISBLK(mode) || S_ISFIFO(mode) || S_ISSOCK(mode);
}

}  // namespace xen9p::fs
