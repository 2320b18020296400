// 9P2000.L and 9P2000.u wire constants: message numbers, sizes, qid types and
// the bit masks of getattr, setattr and lock, as the Linux client defines them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace xen9p::p9proto {

enum class MsgType : std::uint8_t {
    Tlerror = 6,
    Rlerror = 7,
    Tstatfs = 8,
    Rstatfs = 9,
    Tlopen = 12,
    Rlopen = 13,
    Tlcreate = 14,
    Rlcreate = 15,
    Tsymlink = 16,
    Rsymlink = 17,
    Tmknod = 18,
    Rmknod = 19,
    Trename = 20,
    Rrename = 21,
    Treadlink = 22,
    Rreadlink = 23,
    Tgetattr = 24,
    Rgetattr = 25,
    Tsetattr = 26,
    Rsetattr = 27,
    Txattrwalk = 30,
    Rxattrwalk = 31,
    Txattrcreate = 32,
    Rxattrcreate = 33,
    Treaddir = 40,
    Rreaddir = 41,
    Tfsync = 50,
    Rfsync = 51,
    Tlock = 52,
    Rlock = 53,
    Tgetlock = 54,
    Rgetlock = 55,
    Tlink = 70,
    Rlink = 71,
    Tmkdir = 72,
    Rmkdir = 73,
    Trenameat = 74,
    Rrenameat = 75,
    Tunlinkat = 76,
    Runlinkat = 77,
    Tversion = 100,
    Rversion = 101,
    Tauth = 102,
    Rauth = 103,
    Tattach = 104,
    Rattach = 105,
    Rerror = 107,  // 9P2000.u
    Tflush = 108,
    Rflush = 109,
    Twalk = 110,
    Rwalk = 111,
    Topen = 112,  // 9P2000.u
    Ropen = 113,
    Tcreate = 114,  // 9P2000.u
    Rcreate = 115,
    Tread = 116,
    Rread = 117,
    Twrite = 118,
    Rwrite = 119,
    Tclunk = 120,
    Rclunk = 121,
    Tremove = 122,
    Rremove = 123,
    Tstat = 124,  // 9P2000.u
    Rstat = 125,
    Twstat = 126,  // 9P2000.u
    Rwstat = 127,
};

// The dialect a session agreed in Tversion. Messages numbered below 100 exist
// only in 9P2000.L; Rerror, Topen, Tcreate, Tstat and Twstat (and their
// replies) only in 9P2000.u; the rest are shared.
enum class Dialect : std::uint8_t { k9P2000L, k9P2000u };

constexpr bool belongs_to(MsgType type, Dialect dialect) {
    const auto n = static_cast<std::uint8_t>(type);
    const bool only_u = type == MsgType::Rerror || (n >= 112 && n <= 115) || n >= 124;
    if (n < 100) return dialect == Dialect::k9P2000L;
    if (only_u) return dialect == Dialect::k9P2000u;
    return true;
}

inline constexpr std::size_t kHeaderSize = 7;          // size[4] type[1] tag[2]
inline constexpr std::size_t kIoHeaderSize = 24;       // P9_IOHDRSZ
// A Twrite up to its data: size[4] type[1] tag[2] fid[4] offset[8] count[4].
inline constexpr std::size_t kWriteHeaderSize = 23;
inline constexpr std::size_t kReaddirHeaderSize = 24;  // P9_READDIRHDRSZ
inline constexpr std::uint16_t kNoTag = 0xffff;
inline constexpr std::uint32_t kNoFid = 0xffffffff;
inline constexpr std::uint32_t kNoUname = 0xffffffff;  // n_uname "not given"
inline constexpr std::size_t kMaxWalkElems = 16;
inline constexpr std::size_t kQidSize = 13;
inline constexpr std::size_t kMaxNameLength = 255;   // NAME_MAX
inline constexpr std::size_t kMaxPathLength = 4095;  // PATH_MAX without the NUL
// Smallest msize that still carries every fixed-size reply (Rgetattr is 160 bytes).
inline constexpr std::uint32_t kMinMsize = 4096;
// P9_ERRMAX: the Linux client's room for a 9P2000.u Rerror's ename (length
// prefix included), so the server sends at most kMaxEnameLength bytes.
inline constexpr std::size_t kErrMax = 128;
inline constexpr std::size_t kMaxEnameLength = kErrMax - 2;

inline constexpr std::string_view kVersion9P2000L = "9P2000.L";
inline constexpr std::string_view kVersion9P2000u = "9P2000.u";
inline constexpr std::string_view kVersionUnknown = "unknown";

// qid.type
namespace qid_type {
inline constexpr std::uint8_t kDir = 0x80;
inline constexpr std::uint8_t kAppend = 0x40;
inline constexpr std::uint8_t kExcl = 0x20;
inline constexpr std::uint8_t kMount = 0x10;
inline constexpr std::uint8_t kAuth = 0x08;
inline constexpr std::uint8_t kTmp = 0x04;
inline constexpr std::uint8_t kSymlink = 0x02;
inline constexpr std::uint8_t kLink = 0x01;
inline constexpr std::uint8_t kFile = 0x00;
}  // namespace qid_type

// Tgetattr request_mask / Rgetattr valid.
namespace getattr {
inline constexpr std::uint64_t kMode = 0x1;
inline constexpr std::uint64_t kNlink = 0x2;
inline constexpr std::uint64_t kUid = 0x4;
inline constexpr std::uint64_t kGid = 0x8;
inline constexpr std::uint64_t kRdev = 0x10;
inline constexpr std::uint64_t kAtime = 0x20;
inline constexpr std::uint64_t kMtime = 0x40;
inline constexpr std::uint64_t kCtime = 0x80;
inline constexpr std::uint64_t kIno = 0x100;
inline constexpr std::uint64_t kSize = 0x200;
inline constexpr std::uint64_t kBlocks = 0x400;
inline constexpr std::uint64_t kBtime = 0x800;
inline constexpr std::uint64_t kGen = 0x1000;
inline constexpr std::uint64_t kDataVersion = 0x2000;
inline constexpr std::uint64_t kBasic = 0x7ff;
inline constexpr std::uint64_t kAll = 0x3fff;
}  // namespace getattr

// Tsetattr valid.
namespace setattr {
inline constexpr std::uint32_t kMode = 1u << 0;
inline constexpr std::uint32_t kUid = 1u << 1;
inline constexpr std::uint32_t kGid = 1u << 2;
inline constexpr std::uint32_t kSize = 1u << 3;
inline constexpr std::uint32_t kAtime = 1u << 4;
inline constexpr std::uint32_t kMtime = 1u << 5;
inline constexpr std::uint32_t kCtime = 1u << 6;
inline constexpr std::uint32_t kAtimeSet = 1u << 7;
inline constexpr std::uint32_t kMtimeSet = 1u << 8;
}  // namespace setattr

// Tlock / Tgetlock.
namespace lock {
inline constexpr std::uint8_t kReadLock = 0;
inline constexpr std::uint8_t kWriteLock = 1;
inline constexpr std::uint8_t kUnlock = 2;
inline constexpr std::uint32_t kFlagBlock = 1;
inline constexpr std::uint32_t kFlagReclaim = 2;
inline constexpr std::uint8_t kStatusSuccess = 0;
inline constexpr std::uint8_t kStatusBlocked = 1;
inline constexpr std::uint8_t kStatusError = 2;
inline constexpr std::uint8_t kStatusGrace = 3;
}  // namespace lock

// Tunlinkat flags.
inline constexpr std::uint32_t kAtRemoveDir = 0x200;

// Txattrcreate flags (the Linux XATTR_CREATE / XATTR_REPLACE values).
inline constexpr std::uint32_t kXattrCreate = 1;
inline constexpr std::uint32_t kXattrReplace = 2;

}  // namespace xen9p::p9proto
