#include "backend/fs/caller.hpp"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace xen9p::fs {

namespace {

bool has_effective(const CapabilitySets& sets) {
    for (const auto& word : sets.data) {
        if (word.effective != 0) return true;
    }
    return false;
}

// capset of the calling thread: `sets` with the effective set emptied or kept.
bool set_capabilities(const CapabilitySets& sets, bool effective) {
    CapabilitySets wanted = sets;
    if (!effective) {
        for (auto& word : wanted.data)
            word.effective = 0;
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    return ::syscall(SYS_capset, &header, wanted.data.data()) == 0;
}

}  // namespace

CredGuard::CredGuard(const Export& ex, Caller who, gid_t gid) {
    if (ex.model() != SecurityModel::kPassthrough) return;
    rest_ = &ex.capabilities();
    // setfsuid/setfsgid return the previous value and cannot report failure
    // directly; the previous ids are what we restore.
    old_gid_ = static_cast<gid_t>(::setfsgid(gid));
    old_uid_ = static_cast<uid_t>(::setfsuid(who.uid));
    active_ = true;
    raised_ = who.uid == 0 && old_uid_ != 0;
    // A second call returns the id now in force: the only way to see failure.
    ok_ = static_cast<gid_t>(::setfsgid(gid)) == gid &&
          static_cast<uid_t>(::setfsuid(who.uid)) == who.uid;
    // After the switch: setfsuid itself needs CAP_SETUID for most ids.
    if (ok_ && who.uid != 0 && has_effective(*rest_)) {
        lowered_ = true;
        ok_ = set_capabilities(*rest_, false);
    }
}

CredGuard::~CredGuard() {
    if (!active_) return;
    // Capabilities first: going back to an id that is not one of the
    // thread's own needs CAP_SETUID/CAP_SETGID.
    if (lowered_) set_capabilities(*rest_, true);
    ::setfsuid(old_uid_);
    ::setfsgid(old_gid_);
    // The fsuid leaving 0 again took the fs capabilities out of the effective set.
    if (raised_) set_capabilities(*rest_, true);
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
