#include "backend/fs/caller.hpp"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include <cerrno>

namespace xen9p::fs {

CredGuard::CredGuard(const Export& ex, Caller who, gid_t gid) {
    if (ex.model() != SecurityModel::kPassthrough) return;
    // setfsuid/setfsgid return the previous value and cannot report failure
    // directly; the previous ids are what we restore.
    old_gid_ = static_cast<gid_t>(::setfsgid(gid));
    old_uid_ = static_cast<uid_t>(::setfsuid(who.uid));
    active_ = true;
    // A second call returns the id now in force: the only way to see failure.
    ok_ = static_cast<gid_t>(::setfsgid(gid)) == gid &&
          static_cast<uid_t>(::setfsuid(who.uid)) == who.uid;
}

CredGuard::~CredGuard() {
    if (!active_) return;
    ::setfsuid(old_uid_);
    ::setfsgid(old_gid_);
}

Status adopt_owner(const Export& ex, int fd, Caller who, gid_t gid) {
    if (ex.model() != SecurityModel::kNone || !who.named) return {};
    // AT_SYMLINK_NOFOLLOW: a symlink's O_PATH fd names the link itself.
    if (::fchownat(fd, "", who.uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == EPERM || errno == EINVAL) return {};
        return fail_errno();
    }
    return {};
}

}  // namespace xen9p::fs
