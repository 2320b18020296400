// How a session outlives the process serving it: what it writes to its
// SessionStore as requests are answered, how a replacement picks the session
// up from there, and which of the requests the dead server had taken it may
// run again.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <map>
#include <set>

#include "backend/fs/host_file.hpp"
#include "backend/fs/xattr.hpp"
#include "backend/log/log.hpp"
#include "backend/server/session.hpp"
#include "p9proto/constants.hpp"
#include "p9proto/open_flags.hpp"

namespace xen9p::server {
namespace {

bool is_path_fd(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_PATH) != 0;
}

bool same_inode(int a, int b) {
    struct stat sa {
    }, sb{};
    return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

}  // namespace

std::optional<Session::Outcome> Session::replay(Slot& slot, const p9proto::Request& request) {
    auto it = committed_.find({slot.origin.route, slot.origin.position});
    if (it == committed_.end()) return std::nullopt;
    const auto answer = std::move(it->second);
    committed_.erase(it);
    if (answer.no_reply || !answer.reply.empty()) {
        if (answer.reply.size() > slot.capacity) return lost(slot);
        // The dead server answered it: that answer, once.
        slot.replayed = true;
        slot.origin.record = answer.record;
        slot.reply_size = answer.no_reply ? 0 : answer.reply.size();
        std::memcpy(slot.reply.data(), answer.reply.data(), slot.reply_size);
        // No reply (it was flushed or dropped): finish() drops it again.
        return Outcome::kReply;
    }
    // Too large to keep: a read, which changed nothing but a 9P2000.u
    // directory's cursor.
    using p9proto::MsgType;
    const auto* read = std::get_if<p9proto::Tread>(&request.body);
    const Fid* f = read != nullptr ? fids_.find(read->fid) : nullptr;
    const bool reads_only = (read != nullptr && (f == nullptr || !f->stat_dir)) ||
                            slot.type == MsgType::Treaddir || slot.type == MsgType::Treadlink ||
                            slot.type == MsgType::Tgetattr || slot.type == MsgType::Tstat;
    if (!reads_only) return lost(slot);
    store_->released(answer.record);
    return std::nullopt;
}

void Session::end_retaking(Route route) {
    std::erase_if(committed_, [&](const auto& entry) {
        if (entry.first.first != route) return false;
        store_->released(entry.second.record);
        return true;
    });
    std::erase_if(intents_, [&](const auto& entry) {
        if (entry.first.first != route) return false;
        store_->clear_intent(entry.second.record);
        return true;
    });
}

StoredFid Session::stored_fid(std::uint32_t number, const Fid& fid) const {
    StoredFid s;
    s.fid = number;
    s.node_fd = fid.node.fd();
    s.parent_fd = fid.node.parent_fd();
    s.name = fid.node.parent_fd() >= 0 ? std::string(fid.node.name()) : std::string();
    s.caller = fid.caller;
    s.file_fd = fid.file ? fid.file->fd() : -1;
    s.remove_on_clunk = fid.remove_on_clunk;
    s.stat_dir = fid.stat_dir;
    s.dir_offset = fid.dir_offset;
    s.dir_cookie = fid.dir_cookie;
    if (fid.kind != Fid::Kind::kFile) {
        const bool writing = fid.kind == Fid::Kind::kXattrWrite;
        s.kind = writing ? StoredFid::Kind::kXattrWrite : StoredFid::Kind::kXattrRead;
        s.xattr_name = fid.xattr_name;
        s.xattr_size = writing ? fid.xattr_size : fid.xattr.size();
        s.xattr_written = writing ? fid.xattr.size() : 0;
        s.xattr_flags = fid.xattr_flags;
        s.xattr_slot = fid.xattr_slot ? fid.xattr_slot->index() : 0;
        // Its value is in no slot: a replacement could not rebuild it.
        s.unrecoverable = !fid.xattr_slot;
    }
    return s;
}

void Session::commit_answer(Slot& slot, bool no_reply) {
    slot.origin.record = store_->begin_answer(slot.origin.route, slot.origin.position);
    for (const auto number : fids_.take_changed()) {
        const Fid* fid = fids_.find(number);
        if (fid == nullptr) {
            store_->erase_fid(number);
        } else if (auto put = store_->put_fid(stored_fid(number, *fid)); !put && !store_failed_) {
            // The store no longer matches the fids: it must never be loaded.
            store_failed_ = true;
            store_->mark_broken();
            log::limited(*config_.log_limiter, log::Level::kWarning, "server", transport_->name(),
                         "cannot record a fid: a restart will lose this session",
                         {{"fid", std::to_string(number)}, {"error", put.error().message()}});
        }
    }
    if (ex_.qids().entries() != stored_qids_) {
        store_->put_qids(ex_.qids().tables());
        stored_qids_ = ex_.qids().entries();
    }
    if (msize_ != stored_msize_ || dialect_ != stored_dialect_) {
        store_->set_version(msize_, dialect_);
        stored_msize_ = msize_;
        stored_dialect_ = dialect_;
    }
    // A reply placed in the medium is not kept: a read is run again.
    store_->commit_answer(
        slot.origin.record,
        slot.in_place ? std::span<const std::byte>{} : slot.reply.span().first(slot.reply_size),
        no_reply);
    if (slot.intent != kNoIntent) store_->clear_intent(std::exchange(slot.intent, kNoIntent));
    // No record names their descriptors any more.
    retired_.clear();
}

Status Session::restore_xattr(Fid& fid, const StoredFid& stored) {
    const bool writing = stored.kind == StoredFid::Kind::kXattrWrite;
    // A set the dead server could not have begun is none it may finish.
    if (writing && (!fs::check_xattr_name(ex_, stored.xattr_name) ||
                    (stored.xattr_flags != 0 && stored.xattr_flags != p9proto::kXattrCreate &&
                     stored.xattr_flags != p9proto::kXattrReplace)))
        return fail(EUCLEAN);
    auto charge = charge_value(stored.xattr_size);
    if (!charge) return std::unexpected(charge.error());
    fid.kind = writing ? Fid::Kind::kXattrWrite : Fid::Kind::kXattrRead;
    fid.xattr_slot = std::make_shared<XattrSlot>(*store_, stored.xattr_slot);
    const auto value =
        fid.xattr_slot->value().first(writing ? stored.xattr_written : stored.xattr_size);
    fid.xattr.reserve(stored.xattr_size);
    fid.xattr.assign(value.begin(), value.end());
    fid.xattr_charge = std::move(*charge);
    fid.xattr_name = stored.xattr_name;
    fid.xattr_size = writing ? stored.xattr_size : 0;
    fid.xattr_flags = stored.xattr_flags;
    return {};
}

Status Session::restore(const StoredSession& stored) {
    if (store_ == nullptr) return fail(EINVAL);
    if (stored.msize != 0 && (stored.msize > max_msize_ || stored.msize < p9proto::kMinMsize))
        return fail(EUCLEAN);
    for (const auto& f : stored.fids) {
        if (f.unrecoverable) return fail(ENOTRECOVERABLE);
    }
    if (auto ok = ex_.qids().restore(stored.qids); !ok) return ok;

    // Each descriptor once: O_PATH ones become the nodes' shared fds, the
    // others open files; a number used as both is a lie.
    std::map<int, std::shared_ptr<const UniqueFd>> paths;
    std::map<int, std::shared_ptr<fs::OpenFile>> files;
    auto path_fd = [&](int fd, bool dir) -> Result<std::shared_ptr<const UniqueFd>> {
        if (auto it = paths.find(fd); it != paths.end()) return it->second;
        if (files.contains(fd) || !is_path_fd(fd)) return fail(EUCLEAN);
        if (dir) {
            auto st = fs::stat_fd(fd);
            if (!st || !S_ISDIR(st->stx_mode)) return fail(EUCLEAN);
        }
        return paths[fd] = fs::Node::share(UniqueFd(fd), &ex_.limits());
    };
    for (const auto& f : stored.fids) {
        Fid fid;
        auto node = path_fd(f.node_fd, false);
        if (!node) return std::unexpected(node.error());
        std::shared_ptr<const UniqueFd> parent;
        if (f.parent_fd >= 0) {
            auto up = path_fd(f.parent_fd, true);
            if (!up) return std::unexpected(up.error());
            parent = std::move(*up);
        }
        fid.node = fs::Node(std::move(*node), std::move(parent), f.name);
        fid.caller = f.caller;
        if (f.file_fd >= 0) {
            if (paths.contains(f.file_fd) || files.contains(f.file_fd)) return fail(EUCLEAN);
            auto file = fs::adopt_open_file(ex_, UniqueFd(f.file_fd));
            if (!file) return std::unexpected(file.error());
            fid.file = files[f.file_fd] = std::make_shared<fs::OpenFile>(std::move(*file));
            if (!same_inode(fid.file->fd(), fid.node.fd())) return fail(EUCLEAN);
        }
        fid.remove_on_clunk = f.remove_on_clunk;
        fid.stat_dir = f.stat_dir && fid.file;
        fid.dir_offset = f.dir_offset;
        fid.dir_cookie = f.dir_cookie;
        if (f.kind != StoredFid::Kind::kFile) {
            if (auto ok = restore_xattr(fid, f); !ok) return ok;
        }
        if (auto ok = fids_.restore(f.fid, std::move(fid)); !ok) return ok;
    }
    std::set<int> owner_fds;
    for (const auto& owner : stored.lock_owners) {
        auto it = files.find(owner.file_fd);
        if (it == files.end() || paths.contains(owner.owner_fd) || files.contains(owner.owner_fd) ||
            !owner_fds.insert(owner.owner_fd).second || is_path_fd(owner.owner_fd) ||
            !same_inode(owner.owner_fd, owner.file_fd))
            return fail(EUCLEAN);
        if (auto ok = it->second->locks().adopt(owner.client_id, owner.proc_id,
                                                UniqueFd(owner.owner_fd), *store_, owner.record);
            !ok)
            return ok;
    }
    // Answers committed and not yet written: used when their requests come
    // again. An intent whose request has an answer is done with.
    std::set<std::pair<Route, std::uint32_t>> answered;
    for (std::size_t route = 0; route < stored.routes.size(); ++route) {
        for (const auto& a : stored.routes[route].answered) {
            answered.emplace(static_cast<Route>(route), a.request);
            if (!a.written) committed_.emplace(std::pair{static_cast<Route>(route), a.request}, a);
        }
    }
    for (const auto& intent : stored.intents) {
        const std::pair key{intent.route, intent.request};
        if (answered.contains(key) || !intents_.emplace(key, intent).second)
            store_->clear_intent(intent.record);
    }
    // Last: it publishes the replies the dead server had written.
    if (auto ok = transport_->resume(stored.routes); !ok) return ok;
    msize_ = stored.msize;
    dialect_ = stored.dialect;
    stored_msize_ = msize_;
    stored_dialect_ = dialect_;
    stored_qids_ = ex_.qids().entries();
    return {};
}

}  // namespace xen9p::server
