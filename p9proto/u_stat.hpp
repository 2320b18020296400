// The 9P2000.u stat structure (Rstat, Twstat, directory reads), its mode bits
// and Topen/Tcreate mode byte, as the Linux client (net/9p) encodes them.
#pragma once

#include <cstdint>
#include <tuple>

#include "p9proto/fields.hpp"

namespace xen9p::p9proto {

// Plan 9 / 9P2000.u permission and type bits of stat.mode and Tcreate.perm.
namespace dm {
inline constexpr std::uint32_t kDir = 0x80000000;
inline constexpr std::uint32_t kAppend = 0x40000000;
inline constexpr std::uint32_t kExcl = 0x20000000;
inline constexpr std::uint32_t kMount = 0x10000000;
inline constexpr std::uint32_t kAuth = 0x08000000;
inline constexpr std::uint32_t kTmp = 0x04000000;
inline constexpr std::uint32_t kSymlink = 0x02000000;
inline constexpr std::uint32_t kLink = 0x01000000;  // Tcreate only: a hard link
inline constexpr std::uint32_t kDevice = 0x00800000;
inline constexpr std::uint32_t kNamedPipe = 0x00200000;
inline constexpr std::uint32_t kSocket = 0x00100000;
inline constexpr std::uint32_t kSetuid = 0x00080000;
inline constexpr std::uint32_t kSetgid = 0x00040000;
inline constexpr std::uint32_t kSetvtx = 0x00010000;
// The bits that say what type of file a stat describes.
inline constexpr std::uint32_t kTypeBits = kDir | kSymlink | kDevice | kNamedPipe | kSocket;
}  // namespace dm

// The Topen/Tcreate mode byte.
namespace omode {
inline constexpr std::uint8_t kRead = 0x00;
inline constexpr std::uint8_t kWrite = 0x01;
inline constexpr std::uint8_t kRdwr = 0x02;
inline constexpr std::uint8_t kExec = 0x03;
inline constexpr std::uint8_t kAccess = 0x03;
inline constexpr std::uint8_t kTrunc = 0x10;
inline constexpr std::uint8_t kRexec = 0x20;
inline constexpr std::uint8_t kRclose = 0x40;
inline constexpr std::uint8_t kAppend = 0x80;
}  // namespace omode

// One stat record: size[2] (of what follows) type[2] dev[4] qid[13] mode[4]
// atime[4] mtime[4] length[8] name[s] uid[s] gid[s] muid[s] extension[s]
// n_uid[4] n_gid[4] n_muid[4]. size[2] is derived, never stored. In Twstat
// every field may hold its "don't touch" value: ~0 in every bit of a number
// (kKeep*), an empty string.
struct UStat {
    std::uint16_t type = 0;
    std::uint32_t dev = 0;
    Qid qid;
    std::uint32_t mode = 0;
    std::uint32_t atime = 0;
    std::uint32_t mtime = 0;
    std::uint64_t length = 0;
    Text name;
    Text uid;
    Text gid;
    Text muid;
    Text extension;
    std::uint32_t n_uid = 0;
    std::uint32_t n_gid = 0;
    std::uint32_t n_muid = 0;

    friend bool operator==(const UStat&, const UStat&) = default;
    auto tie() {
        return std::tie(type, dev, qid, mode, atime, mtime, length, name, uid, gid, muid, extension,
                        n_uid, n_gid, n_muid);
    }
    auto tie() const {
        return std::tie(type, dev, qid, mode, atime, mtime, length, name, uid, gid, muid, extension,
                        n_uid, n_gid, n_muid);
    }
};

// stat[n] as Rstat and Twstat carry it: n[2] (the record's whole size, its own
// size[2] included) followed by one record. The decoder insists that both
// sizes agree with the fields.
struct WrappedStat {
    UStat stat;
    friend bool operator==(const WrappedStat&, const WrappedStat&) = default;
};

inline constexpr std::uint32_t kKeep32 = 0xffffffff;
inline constexpr std::uint64_t kKeep64 = ~std::uint64_t{0};
inline constexpr std::uint16_t kKeep16 = 0xffff;

// A stat in which every field says "don't touch" (Linux's v9fs_blank_wstat);
// such a Twstat is a request to commit the file to stable storage.
UStat blank_wstat();

// stat.mode for a host st_mode: permission bits, setuid/setgid/sticky, and
// the type bit of directories, symlinks, devices, FIFOs and sockets.
std::uint32_t u_mode_of(std::uint32_t host_mode);

// qid.type for a host st_mode.
std::uint8_t qid_type_of(std::uint32_t host_mode);

// Host permission bits (07777) of a stat.mode / Tcreate.perm.
std::uint32_t host_permissions(std::uint32_t u_mode);

// The P9_DOTL open flags for a Topen/Tcreate mode byte: access mode (OEXEC
// reads), OTRUNC, OAPPEND. ORCLOSE is the caller's to honour; ORCLOSE
// and OREXEC add no open flag.
std::uint32_t dotl_flags_of(std::uint8_t mode);

}  // namespace xen9p::p9proto
