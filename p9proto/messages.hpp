// Every 9P2000.L and 9P2000.u T- and R-message as a plain struct. Strings and payloads are
// views into the buffer a message was decoded from (or will be encoded from).
// Each struct lists its wire fields in order through tie(); the codec walks them.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <tuple>
#include <variant>

#include "p9proto/constants.hpp"
#include "p9proto/fields.hpp"
#include "p9proto/u_stat.hpp"

namespace xen9p::p9proto {

#define XEN9P_FIELDS(...)             \
    auto tie() {                      \
        return std::tie(__VA_ARGS__); \
    }                                 \
    auto tie() const {                \
        return std::tie(__VA_ARGS__); \
    }

// ---- requests ----

struct Tversion {
    static constexpr MsgType kType = MsgType::Tversion;
    std::uint32_t msize = 0;
    Text version;
    XEN9P_FIELDS(msize, version)
    friend bool operator==(const Tversion&, const Tversion&) = default;
};
struct Tauth {
    static constexpr MsgType kType = MsgType::Tauth;
    std::uint32_t afid = 0;
    Text uname;
    Text aname;
    std::uint32_t n_uname = kNoUname;
    XEN9P_FIELDS(afid, uname, aname, n_uname)
    friend bool operator==(const Tauth&, const Tauth&) = default;
};
struct Tattach {
    static constexpr MsgType kType = MsgType::Tattach;
    std::uint32_t fid = 0;
    std::uint32_t afid = kNoFid;
    Text uname;
    Text aname;
    std::uint32_t n_uname = kNoUname;
    XEN9P_FIELDS(fid, afid, uname, aname, n_uname)
    friend bool operator==(const Tattach&, const Tattach&) = default;
};
struct Tflush {
    static constexpr MsgType kType = MsgType::Tflush;
    std::uint16_t oldtag = 0;
    XEN9P_FIELDS(oldtag)
    friend bool operator==(const Tflush&, const Tflush&) = default;
};
struct Twalk {
    static constexpr MsgType kType = MsgType::Twalk;
    std::uint32_t fid = 0;
    std::uint32_t newfid = 0;
    WalkNames names;
    XEN9P_FIELDS(fid, newfid, names)
    friend bool operator==(const Twalk&, const Twalk&) = default;
};
struct Tread {
    static constexpr MsgType kType = MsgType::Tread;
    std::uint32_t fid = 0;
    std::uint64_t offset = 0;
    std::uint32_t count = 0;
    XEN9P_FIELDS(fid, offset, count)
    friend bool operator==(const Tread&, const Tread&) = default;
};
struct Twrite {
    static constexpr MsgType kType = MsgType::Twrite;
    std::uint32_t fid = 0;
    std::uint64_t offset = 0;
    Data data;
    XEN9P_FIELDS(fid, offset, data)
    friend bool operator==(const Twrite&, const Twrite&) = default;
};
struct Tclunk {
    static constexpr MsgType kType = MsgType::Tclunk;
    std::uint32_t fid = 0;
    XEN9P_FIELDS(fid)
    friend bool operator==(const Tclunk&, const Tclunk&) = default;
};
struct Tremove {
    static constexpr MsgType kType = MsgType::Tremove;
    std::uint32_t fid = 0;
    XEN9P_FIELDS(fid)
    friend bool operator==(const Tremove&, const Tremove&) = default;
};
struct Tstatfs {
    static constexpr MsgType kType = MsgType::Tstatfs;
    std::uint32_t fid = 0;
    XEN9P_FIELDS(fid)
    friend bool operator==(const Tstatfs&, const Tstatfs&) = default;
};
struct Tlopen {
    static constexpr MsgType kType = MsgType::Tlopen;
    std::uint32_t fid = 0;
    std::uint32_t flags = 0;
    XEN9P_FIELDS(fid, flags)
    friend bool operator==(const Tlopen&, const Tlopen&) = default;
};
struct Tlcreate {
    static constexpr MsgType kType = MsgType::Tlcreate;
    std::uint32_t fid = 0;
    Name name;
    std::uint32_t flags = 0;
    std::uint32_t mode = 0;
    std::uint32_t gid = 0;
    XEN9P_FIELDS(fid, name, flags, mode, gid)
    friend bool operator==(const Tlcreate&, const Tlcreate&) = default;
};
struct Tsymlink {
    static constexpr MsgType kType = MsgType::Tsymlink;
    std::uint32_t fid = 0;
    Name name;
    Target target;
    std::uint32_t gid = 0;
    XEN9P_FIELDS(fid, name, target, gid)
    friend bool operator==(const Tsymlink&, const Tsymlink&) = default;
};
struct Tmknod {
    static constexpr MsgType kType = MsgType::Tmknod;
    std::uint32_t dfid = 0;
    Name name;
    std::uint32_t mode = 0;
    std::uint32_t major = 0;
    std::uint32_t minor = 0;
    std::uint32_t gid = 0;
    XEN9P_FIELDS(dfid, name, mode, major, minor, gid)
    friend bool operator==(const Tmknod&, const Tmknod&) = default;
};
struct Trename {
    static constexpr MsgType kType = MsgType::Trename;
    std::uint32_t fid = 0;
    std::uint32_t dfid = 0;
    Name name;
    XEN9P_FIELDS(fid, dfid, name)
    friend bool operator==(const Trename&, const Trename&) = default;
};
struct Treadlink {
    static constexpr MsgType kType = MsgType::Treadlink;
    std::uint32_t fid = 0;
    XEN9P_FIELDS(fid)
    friend bool operator==(const Treadlink&, const Treadlink&) = default;
};
struct Tgetattr {
    static constexpr MsgType kType = MsgType::Tgetattr;
    std::uint32_t fid = 0;
    std::uint64_t request_mask = 0;
    XEN9P_FIELDS(fid, request_mask)
    friend bool operator==(const Tgetattr&, const Tgetattr&) = default;
};
struct Tsetattr {
    static constexpr MsgType kType = MsgType::Tsetattr;
    std::uint32_t fid = 0;
    std::uint32_t valid = 0;
    std::uint32_t mode = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::uint64_t size = 0;
    std::uint64_t atime_sec = 0;
    std::uint64_t atime_nsec = 0;
    std::uint64_t mtime_sec = 0;
    std::uint64_t mtime_nsec = 0;
    XEN9P_FIELDS(fid, valid, mode, uid, gid, size, atime_sec, atime_nsec, mtime_sec, mtime_nsec)
    friend bool operator==(const Tsetattr&, const Tsetattr&) = default;
};
struct Txattrwalk {
    static constexpr MsgType kType = MsgType::Txattrwalk;
    std::uint32_t fid = 0;
    std::uint32_t newfid = 0;
    XattrName name;
    XEN9P_FIELDS(fid, newfid, name)
    friend bool operator==(const Txattrwalk&, const Txattrwalk&) = default;
};
struct Txattrcreate {
    static constexpr MsgType kType = MsgType::Txattrcreate;
    std::uint32_t fid = 0;
    XattrName name;
    std::uint64_t attr_size = 0;
    std::uint32_t flags = 0;
    XEN9P_FIELDS(fid, name, attr_size, flags)
    friend bool operator==(const Txattrcreate&, const Txattrcreate&) = default;
};
struct Treaddir {
    static constexpr MsgType kType = MsgType::Treaddir;
    std::uint32_t fid = 0;
    std::uint64_t offset = 0;
    std::uint32_t count = 0;
    XEN9P_FIELDS(fid, offset, count)
    friend bool operator==(const Treaddir&, const Treaddir&) = default;
};
struct Tfsync {
    static constexpr MsgType kType = MsgType::Tfsync;
    std::uint32_t fid = 0;
    std::uint32_t datasync = 0;
    XEN9P_FIELDS(fid, datasync)
    friend bool operator==(const Tfsync&, const Tfsync&) = default;
};
struct Tlock {
    static constexpr MsgType kType = MsgType::Tlock;
    std::uint32_t fid = 0;
    std::uint8_t type = 0;
    std::uint32_t flags = 0;
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    std::uint32_t proc_id = 0;
    Text client_id;
    XEN9P_FIELDS(fid, type, flags, start, length, proc_id, client_id)
    friend bool operator==(const Tlock&, const Tlock&) = default;
};
struct Tgetlock {
    static constexpr MsgType kType = MsgType::Tgetlock;
    std::uint32_t fid = 0;
    std::uint8_t type = 0;
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    std::uint32_t proc_id = 0;
    Text client_id;
    XEN9P_FIELDS(fid, type, start, length, proc_id, client_id)
    friend bool operator==(const Tgetlock&, const Tgetlock&) = default;
};
struct Tlink {
    static constexpr MsgType kType = MsgType::Tlink;
    std::uint32_t dfid = 0;
    std::uint32_t fid = 0;
    Name name;
    XEN9P_FIELDS(dfid, fid, name)
    friend bool operator==(const Tlink&, const Tlink&) = default;
};
struct Tmkdir {
    static constexpr MsgType kType = MsgType::Tmkdir;
    std::uint32_t dfid = 0;
    Name name;
    std::uint32_t mode = 0;
    std::uint32_t gid = 0;
    XEN9P_FIELDS(dfid, name, mode, gid)
    friend bool operator==(const Tmkdir&, const Tmkdir&) = default;
};
struct Trenameat {
    static constexpr MsgType kType = MsgType::Trenameat;
    std::uint32_t olddirfid = 0;
    Name oldname;
    std::uint32_t newdirfid = 0;
    Name newname;
    XEN9P_FIELDS(olddirfid, oldname, newdirfid, newname)
    friend bool operator==(const Trenameat&, const Trenameat&) = default;
};
struct Tunlinkat {
    static constexpr MsgType kType = MsgType::Tunlinkat;
    std::uint32_t dirfid = 0;
    Name name;
    std::uint32_t flags = 0;
    XEN9P_FIELDS(dirfid, name, flags)
    friend bool operator==(const Tunlinkat&, const Tunlinkat&) = default;
};

// 9P2000.u requests.
struct Topen {
    static constexpr MsgType kType = MsgType::Topen;
    std::uint32_t fid = 0;
    std::uint8_t mode = 0;  // omode::*
    XEN9P_FIELDS(fid, mode)
    friend bool operator==(const Topen&, const Topen&) = default;
};
struct Tcreate {
    static constexpr MsgType kType = MsgType::Tcreate;
    std::uint32_t fid = 0;
    Name name;
    std::uint32_t perm = 0;  // permission bits and dm::* type bits
    std::uint8_t mode = 0;   // omode::*
    // Symlink target, "c|b MAJOR MINOR" of a device, "FID\n" of a hard link.
    Text extension;
    XEN9P_FIELDS(fid, name, perm, mode, extension)
    friend bool operator==(const Tcreate&, const Tcreate&) = default;
};
struct Tstat {
    static constexpr MsgType kType = MsgType::Tstat;
    std::uint32_t fid = 0;
    XEN9P_FIELDS(fid)
    friend bool operator==(const Tstat&, const Tstat&) = default;
};
struct Twstat {
    static constexpr MsgType kType = MsgType::Twstat;
    std::uint32_t fid = 0;
    WrappedStat stat;
    XEN9P_FIELDS(fid, stat)
    friend bool operator==(const Twstat&, const Twstat&) = default;
};

// ---- replies ----

struct Rlerror {
    static constexpr MsgType kType = MsgType::Rlerror;
    std::uint32_t ecode = 0;
    XEN9P_FIELDS(ecode)
    friend bool operator==(const Rlerror&, const Rlerror&) = default;
};
// 9P2000.u's error: a message and the Linux errno.
struct Rerror {
    static constexpr MsgType kType = MsgType::Rerror;
    Text ename;
    std::uint32_t ecode = 0;
    XEN9P_FIELDS(ename, ecode)
    friend bool operator==(const Rerror&, const Rerror&) = default;
};
struct Rversion {
    static constexpr MsgType kType = MsgType::Rversion;
    std::uint32_t msize = 0;
    Text version;
    XEN9P_FIELDS(msize, version)
    friend bool operator==(const Rversion&, const Rversion&) = default;
};
struct Rauth {
    static constexpr MsgType kType = MsgType::Rauth;
    Qid aqid;
    XEN9P_FIELDS(aqid)
    friend bool operator==(const Rauth&, const Rauth&) = default;
};
struct Rattach {
    static constexpr MsgType kType = MsgType::Rattach;
    Qid qid;
    XEN9P_FIELDS(qid)
    friend bool operator==(const Rattach&, const Rattach&) = default;
};
struct Rflush {
    static constexpr MsgType kType = MsgType::Rflush;
    auto tie() { return std::tuple<>(); }
    auto tie() const { return std::tuple<>(); }
    friend bool operator==(const Rflush&, const Rflush&) = default;
};
struct Rwalk {
    static constexpr MsgType kType = MsgType::Rwalk;
    WalkQids qids;
    XEN9P_FIELDS(qids)
    friend bool operator==(const Rwalk&, const Rwalk&) = default;
};
struct Rread {
    static constexpr MsgType kType = MsgType::Rread;
    Data data;
    XEN9P_FIELDS(data)
    friend bool operator==(const Rread&, const Rread&) = default;
};
struct Rwrite {
    static constexpr MsgType kType = MsgType::Rwrite;
    std::uint32_t count = 0;
    XEN9P_FIELDS(count)
    friend bool operator==(const Rwrite&, const Rwrite&) = default;
};

// Replies with an empty body.
template <MsgType T>
struct EmptyReply {
    static constexpr MsgType kType = T;
    auto tie() { return std::tuple<>(); }
    auto tie() const { return std::tuple<>(); }
    friend bool operator==(const EmptyReply&, const EmptyReply&) = default;
};
using Rclunk = EmptyReply<MsgType::Rclunk>;
using Rremove = EmptyReply<MsgType::Rremove>;
using Rrename = EmptyReply<MsgType::Rrename>;
using Rsetattr = EmptyReply<MsgType::Rsetattr>;
using Rxattrcreate = EmptyReply<MsgType::Rxattrcreate>;
using Rfsync = EmptyReply<MsgType::Rfsync>;
using Rlink = EmptyReply<MsgType::Rlink>;
using Rrenameat = EmptyReply<MsgType::Rrenameat>;
using Runlinkat = EmptyReply<MsgType::Runlinkat>;
using Rwstat = EmptyReply<MsgType::Rwstat>;

struct Rstatfs {
    static constexpr MsgType kType = MsgType::Rstatfs;
    std::uint32_t type = 0;
    std::uint32_t bsize = 0;
    std::uint64_t blocks = 0;
    std::uint64_t bfree = 0;
    std::uint64_t bavail = 0;
    std::uint64_t files = 0;
    std::uint64_t ffree = 0;
    std::uint64_t fsid = 0;
    std::uint32_t namelen = 0;
    XEN9P_FIELDS(type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen)
    friend bool operator==(const Rstatfs&, const Rstatfs&) = default;
};
struct Rlopen {
    static constexpr MsgType kType = MsgType::Rlopen;
    Qid qid;
    std::uint32_t iounit = 0;
    XEN9P_FIELDS(qid, iounit)
    friend bool operator==(const Rlopen&, const Rlopen&) = default;
};
struct Rlcreate {
    static constexpr MsgType kType = MsgType::Rlcreate;
    Qid qid;
    std::uint32_t iounit = 0;
    XEN9P_FIELDS(qid, iounit)
    friend bool operator==(const Rlcreate&, const Rlcreate&) = default;
};
struct Rsymlink {
    static constexpr MsgType kType = MsgType::Rsymlink;
    Qid qid;
    XEN9P_FIELDS(qid)
    friend bool operator==(const Rsymlink&, const Rsymlink&) = default;
};
struct Rmknod {
    static constexpr MsgType kType = MsgType::Rmknod;
    Qid qid;
    XEN9P_FIELDS(qid)
    friend bool operator==(const Rmknod&, const Rmknod&) = default;
};
struct Rreadlink {
    static constexpr MsgType kType = MsgType::Rreadlink;
    Target target;
    XEN9P_FIELDS(target)
    friend bool operator==(const Rreadlink&, const Rreadlink&) = default;
};
struct Rgetattr {
    static constexpr MsgType kType = MsgType::Rgetattr;
    std::uint64_t valid = 0;
    Qid qid;
    std::uint32_t mode = 0;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::uint64_t nlink = 0;
    std::uint64_t rdev = 0;
    std::uint64_t size = 0;
    std::uint64_t blksize = 0;
    std::uint64_t blocks = 0;
    std::uint64_t atime_sec = 0;
    std::uint64_t atime_nsec = 0;
    std::uint64_t mtime_sec = 0;
    std::uint64_t mtime_nsec = 0;
    std::uint64_t ctime_sec = 0;
    std::uint64_t ctime_nsec = 0;
    std::uint64_t btime_sec = 0;
    std::uint64_t btime_nsec = 0;
    std::uint64_t gen = 0;
    std::uint64_t data_version = 0;
    XEN9P_FIELDS(valid, qid, mode, uid, gid, nlink, rdev, size, blksize, blocks, atime_sec,
                 atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, btime_sec, btime_nsec,
                 gen, data_version)
    friend bool operator==(const Rgetattr&, const Rgetattr&) = default;
};
struct Rxattrwalk {
    static constexpr MsgType kType = MsgType::Rxattrwalk;
    std::uint64_t size = 0;
    XEN9P_FIELDS(size)
    friend bool operator==(const Rxattrwalk&, const Rxattrwalk&) = default;
};
struct Rreaddir {
    static constexpr MsgType kType = MsgType::Rreaddir;
    Data data;  // packed entries, see dirent.hpp
    XEN9P_FIELDS(data)
    friend bool operator==(const Rreaddir&, const Rreaddir&) = default;
};
struct Rlock {
    static constexpr MsgType kType = MsgType::Rlock;
    std::uint8_t status = 0;
    XEN9P_FIELDS(status)
    friend bool operator==(const Rlock&, const Rlock&) = default;
};
struct Rgetlock {
    static constexpr MsgType kType = MsgType::Rgetlock;
    std::uint8_t type = 0;
    std::uint64_t start = 0;
    std::uint64_t length = 0;
    std::uint32_t proc_id = 0;
    Text client_id;
    XEN9P_FIELDS(type, start, length, proc_id, client_id)
    friend bool operator==(const Rgetlock&, const Rgetlock&) = default;
};
struct Rmkdir {
    static constexpr MsgType kType = MsgType::Rmkdir;
    Qid qid;
    XEN9P_FIELDS(qid)
    friend bool operator==(const Rmkdir&, const Rmkdir&) = default;
};

struct Ropen {
    static constexpr MsgType kType = MsgType::Ropen;
    Qid qid;
    std::uint32_t iounit = 0;
    XEN9P_FIELDS(qid, iounit)
    friend bool operator==(const Ropen&, const Ropen&) = default;
};
struct Rcreate {
    static constexpr MsgType kType = MsgType::Rcreate;
    Qid qid;
    std::uint32_t iounit = 0;
    XEN9P_FIELDS(qid, iounit)
    friend bool operator==(const Rcreate&, const Rcreate&) = default;
};
struct Rstat {
    static constexpr MsgType kType = MsgType::Rstat;
    WrappedStat stat;
    XEN9P_FIELDS(stat)
    friend bool operator==(const Rstat&, const Rstat&) = default;
};

#undef XEN9P_FIELDS

using RequestBody =
    std::variant<Tversion, Tauth, Tattach, Tflush, Twalk, Tread, Twrite, Tclunk, Tremove, Tstatfs,
                 Tlopen, Tlcreate, Tsymlink, Tmknod, Trename, Treadlink, Tgetattr, Tsetattr,
                 Txattrwalk, Txattrcreate, Treaddir, Tfsync, Tlock, Tgetlock, Tlink, Tmkdir,
                 Trenameat, Tunlinkat, Topen, Tcreate, Tstat, Twstat>;

using ReplyBody =
    std::variant<Rlerror, Rversion, Rauth, Rattach, Rflush, Rwalk, Rread, Rwrite, Rclunk, Rremove,
                 Rstatfs, Rlopen, Rlcreate, Rsymlink, Rmknod, Rrename, Rreadlink, Rgetattr,
                 Rsetattr, Rxattrwalk, Rxattrcreate, Rreaddir, Rfsync, Rlock, Rgetlock, Rlink,
                 Rmkdir, Rrenameat, Runlinkat, Rerror, Ropen, Rcreate, Rstat, Rwstat>;

struct Request {
    std::uint16_t tag = 0;
    RequestBody body;
    friend bool operator==(const Request&, const Request&) = default;
};

struct Reply {
    std::uint16_t tag = 0;
    ReplyBody body;
    friend bool operator==(const Reply&, const Reply&) = default;
};

// The message type of a body.
MsgType type_of(const RequestBody& body);
MsgType type_of(const ReplyBody& body);

// The reply type that answers a request type (Tn -> Tn+1).
constexpr MsgType reply_type_for(MsgType request) {
    return static_cast<MsgType>(static_cast<std::uint8_t>(request) + 1);
}

}  // namespace xen9p::p9proto
