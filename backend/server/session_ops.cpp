// The per-op handlers of Session: fid bookkeeping here, file work in backend/fs,
// reads, writes and fsync on io_uring.

#include <algorithm>
#include <cstring>

#include "backend/fs/attr.hpp"
#include "backend/fs/entries.hpp"
#include "backend/fs/readdir.hpp"
#include "backend/fs/walk.hpp"
#include "backend/fs/xattr.hpp"
#include "backend/server/session.hpp"
#include "base/parse_number.hpp"
#include "p9proto/open_flags.hpp"

namespace xen9p::server {
namespace {

// The identity a Tattach names: n_uname when given, else uname as a number
// or one of the two names clients send without a uid ("root", and Linux's
// default "nobody"). No account database is consulted: a worker runs pivoted
// into the export, whose /etc (and NSS modules) the guest controls, and a
// guest's user names mean nothing on the host anyway.
Result<fs::Caller> caller_of(const p9proto::Tattach& req) {
    constexpr uid_t kOverflowId = 65534;  // nobody / nogroup
    uid_t uid = 0;
    if (req.n_uname != p9proto::kNoUname) {
        uid = req.n_uname;
    } else {
        const std::string_view name = req.uname.str;
        if (const auto number = parse_number<uid_t>(name)) {
            uid = *number;
        } else if (name == "root") {
            uid = 0;
        } else if (name == "nobody") {
            uid = kOverflowId;
        } else {
            return fail(EPERM);
        }
    }
    // Tattach carries no group: the uid's number stands in until creating ops name one.
    return fs::Caller{uid, uid, req.n_uname != p9proto::kNoUname};
}

}  // namespace

Result<Fid*> Session::node_fid(std::uint32_t fid) {
    Fid* f = fids_.find(fid);
    if (f == nullptr) return fail(EBADF);
    if (f->kind != Fid::Kind::kFile) return fail(EINVAL);
    return f;
}

std::size_t Session::data_room(const Slot& slot, std::uint32_t count) const {
    std::size_t room = slot.capacity > p9proto::kDataReplyHeaderSize
                           ? slot.capacity - p9proto::kDataReplyHeaderSize
                           : 0;
    return std::min<std::size_t>(room, count);
}

Status Session::clunk(std::uint32_t fid) {
    Fid* f = fids_.find(fid);
    if (f == nullptr) return fail(EBADF);
    Status result;
    if (f->kind == Fid::Kind::kXattrWrite) {
        // The value is committed only when exactly the announced size arrived.
        if (f->xattr.size() != f->xattr_size) {
            result = fail(EINVAL);
        } else if (f->xattr_size == 0) {
            result = fs::xattr_remove(ex_, f->caller, f->node, f->xattr_name);
        } else {
            result =
                fs::xattr_set(ex_, f->caller, f->node, f->xattr_name, f->xattr, f->xattr_flags);
        }
    } else if (f->remove_on_clunk) {
        // Its descriptor stays open (the retired copy) while a record may
        // name it.
        fids_.touch(fid);
        f = fids_.find(fid);
        f->file.reset();
        result = fs::remove_node(ex_, f->caller, f->node);
    }
    fids_.erase(fid);
    return result;
}

std::shared_ptr<XattrSlot> Session::take_xattr_slot(std::size_t size) {
    if (store_ == nullptr || size > fs::kMaxXattrSize) return nullptr;
    const auto index = store_->take_xattr_slot();
    if (!index) return nullptr;
    return std::make_shared<XattrSlot>(*store_, *index);
}

bool Session::xattr_exists(const Fid& fid) {
    return fs::xattr_get(ex_, fid.caller, fid.node, fid.xattr_name).has_value();
}

Result<MemoryCharge> Session::charge_value(std::size_t bytes) {
    auto charge = MemoryCharge::take(value_budget_, bytes);
    // Only the peer can give this memory back (by clunking), so waiting for
    // it could wait forever: a precise error instead.
    if (!charge) return fail(ENOMEM);
    return std::move(*charge);
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tauth&) {
    // No authentication: diod's clients go on to attach only on ENOENT.
    return error(slot, ENOENT);
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tattach& req) {
    if (req.afid != p9proto::kNoFid) return error(slot, EBADF);
    if (!req.aname.str.empty() && req.aname.str != config_.aname) return error(slot, ENOENT);
    auto who = caller_of(req);
    if (!who) return error(slot, who.error());
    auto root = ex_.root();
    if (!root) return error(slot, root.error());
    auto qid = fs::qid_of(ex_, *root);
    if (!qid) return error(slot, qid.error());
    auto fid = fids_.insert(req.fid);
    if (!fid) return error(slot, fid.error());
    (*fid)->node = std::move(*root);
    (*fid)->caller = *who;
    return reply(slot, p9proto::Rattach{*qid});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Twalk& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if (req.newfid != req.fid && fids_.find(req.newfid) != nullptr) return error(slot, EBADF);
    fs::Caller who = (*f)->caller;
    fs::Node node = (*f)->node.clone();
    p9proto::Rwalk out;
    for (const p9proto::WalkName& name : req.names.view()) {
        auto next = fs::walk_one(ex_, who, node, name.str);
        Result<p9proto::Qid> qid = next ? fs::qid_of(ex_, *next) : std::unexpected(next.error());
        if (!qid) {
            if (out.qids.count == 0) return error(slot, qid.error());
            // A partial walk answers the qids found; newfid stays unused.
            return reply(slot, out);
        }
        out.qids.qids[out.qids.count++] = *qid;
        node = std::move(*next);
    }
    Fid walked;
    walked.node = std::move(node);
    walked.caller = who;
    if (auto inserted = fids_.replace(req.newfid, std::move(walked)); !inserted) {
        return error(slot, inserted.error());
    }
    return reply(slot, out);
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tread& req) {
    Fid* f = fids_.find(req.fid);
    if (f == nullptr) return error(slot, EBADF);
    std::size_t room = data_room(slot, req.count);
    std::span<std::byte> payload = slot.reply.span().subspan(p9proto::kDataReplyHeaderSize, room);
    if (f->kind == Fid::Kind::kXattrRead) {
        std::size_t n = req.offset >= f->xattr.size()
                            ? 0
                            : std::min<std::size_t>(room, f->xattr.size() - req.offset);
        if (n != 0) std::memcpy(payload.data(), f->xattr.data() + req.offset, n);
        p9proto::encode_data_reply_header(p9proto::MsgType::Rread, slot.tag,
                                          static_cast<std::uint32_t>(n),
                                          slot.reply.span().first<p9proto::kDataReplyHeaderSize>());
        slot.reply_size = p9proto::kDataReplyHeaderSize + n;
        return Outcome::kReply;
    }
    if (f->kind != Fid::Kind::kFile || !f->file) return error(slot, EBADF);
    if (f->stat_dir) return read_stats(slot, *f, req);
    slot.file = f->file;
    slot.state = State::kIo;
    ++io_pending_;
    slot.io_count = room;
    slot.io_offset = req.offset;
    // Straight into the reply's room in the ring, when there is some; but
    // only what the page cache holds (read_now), as the replies placed
    // behind that room wait for it: a read that waits for a device is done
    // again into the slot (io_done).
    if (auto space =
            room != 0 ? transport_->reserve_reply(slot.origin, p9proto::kDataReplyHeaderSize, room)
                      : std::nullopt) {
        slot.in_place = true;
        slot.pieces = {iovec{space->first.data(), space->first.size()},
                       iovec{space->second.data(), space->second.size()}};
        loop_.read_now(f->file->fd(), std::span(slot.pieces).first(space->second.empty() ? 1 : 2),
                       req.offset, &slot);
        return Outcome::kAsync;
    }
    loop_.read(f->file->fd(), payload, req.offset, &slot);
    return Outcome::kAsync;
}

SplitBytes Session::write_data(const Slot& slot, const p9proto::Twrite& req) {
    return slot.elsewhere.empty() ? SplitBytes{req.data.bytes, {}} : slot.elsewhere;
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Twrite& req) {
    Fid* f = fids_.find(req.fid);
    if (f == nullptr) return error(slot, EBADF);
    const SplitBytes data = write_data(slot, req);
    if (f->kind == Fid::Kind::kXattrWrite) {
        if (req.offset != f->xattr.size() || data.size() > f->xattr_size - f->xattr.size()) {
            return error(slot, EINVAL);
        }
        fids_.touch(req.fid);
        f = fids_.find(req.fid);
        // Out of the guest's reach once: the value kept here and the store's
        // copy of it are the same bytes, even if the guest changes its own.
        const std::size_t at = f->xattr.size();
        f->xattr.insert(f->xattr.end(), data.first.begin(), data.first.end());
        f->xattr.insert(f->xattr.end(), data.second.begin(), data.second.end());
        if (f->xattr_slot)
            std::memcpy(f->xattr_slot->value().data() + at, f->xattr.data() + at, data.size());
        return reply(slot, p9proto::Rwrite{static_cast<std::uint32_t>(data.size())});
    }
    if (f->kind != Fid::Kind::kFile || !f->file) return error(slot, EBADF);
    // Appended, the same bytes would land twice if it ran again.
    if ((f->file->flags() & O_APPEND) != 0)
        note_file_intent(slot, StoredIntent::Kind::kAppends, f->file->fd());
    if (auto ok = fs::prepare_write(ex_, *f->file, req.offset, data.size()); !ok) {
        return error(slot, ok.error());
    }
    slot.file = f->file;
    slot.state = State::kIo;
    ++io_pending_;
    if (slot.elsewhere.empty()) {
        loop_.write(f->file->fd(), data.first, req.offset, &slot);
        return Outcome::kAsync;
    }
    // Straight from the guest's memory: the kernel takes the bytes once.
    const auto piece = [](std::span<const std::byte> bytes) {
        return iovec{const_cast<std::byte*>(bytes.data()), bytes.size()};
    };
    slot.pieces = {piece(data.first), piece(data.second)};
    loop_.write(f->file->fd(),
                std::span<const iovec>(slot.pieces).first(data.second.empty() ? 1 : 2), req.offset,
                &slot);
    return Outcome::kAsync;
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tfsync& req) {
    Fid* f = fids_.find(req.fid);
    if (f == nullptr || f->kind != Fid::Kind::kFile || !f->file) return error(slot, EBADF);
    slot.file = f->file;
    slot.state = State::kIo;
    ++io_pending_;
    loop_.fsync(f->file->fd(), req.datasync != 0, &slot);
    return Outcome::kAsync;
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tclunk& req) {
    const Fid* f = fids_.find(req.fid);
    // An ORCLOSE file's removal: the entry tells whether it was done.
    if (f != nullptr && f->remove_on_clunk)
        note_entry_intent(slot, StoredIntent::Kind::kRemoves, f->node.parent_fd(), f->node.name());
    // Setting an xattr twice is the same set, except where it must not
    // exist before or is removed: whether it existed then tells.
    if (f != nullptr && f->kind == Fid::Kind::kXattrWrite &&
        (f->xattr_size == 0 || f->xattr_flags == p9proto::kXattrCreate))
        note_intent(slot, {.kind = StoredIntent::Kind::kXattrs, .existed = xattr_exists(*f)});
    if (auto ok = clunk(req.fid); !ok) return error(slot, ok.error());
    return reply(slot, p9proto::Rclunk{});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tremove& req) {
    auto f = node_fid(req.fid);
    if (!f) {
        fids_.erase(req.fid);
        return error(slot, f.error());
    }
    note_entry_intent(slot, StoredIntent::Kind::kRemoves, (*f)->node.parent_fd(),
                      (*f)->node.name());
    Status removed = fs::remove_node(ex_, (*f)->caller, (*f)->node);
    // Tremove clunks the fid whether or not the unlink worked.
    fids_.erase(req.fid);
    if (!removed) return error(slot, removed.error());
    return reply(slot, p9proto::Rremove{});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tstatfs& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    auto st = fs::statfs((*f)->node);
    if (!st) return error(slot, st.error());
    return reply(slot, *st);
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tlopen& req) {
    fids_.touch(req.fid);  // changes the fid in place
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if ((*f)->file) return error(slot, EBADF);
    if ((req.flags & p9proto::dotl::kTrunc) != 0)
        note_file_intent(slot, StoredIntent::Kind::kTruncates, (*f)->node.fd());
    auto opened = fs::open_node(ex_, (*f)->caller, (*f)->node, req.flags);
    if (!opened) return error(slot, opened.error());
    (*f)->file = std::make_shared<fs::OpenFile>(std::move(opened->file));
    return reply(slot, p9proto::Rlopen{opened->qid, 0});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tlcreate& req) {
    fids_.touch(req.fid);  // changes the fid in place
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if ((*f)->file) return error(slot, EBADF);
    note_entry_intent(slot, StoredIntent::Kind::kCreates, (*f)->node.fd(), req.name.str);
    auto created =
        fs::create_file(ex_, (*f)->caller, (*f)->node, req.name.str, req.flags, req.mode, req.gid);
    if (!created) return error(slot, created.error());
    // The fid now names the new file, opened.
    (*f)->node = std::move(created->node);
    (*f)->file = std::make_shared<fs::OpenFile>(std::move(created->file));
    return reply(slot, p9proto::Rlcreate{created->qid, 0});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tsymlink& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    note_entry_intent(slot, StoredIntent::Kind::kCreates, (*f)->node.fd(), req.name.str);
    auto qid =
        fs::make_symlink(ex_, (*f)->caller, (*f)->node, req.name.str, req.target.str, req.gid);
    if (!qid) return error(slot, qid.error());
    return reply(slot, p9proto::Rsymlink{*qid});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tmknod& req) {
    auto f = node_fid(req.dfid);
    if (!f) return error(slot, f.error());
    note_entry_intent(slot, StoredIntent::Kind::kCreates, (*f)->node.fd(), req.name.str);
    auto qid = fs::make_node(ex_, (*f)->caller, (*f)->node, req.name.str, req.mode, req.major,
                             req.minor, req.gid);
    if (!qid) return error(slot, qid.error());
    return reply(slot, p9proto::Rmknod{*qid});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tmkdir& req) {
    auto f = node_fid(req.dfid);
    if (!f) return error(slot, f.error());
    note_entry_intent(slot, StoredIntent::Kind::kCreates, (*f)->node.fd(), req.name.str);
    auto qid = fs::make_dir(ex_, (*f)->caller, (*f)->node, req.name.str, req.mode, req.gid);
    if (!qid) return error(slot, qid.error());
    return reply(slot, p9proto::Rmkdir{*qid});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Trename& req) {
    fids_.touch(req.fid);  // changes the fid in place
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    auto dir = node_fid(req.dfid);
    if (!dir) return error(slot, dir.error());
    note_entry_intent(slot, StoredIntent::Kind::kRenames, (*f)->node.parent_fd(),
                      (*f)->node.name());
    if (auto ok = fs::rename_node(ex_, (*f)->caller, (*f)->node, (*dir)->node, req.name.str); !ok) {
        return error(slot, ok.error());
    }
    return reply(slot, p9proto::Rrename{});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Trenameat& req) {
    auto from = node_fid(req.olddirfid);
    if (!from) return error(slot, from.error());
    auto to = node_fid(req.newdirfid);
    if (!to) return error(slot, to.error());
    note_entry_intent(slot, StoredIntent::Kind::kRenames, (*from)->node.fd(), req.oldname.str);
    if (auto ok = fs::rename_at(ex_, (*from)->caller, (*from)->node, req.oldname.str, (*to)->node,
                                req.newname.str);
        !ok) {
        return error(slot, ok.error());
    }
    return reply(slot, p9proto::Rrenameat{});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tunlinkat& req) {
    auto f = node_fid(req.dirfid);
    if (!f) return error(slot, f.error());
    note_entry_intent(slot, StoredIntent::Kind::kRemoves, (*f)->node.fd(), req.name.str);
    if (auto ok = fs::unlink_at(ex_, (*f)->caller, (*f)->node, req.name.str, req.flags); !ok) {
        return error(slot, ok.error());
    }
    return reply(slot, p9proto::Runlinkat{});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tlink& req) {
    auto dir = node_fid(req.dfid);
    if (!dir) return error(slot, dir.error());
    auto target = node_fid(req.fid);
    if (!target) return error(slot, target.error());
    note_entry_intent(slot, StoredIntent::Kind::kCreates, (*dir)->node.fd(), req.name.str);
    if (auto ok = fs::make_link(ex_, (*dir)->caller, (*dir)->node, (*target)->node, req.name.str);
        !ok) {
        return error(slot, ok.error());
    }
    return reply(slot, p9proto::Rlink{});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Treadlink& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    auto target = fs::read_link(ex_, (*f)->caller, (*f)->node);
    if (!target) return error(slot, target.error());
    return reply(slot, p9proto::Rreadlink{{*target}});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tgetattr& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    auto attr = fs::getattr(ex_, (*f)->node, req.request_mask);
    if (!attr) return error(slot, attr.error());
    return reply(slot, *attr);
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tsetattr& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if ((req.valid & p9proto::setattr::kSize) != 0)
        note_file_intent(slot, StoredIntent::Kind::kTruncates, (*f)->node.fd());
    if (auto ok = fs::setattr(ex_, (*f)->caller, (*f)->node, (*f)->file.get(), req); !ok) {
        return error(slot, ok.error());
    }
    return reply(slot, p9proto::Rsetattr{});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Txattrwalk& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if (req.newfid != req.fid && fids_.find(req.newfid) != nullptr) return error(slot, EBADF);
    auto value = req.name.str.empty() ? fs::xattr_list(ex_, (*f)->caller, (*f)->node)
                                      : fs::xattr_get(ex_, (*f)->caller, (*f)->node, req.name.str);
    if (!value) return error(slot, value.error());
    auto charge = charge_value(value->capacity());
    if (!charge) return error(slot, charge.error());
    Fid walked;
    walked.kind = Fid::Kind::kXattrRead;
    walked.xattr_charge = std::move(*charge);
    walked.node = (*f)->node.clone();
    walked.caller = (*f)->caller;
    walked.xattr = std::move(*value);
    std::uint64_t size = walked.xattr.size();
    walked.xattr_slot = take_xattr_slot(size);
    if (walked.xattr_slot)
        std::memcpy(walked.xattr_slot->value().data(), walked.xattr.data(), size);
    if (auto inserted = fids_.replace(req.newfid, std::move(walked)); !inserted) {
        return error(slot, inserted.error());
    }
    return reply(slot, p9proto::Rxattrwalk{size});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Txattrcreate& req) {
    fids_.touch(req.fid);  // changes the fid in place
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if (req.attr_size > fs::kMaxXattrSize) return error(slot, E2BIG);
    if (req.flags != 0 && req.flags != p9proto::kXattrCreate &&
        req.flags != p9proto::kXattrReplace) {
        return error(slot, EINVAL);
    }
    if (ex_.read_only()) return error(slot, EROFS);
    // A name clunk would refuse is refused before the value is charged, so no
    // guest pins up to kMaxXattrSize per fid for a value that cannot be set.
    if (auto named = fs::check_xattr_name(ex_, req.name.str); !named) {
        return error(slot, named.error());
    }
    auto charge = charge_value(req.attr_size);
    if (!charge) return error(slot, charge.error());
    Fid& fid = **f;
    fid.kind = Fid::Kind::kXattrWrite;
    fid.file.reset();
    fid.xattr.clear();
    // Its whole size at once, so the writes that fill it allocate nothing more.
    fid.xattr.reserve(req.attr_size);
    fid.xattr_charge = std::move(*charge);
    fid.xattr_name = req.name.str;
    fid.xattr_size = req.attr_size;
    fid.xattr_flags = req.flags;
    fid.xattr_slot = take_xattr_slot(req.attr_size);
    return reply(slot, p9proto::Rxattrcreate{});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Treaddir& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if (!(*f)->file) return error(slot, EBADF);
    std::size_t room = data_room(slot, req.count);
    auto used = fs::read_dir(ex_, *(*f)->file, req.offset,
                             slot.reply.span().subspan(p9proto::kDataReplyHeaderSize, room));
    if (!used) return error(slot, used.error());
    p9proto::encode_data_reply_header(p9proto::MsgType::Rreaddir, slot.tag,
                                      static_cast<std::uint32_t>(*used),
                                      slot.reply.span().first<p9proto::kDataReplyHeaderSize>());
    slot.reply_size = p9proto::kDataReplyHeaderSize + *used;
    return Outcome::kReply;
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tlock& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if (!(*f)->file) return error(slot, EBADF);
    (*f)->file->locks().record_with(store_);
    auto status = (*f)->file->locks().lock(ex_, (*f)->caller, *(*f)->file, req);
    if (!status) return error(slot, status.error());
    return reply(slot, p9proto::Rlock{*status});
}

Session::Outcome Session::handle(Slot& slot, const p9proto::Tgetlock& req) {
    auto f = node_fid(req.fid);
    if (!f) return error(slot, f.error());
    if (!(*f)->file) return error(slot, EBADF);
    (*f)->file->locks().record_with(store_);
    auto found = (*f)->file->locks().getlock(ex_, (*f)->caller, *(*f)->file, req);
    if (!found) return error(slot, found.error());
    return reply(slot, *found);
}

}  // namespace xen9p::server
