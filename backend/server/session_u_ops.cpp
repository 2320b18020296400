// The 9P2000.u handlers of Session: Topen, Tcreate (files, directories and,
// through perm bits and the extension string, symlinks, hard links, device
// nodes, FIFOs and sockets), Tstat, Twstat, and directory reads as stat
// records. Everything goes through the same fd-anchored file layer as
// 9P2000.L, so security models, read-only exports and limits apply alike.

#include <sys/stat.h>

#include <charconv>
#include <cstring>

#include "backend/fs/attr.hpp"
#include "backend/fs/entries.hpp"
#include "backend/fs/u_stat.hpp"
#include "backend/fs/walk.hpp"
#include "backend/server/session.hpp"
#include "p9proto/open_flags.hpp"
#include "p9proto/u_stat.hpp"

namespace xen9p::server {
namespace {

namespace dm = p9proto::dm;

// An unsigned decimal number at the start of `text`; advances past it.
std::optional<std::uint32_t> take_number(std::string_view& text) {
    std::uint32_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data()) return std::nullopt;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    return value;
}

// The fid number of a hard link's extension: "%d\n" as Linux writes it (the
// newline optional).
std::optional<std::uint32_t> link_fid_of(std::string_view ext) {
    auto fid = take_number(ext);
    if (!fid || !(ext.empty() || ext == "\n")) return std::nullopt;
    return fid;
}

struct DeviceSpec {
    std::uint32_t type = 0;  // S_IFCHR or S_IFBLK
    std::uint32_t major = 0;
    std::uint32_t minor = 0;
};

// A device's extension: "c MAJOR MINOR" or "b MAJOR MINOR".
std::optional<DeviceSpec> device_of(std::string_view ext) {
    if (ext.size() < 2 || ext[1] != ' ') return std::nullopt;
    DeviceSpec spec;
    if (ext[0] == 'c') {
        spec.type = S_IFCHR;
    } else if (ext[0] == 'b') {
        spec.type = S_IFBLK;
    } else {
        return std::nullopt;
    }
    ext.remove_prefix(2);
    auto major_no = take_number(ext);
    if (!major_no || ext.empty() || ext[0] != ' ') return std::nullopt;
    ext.remove_prefix(1);
    auto minor_no = take_number(ext);
    if (!minor_no || !ext.empty()) return std::nullopt;
    spec.major = *major_no;
    spec.minor = *minor_no;
    return spec;
}

}  // namespace

Session::Outcome Session::handle(Slot& slot, const p9proto::Topen& req) {
    fids_.touch(req.fid);  // changes the fid in place
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if ((*f)->file) return error(slot, EBADF);
    const bool rclose = (req.mode & p9proto::omode::kRclose) != 0;
    // Removing at clunk needs a writable export: refused now, not at clunk.
    if (rclose && ex_.read_only()) return error(slot, EROFS);
    if ((p9proto::dotl_flags_of(req.mode) & p9proto::dotl::kTrunc) != 0)
        note_file_intent(slot, StoredIntent::Kind::kTruncates, (*f)->node.fd());
    auto opened = fs::open_node(ex_, (*f)->caller, (*f)->node, p9proto::dotl_flags_of(req.mode));
    if (!opened) return error(slot, opened.error());
    Fid& fid = **f;
    fid.file = std::make_shared<fs::OpenFile>(std::move(opened->file));
    fid.remove_on_clunk = rclose;
    fid.stat_dir = (opened->qid.type & p9proto::qid_type::kDir) != 0;
    fid.dir_offset = 0;
    fid.dir_cookie = 0;
    return reply(slot, p9proto::Ropen{opened->qid, 0});
}

Result<p9proto::Qid> Session::create_entry(const Fid& dir, const p9proto::Tcreate& req) {
    const fs::Caller& who = dir.caller;
    const std::string_view name = req.name.str;
    const std::string_view ext = req.extension.str;
    const std::uint32_t perm = p9proto::host_permissions(req.perm);
    switch (req.perm & (dm::kTypeBits | dm::kLink)) {
        case dm::kDir:
            return fs::make_dir(ex_, who, dir.node, name, perm, who.gid);
        case dm::kSymlink:
            if (ext.empty()) return fail(EINVAL);
            if (ext.size() > p9proto::kMaxPathLength) return fail(ENAMETOOLONG);
            return fs::make_symlink(ex_, who, dir.node, name, ext, who.gid);
        case dm::kLink: {
            auto fid = link_fid_of(ext);
            if (!fid) return fail(EINVAL);
            auto target = node_fid(*fid);
            if (!target) return std::unexpected(target.error());
            if (auto ok = fs::make_link(ex_, who, dir.node, (*target)->node, name); !ok) {
                return std::unexpected(ok.error());
            }
            auto linked = fs::walk_one(ex_, who, dir.node, name);
            if (!linked) return std::unexpected(linked.error());
            return fs::qid_of(ex_, *linked);
        }
        case dm::kDevice: {
            auto dev = device_of(ext);
            if (!dev) return fail(EINVAL);
            return fs::make_node(ex_, who, dir.node, name, dev->type | perm, dev->major, dev->minor,
                                 who.gid);
        }
        case dm::kNamedPipe:
            return fs::make_node(ex_, who, dir.node, name, S_IFIFO | perm, 0, 0, who.gid);
        case dm::kSocket:
            return fs::make_node(ex_, who, dir.node, name, S_IFSOCK | perm, 0, 0, who.gid);
        default:
            // More than one type at once.
            return fail(EINVAL);
    }
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tcreate& req) {
    fids_.touch(req.fid);  // changes the fid in place
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    Fid& dir = **f;
    if (dir.file) return error(slot, EBADF);
    const bool rclose = (req.mode & p9proto::omode::kRclose) != 0;
    const std::uint32_t flags = p9proto::dotl_flags_of(req.mode);
    note_entry_intent(slot, StoredIntent::Kind::kCreates, dir.node.fd(), req.name.str);
    if ((req.perm & (dm::kTypeBits | dm::kLink)) == 0) {
        auto created = fs::create_file(ex_, dir.caller, dir.node, req.name.str, flags,
                                       p9proto::host_permissions(req.perm), dir.caller.gid);
        if (!created) return error(slot, created.error());
        // The fid now names the new file, opened.
        dir.node = std::move(created->node);
        dir.file = std::make_shared<fs::OpenFile>(std::move(created->file));
        dir.remove_on_clunk = rclose;
        return reply(slot, p9proto::Rcreate{created->qid, 0});
    }
    auto qid = create_entry(dir, req);
    if (!qid) return error(slot, qid.error());
    auto made = take_created(dir, req);
    if (!made) return error(slot, made.error());
    return reply(slot, p9proto::Rcreate{*made, 0});
}

Result<p9proto::Qid> Session::take_created(Fid& fid, const p9proto::Tcreate& req) {
    // The fid now names the new entry; a file or directory is opened as
    // Topen would (a file only once made: its creation opened it).
    auto node = fs::walk_one(ex_, fid.caller, fid.node, req.name.str);
    if (!node) return std::unexpected(node.error());
    const bool file = (req.perm & (dm::kTypeBits | dm::kLink)) == 0;
    if (!file && (req.perm & dm::kDir) == 0) {
        auto qid = fs::qid_of(ex_, *node);
        if (!qid) return std::unexpected(qid.error());
        fid.node = std::move(*node);
        return *qid;
    }
    const auto flags = p9proto::dotl_flags_of(req.mode) &
                       ~(p9proto::dotl::kCreate | p9proto::dotl::kExcl | p9proto::dotl::kTrunc);
    auto opened = fs::open_node(ex_, fid.caller, *node, flags);
    if (!opened) return std::unexpected(opened.error());
    fid.file = std::make_shared<fs::OpenFile>(std::move(opened->file));
    fid.stat_dir = !file;
    fid.dir_offset = 0;
    fid.dir_cookie = 0;
    fid.remove_on_clunk = (req.mode & p9proto::omode::kRclose) != 0;
    fid.node = std::move(*node);
    return opened->qid;
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tstat& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    const fs::Node& node = (*f)->node;
    // The root has no entry name; Plan 9 calls it "/".
    const std::string_view name = node.parent_fd() < 0 ? std::string_view("/") : node.name();
    std::string extension;
    auto st = fs::u_stat(ex_, (*f)->caller, node, name, extension);
    if (!st) return error(slot, st.error());
    return reply(slot, p9proto::Rstat{{*st}});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Twstat& req) {
    fids_.touch(req.fid);  // changes the fid in place
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    Fid& fid = **f;
    const p9proto::UStat& st = req.stat.stat;
    namespace sa = p9proto::setattr;
    // Each field that does not hold its "don't touch" value becomes one part
    // of a Tsetattr. The type bits of mode, type, dev, qid, muid and
    // extension cannot change a file and are ignored, as are the uid and gid
    // strings (the numeric n_uid and n_gid name owners; there is no account
    // database to look names up in).
    p9proto::Tsetattr attr;
    attr.fid = req.fid;
    if (st.mode != p9proto::kKeep32) {
        attr.valid |= sa::kMode;
        attr.mode = p9proto::host_permissions(st.mode);
    }
    if (st.n_uid != p9proto::kKeep32) {
        attr.valid |= sa::kUid;
        attr.uid = st.n_uid;
    }
    if (st.n_gid != p9proto::kKeep32) {
        attr.valid |= sa::kGid;
        attr.gid = st.n_gid;
    }
    if (st.length != p9proto::kKeep64) {
        attr.valid |= sa::kSize;
        attr.size = st.length;
    }
    if (st.atime != p9proto::kKeep32) {
        attr.valid |= sa::kAtime | sa::kAtimeSet;
        attr.atime_sec = st.atime;
    }
    if (st.mtime != p9proto::kKeep32) {
        attr.valid |= sa::kMtime | sa::kMtimeSet;
        attr.mtime_sec = st.mtime;
    }
    const std::string_view new_name = st.name.str;
    const bool rename = !new_name.empty() && new_name != fid.node.name();
    // The new name comes last: once there, the rest was done. A length,
    // without a rename, is judged as a truncating setattr is. Both at once
    // leave nothing to tell the truncation by; modes, owners and times
    // are the same when set again.
    const bool truncates = (attr.valid & sa::kSize) != 0;
    if (rename && truncates)
        note_intent(slot, {.kind = StoredIntent::Kind::kOpaque});
    else if (rename)
        note_entry_intent(slot, StoredIntent::Kind::kRenames, fid.node.parent_fd(),
                          fid.node.name());
    else if (truncates)
        note_file_intent(slot, StoredIntent::Kind::kTruncates, fid.node.fd());
    if (attr.valid == 0 && !rename) {
        // Every field "don't touch": commit the file (Linux's fsync under .u).
        if (!fid.file) return reply(slot, p9proto::Rwstat{});
        slot.file = fid.file;
        slot.state = State::kIo;
        ++io_pending_;
        loop_.fsync(fid.file->fd(), false, &slot);
        return Outcome::kAsync;
    }
    if (attr.valid != 0) {
        if (auto ok = fs::setattr(ex_, fid.caller, fid.node, fid.file.get(), attr); !ok) {
            return error(slot, ok.error());
        }
    }
    if (rename) {
        // A new name within the same directory, never a path.
        if (fid.node.parent_fd() < 0) return error(slot, EBUSY);
        if (auto ok = fs::rename_node(ex_, fid.caller, fid.node, fid.node.parent(), new_name);
            !ok) {
            return error(slot, ok.error());
        }
    }
    return reply(slot, p9proto::Rwstat{});
}

Session::Outcome Session::read_stats(Slot& slot, Fid& fid, const p9proto::Tread& req) {
    fids_.touch(req.fid);  // changes the fid in place
    // A directory read continues where the previous one ended or starts
    // over at 0 (read(5)); the offset is a position in the stream of records.
    if (req.offset == 0) {
        fid.dir_offset = 0;
        fid.dir_cookie = 0;
    } else if (req.offset != fid.dir_offset) {
        return error(slot, EINVAL);
    }
    std::size_t room = data_room(slot, req.count);
    auto read = fs::read_dir_stats(ex_, fid.caller, fid.node, *fid.file, fid.dir_cookie,
                                   slot.reply.span().subspan(p9proto::kDataReplyHeaderSize, room));
    if (!read) return error(slot, read.error());
    fid.dir_offset += read->size;
    fid.dir_cookie = read->next_cookie;
    p9proto::encode_data_reply_header(p9proto::MsgType::Rread, slot.tag,
                                      static_cast<std::uint32_t>(read->size),
                                      slot.reply.span().first<p9proto::kDataReplyHeaderSize>());
    slot.reply_size = p9proto::kDataReplyHeaderSize + read->size;
    return Outcome::kReply;
}

}  // namespace xen9p::server
