// Requests a dead server had taken and not answered. One that changes files
// notes, before it does, what tells whether it did (an intent in the
// session store); its replacement looks at the files: not done, the request
// runs again; done, it is answered as it would have been, without running
// twice. A request with no intent in the store had changed nothing yet.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "backend/fs/attr.hpp"
#include "backend/fs/host_file.hpp"
#include "backend/fs/open_file.hpp"
#include "backend/fs/walk.hpp"
#include "backend/log/log.hpp"
#include "backend/server/session.hpp"
#include "p9proto/msg_type_name.hpp"
#include "p9proto/open_flags.hpp"

namespace xen9p::server {
namespace {

using Kind = StoredIntent::Kind;

// The file an entry names now, not following a symlink.
std::optional<struct statx> entry_stat(int dir_fd, std::string_view name) {
    struct statx st {};
    const std::string path(name);
    if (dir_fd < 0 || ::statx(dir_fd, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_INO, &st) != 0)
        return std::nullopt;
    return st;
}

std::uint64_t dev_of(const struct statx& st) {
    return makedev(st.stx_dev_major, st.stx_dev_minor);
}

bool same_file(const std::optional<struct statx>& now, const StoredIntent& before) {
    return now && dev_of(*now) == before.dev && now->stx_ino == before.ino;
}

}  // namespace

void Session::note_entry_intent(Slot& slot, Kind kind, int dir_fd, std::string_view name) {
    if (store_ == nullptr) return;
    StoredIntent intent;
    intent.kind = kind;
    if (auto st = entry_stat(dir_fd, name)) {
        intent.existed = true;
        intent.dev = dev_of(*st);
        intent.ino = st->stx_ino;
    }
    note_intent(slot, intent);
}

void Session::note_file_intent(Slot& slot, Kind kind, int fd) {
    if (store_ == nullptr) return;
    StoredIntent intent;
    intent.kind = kind;
    if (auto st = fs::stat_fd(fd, STATX_SIZE | STATX_INO)) {
        intent.existed = true;
        intent.dev = dev_of(*st);
        intent.ino = st->stx_ino;
        intent.size = st->stx_size;
    }
    note_intent(slot, intent);
}

void Session::note_intent(Slot& slot, StoredIntent intent) {
    if (store_ == nullptr) return;
    intent.route = slot.origin.route;
    intent.request = slot.origin.position;
    intent.type = static_cast<std::uint32_t>(slot.type);
    const auto previous = std::exchange(slot.intent, store_->note_intent(intent));
    // A request run again notes its own before the dead server's goes.
    if (previous != kNoIntent) store_->clear_intent(previous);
}

Session::Outcome Session::redo(Slot& slot, const p9proto::Request& request,
                               const StoredIntent& intent) {
    using namespace p9proto;
    slot.intent = intent.record;
    const auto& body = request.body;
    // Noted for another request (the store may have been scribbled on).
    if (intent.type != static_cast<std::uint32_t>(slot.type)) return lost(slot);
    // The fid's node, for the checks below; a missing fid fails as before.
    auto node = [&](std::uint32_t fid) -> const Fid* { return fids_.find(fid); };
    switch (intent.kind) {
        case Kind::kCreates: {
            std::uint32_t dir_fid = 0;
            std::string_view name;
            if (auto* r = std::get_if<Tmkdir>(&body)) dir_fid = r->dfid, name = r->name.str;
            if (auto* r = std::get_if<Tsymlink>(&body)) dir_fid = r->fid, name = r->name.str;
            if (auto* r = std::get_if<Tmknod>(&body)) dir_fid = r->dfid, name = r->name.str;
            if (auto* r = std::get_if<Tlink>(&body)) dir_fid = r->dfid, name = r->name.str;
            if (auto* r = std::get_if<Tlcreate>(&body)) dir_fid = r->fid, name = r->name.str;
            if (auto* r = std::get_if<Tcreate>(&body)) dir_fid = r->fid, name = r->name.str;
            const Fid* dir = node(dir_fid);
            // It existed before: the request failed with EEXIST and does again.
            if (dir == nullptr || intent.existed || !entry_stat(dir->node.fd(), name))
                return dispatch(slot, request);
            if (slot.type == MsgType::Tlink) return reply(slot, Rlink{});
            if (auto* create = std::get_if<Tcreate>(&body)) {
                // Made, not yet taken by the fid: taken now, as it was.
                fids_.touch(create->fid);
                auto qid = take_created(*fids_.find(create->fid), *create);
                // Made read-only: only its creation could open it for writing.
                if (!qid) return lost(slot);
                return reply(slot, Rcreate{*qid, 0});
            }
            auto made = fs::walk_one(ex_, dir->caller, dir->node, name);
            if (!made) return error(slot, made.error());
            if (auto* create = std::get_if<Tlcreate>(&body)) {
                // Made, not yet opened for the fid: opened now, as it was.
                fids_.touch(create->fid);
                Fid& f = *fids_.find(create->fid);
                const auto flags = create->flags & ~(dotl::kCreate | dotl::kExcl | dotl::kTrunc);
                auto opened = fs::open_node(ex_, f.caller, *made, flags);
                // Made read-only: only its creation could open it for writing.
                if (!opened) return lost(slot);
                f.node = std::move(*made);
                f.file = std::make_shared<fs::OpenFile>(std::move(opened->file));
                return reply(slot, Rlcreate{opened->qid, 0});
            }
            auto qid = fs::qid_of(ex_, *made);
            if (!qid) return error(slot, qid.error());
            if (slot.type == MsgType::Tmkdir) return reply(slot, Rmkdir{*qid});
            if (slot.type == MsgType::Tsymlink) return reply(slot, Rsymlink{*qid});
            return reply(slot, Rmknod{*qid});
        }
        case Kind::kRemoves:
        case Kind::kRenames: {
            int dir_fd = -1;
            std::string_view name;
            const Fid* moved = nullptr;
            if (auto* r = std::get_if<Tunlinkat>(&body); r && node(r->dirfid))
                dir_fd = node(r->dirfid)->node.fd(), name = r->name.str;
            if (auto* r = std::get_if<Trenameat>(&body); r && node(r->olddirfid))
                dir_fd = node(r->olddirfid)->node.fd(), name = r->oldname.str;
            if (auto* r = std::get_if<Tremove>(&body)) moved = node(r->fid);
            if (auto* r = std::get_if<Trename>(&body)) moved = node(r->fid);
            // 9P2000.u: an ORCLOSE file's clunk, a Twstat's new name.
            if (auto* r = std::get_if<Tclunk>(&body)) moved = node(r->fid);
            if (auto* r = std::get_if<Twstat>(&body)) moved = node(r->fid);
            if (moved != nullptr) dir_fd = moved->node.parent_fd(), name = moved->node.name();
            // Still there: not done.
            if (!intent.existed || same_file(entry_stat(dir_fd, name), intent))
                return dispatch(slot, request);
            if (auto* r = std::get_if<Tremove>(&body)) {
                fids_.erase(r->fid);
                return reply(slot, Rremove{});
            }
            if (auto* r = std::get_if<Tclunk>(&body)) {
                fids_.erase(r->fid);
                return reply(slot, Rclunk{});
            }
            if (auto* r = std::get_if<Twstat>(&body)) {
                // The new name comes last: the rest was done before it.
                fids_.touch(r->fid);
                Fid& f = *fids_.find(r->fid);
                f.node.moved(f.node.parent(), r->stat.stat.name.str);
                return reply(slot, Rwstat{});
            }
            if (auto* r = std::get_if<Trename>(&body)) {
                const Fid* to = node(r->dfid);
                if (to == nullptr) return error(slot, EBADF);
                fids_.touch(r->fid);
                fids_.find(r->fid)->node.moved(to->node, r->name.str);
                return reply(slot, Rrename{});
            }
            if (slot.type == MsgType::Trenameat) return reply(slot, Rrenameat{});
            return reply(slot, Runlinkat{});
        }
        case Kind::kTruncates: {
            // Done if the size moved from what it was (a write acknowledged
            // since may have moved it again: not truncated over), or is
            // already the one asked for.
            const Tlopen* open = std::get_if<Tlopen>(&body);
            const Tsetattr* set = std::get_if<Tsetattr>(&body);
            const Topen* u_open = std::get_if<Topen>(&body);
            const Twstat* wstat = std::get_if<Twstat>(&body);
            const std::uint32_t fid = open != nullptr     ? open->fid
                                      : set != nullptr    ? set->fid
                                      : u_open != nullptr ? u_open->fid
                                      : wstat != nullptr  ? wstat->fid
                                                          : kNoFid;
            const Fid* f = node(fid);
            if (f == nullptr || !intent.existed) return dispatch(slot, request);
            auto now = fs::stat_fd(f->node.fd(), STATX_SIZE);
            if (!now) return error(slot, now.error());
            const std::uint64_t wanted = set != nullptr     ? set->size
                                         : wstat != nullptr ? wstat->stat.stat.length
                                                            : 0;
            if (now->stx_size == intent.size && now->stx_size != wanted)
                return dispatch(slot, request);
            if (open != nullptr) {
                Tlopen rest = *open;
                rest.flags &= ~dotl::kTrunc;
                return handle(slot, rest);
            }
            if (u_open != nullptr) {
                Topen rest = *u_open;
                rest.mode &= static_cast<std::uint8_t>(~omode::kTrunc);
                return handle(slot, rest);
            }
            if (wstat != nullptr) {
                Twstat rest = *wstat;
                rest.stat.stat.length = kKeep64;
                return handle(slot, rest);
            }
            Tsetattr rest = *set;
            rest.valid &= ~setattr::kSize;
            return handle(slot, rest);
        }
        case Kind::kAppends: {
            // Done if the file grew by exactly this write and no other append
            // to it was in flight; not begun if it did not grow; else nothing
            // tells which bytes are whose.
            const Twrite* write = std::get_if<Twrite>(&body);
            const Fid* f = write != nullptr ? node(write->fid) : nullptr;
            if (f == nullptr || !f->file || !intent.existed) return dispatch(slot, request);
            auto now = fs::stat_fd(f->file->fd(), STATX_SIZE | STATX_INO);
            if (!now || dev_of(*now) != intent.dev || now->stx_ino != intent.ino) return lost(slot);
            if (now->stx_size == intent.size) return dispatch(slot, request);
            const bool alone = std::ranges::none_of(intents_, [&](const auto& other) {
                return other.second.kind == Kind::kAppends && other.second.dev == intent.dev &&
                       other.second.ino == intent.ino;
            });
            const auto count = write_data(slot, *write).size();
            if (alone && now->stx_size == intent.size + count)
                return reply(slot, Rwrite{static_cast<std::uint32_t>(count)});
            return lost(slot);
        }
        case Kind::kXattrs: {
            // Done if the xattr is as the clunk leaves it (made where it was
            // absent, gone where it was there); else the clunk runs again.
            const Tclunk* clunk = std::get_if<Tclunk>(&body);
            const Fid* f = clunk != nullptr ? node(clunk->fid) : nullptr;
            if (f == nullptr || f->kind != Fid::Kind::kXattrWrite ||
                xattr_exists(*f) == intent.existed)
                return dispatch(slot, request);
            fids_.erase(clunk->fid);
            return reply(slot, Rclunk{});
        }
        case Kind::kOpaque:
            break;
    }
    return lost(slot);
}

Session::Outcome Session::lost(const Slot& slot) {
    log::limited(
        *config_.log_limiter, log::Level::kError, "server", transport_->name(),
        "a request the dead server took cannot be run again; the device is lost",
        {{"op", std::string(p9proto::request_name(slot.type))}, {"tag", std::to_string(slot.tag)}});
    return Outcome::kLost;
}

}  // namespace xen9p::server
