#include "p9proto/u_stat.hpp"

#include <sys/stat.h>

#include "p9proto/open_flags.hpp"

namespace xen9p::p9proto {

UStat blank_wstat() {
    UStat st;
    st.type = kKeep16;
    st.dev = kKeep32;
    st.qid = Qid{0xff, kKeep32, kKeep64};
    st.mode = kKeep32;
    st.atime = kKeep32;
    st.mtime = kKeep32;
    st.length = kKeep64;
    st.n_uid = kKeep32;
    st.n_gid = kKeep32;
    st.n_muid = kKeep32;
    return st;
}

std::uint32_t u_mode_of(std::uint32_t host_mode) {
    std::uint32_t mode = host_mode & 0777;
    if (host_mode & S_ISUID) mode |= dm::kSetuid;
    if (host_mode & S_ISGID) mode |= dm::kSetgid;
    if (host_mode & S_ISVTX) mode |= dm::kSetvtx;
    switch (host_mode & S_IFMT) {
        case S_IFDIR:
            return mode | dm::kDir;
        case S_IFLNK:
            return mode | dm::kSymlink;
        case S_IFCHR:
        case S_IFBLK:
            return mode | dm::kDevice;
        case S_IFIFO:
            return mode | dm::kNamedPipe;
        case S_IFSOCK:
            return mode | dm::kSocket;
        default:
            return mode;
    }
}

std::uint8_t qid_type_of(std::uint32_t host_mode) {
    switch (host_mode & S_IFMT) {
        case S_IFDIR:
            return qid_type::kDir;
        case S_IFLNK:
            return qid_type::kSymlink;
        default:
            return qid_type::kFile;
    }
}

std::uint32_t host_permissions(std::uint32_t u_mode) {
    std::uint32_t mode = u_mode & 0777;
    if (u_mode & dm::kSetuid) mode |= S_ISUID;
    if (u_mode & dm::kSetgid) mode |= S_ISGID;
    if (u_mode & dm::kSetvtx) mode |= S_ISVTX;
    return mode;
}

std::uint32_t dotl_flags_of(std::uint8_t mode) {
    std::uint32_t flags = 0;
    switch (mode & omode::kAccess) {
        case omode::kWrite:
            flags = dotl::kWronly;
            break;
        case omode::kRdwr:
            flags = dotl::kRdwr;
            break;
        default:  // OREAD, OEXEC
            flags = dotl::kRdonly;
            break;
    }
    if (mode & omode::kTrunc) flags |= dotl::kTrunc;
    if (mode & omode::kAppend) flags |= dotl::kAppend;
    return flags;
}

}  // namespace xen9p::p9proto
