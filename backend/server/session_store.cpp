#include "backend/server/session_store.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <optional>

#include "backend/fs/xattr.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::server {
namespace {

constexpr std::uint64_t kMagic = 0x78656e3970737432;  // "xen9pst2"
constexpr std::uint32_t kFree = 0;
constexpr std::uint32_t kValid = 1;
// Slots beyond max_fids: a fid is rewritten into a fresh slot before its
// old one is freed.
constexpr std::size_t kSpareFidSlots = 64;
// Descriptor numbers above this are not ours (RLIMIT_NOFILE is far lower).
constexpr std::int32_t kMaxFd = 1 << 24;
constexpr std::size_t kMaxName = 255;

enum FidFlags : std::uint8_t {
    kNamed = 1,
    kRemoveOnClunk = 2,
    kStatDir = 4,
    kUnrecoverable = 8,
};

struct FidRecord {
    std::uint32_t state;
    std::uint32_t fid;
    std::uint64_t seq;
    std::uint8_t kind;  // StoredFid::Kind
    std::uint8_t xattr_name_length;
    std::uint32_t xattr_slot;
    std::uint32_t xattr_flags;
    std::uint64_t xattr_size;
    std::uint64_t xattr_written;
    char xattr_name[kMaxName];
    std::int32_t node_fd;
    std::int32_t parent_fd;
    std::int32_t file_fd;
    std::uint32_t uid;
    std::uint32_t gid;
    std::uint64_t dir_offset;
    std::uint64_t dir_cookie;
    std::uint8_t flags;
    std::uint8_t name_length;
    char name[kMaxName];
};

struct OwnerRecord {
    std::uint32_t state;
    std::int32_t file_fd;
    std::int32_t owner_fd;
    std::uint32_t proc_id;
    std::uint8_t client_id_length;
    char client_id[fs::FileLocks::kMaxClientIdLength];
};
static_assert(fs::FileLocks::kMaxClientIdLength <= 255);

// An answer's state: committing (its fid records do not count yet),
// committed (they do; its reply is not in the medium yet), written.
constexpr std::uint32_t kCommitting = 2;
constexpr std::uint32_t kCommitted = 3;
constexpr std::uint32_t kWritten = 4;

enum AnswerFlags : std::uint32_t {
    kNoReply = 1,
    kReplyKept = 2,
    kClearsFids = 4,  // every fid recorded before it is erased
};

struct AnswerRecord {
    std::uint32_t state;
    std::uint32_t route;
    std::uint32_t request;
    std::uint32_t reply_end;
    std::uint64_t commit_seq;  // fid records from this one on are its own
    std::uint32_t flags;
    std::uint32_t reply_size;
    std::uint32_t erased_count;
    std::uint32_t erased[SessionStore::kMaxErased];
    std::byte reply[SessionStore::kMaxKeptReply];
};

struct IntentRecord {
    std::uint32_t state;
    std::uint32_t route;
    std::uint32_t request;
    std::uint32_t type;
    std::uint32_t kind;
    std::uint32_t existed;
    std::uint64_t dev;
    std::uint64_t ino;
    std::uint64_t size;
};

struct XattrValue {
    std::byte bytes[fs::kMaxXattrSize];
};

struct QidPrefix {
    std::uint64_t dev;
    std::uint64_t high;
};

// msize in the low 32 bits, the dialect above, bit 40 set once agreed: one
// atomic word, never torn.
constexpr std::uint64_t kVersionSet = std::uint64_t{1} << 40;

std::uint64_t load_word(const std::uint64_t& word) {
    return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(word))
        .load(std::memory_order_acquire);
}

void store_word(std::uint64_t& word, std::uint64_t value) {
    std::atomic_ref<std::uint64_t>(word).store(value, std::memory_order_release);
}

std::uint32_t load_state(const std::uint32_t& state) {
    return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(state))
        .load(std::memory_order_acquire);
}

void store_state(std::uint32_t& state, std::uint32_t value) {
    std::atomic_ref<std::uint32_t>(state).store(value, std::memory_order_release);
}

bool valid_fd(std::int32_t fd, bool optional) {
    return (optional && fd == -1) || (fd >= 0 && fd < kMaxFd);
}

bool valid_name(std::string_view name) {
    return name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos &&
           name != "." && name != "..";
}

Result<StoredFid> decode(const FidRecord& r) {
    StoredFid f;
    f.fid = r.fid;
    f.node_fd = r.node_fd;
    f.parent_fd = r.parent_fd;
    f.file_fd = r.file_fd;
    f.caller = fs::Caller{r.uid, r.gid, (r.flags & kNamed) != 0};
    f.remove_on_clunk = (r.flags & kRemoveOnClunk) != 0;
    f.stat_dir = (r.flags & kStatDir) != 0;
    f.unrecoverable = (r.flags & kUnrecoverable) != 0;
    f.dir_offset = r.dir_offset;
    f.dir_cookie = r.dir_cookie;
    if (r.kind > static_cast<std::uint8_t>(StoredFid::Kind::kXattrWrite) ||
        r.xattr_name_length > kMaxName)
        return fail(EUCLEAN);
    f.kind = static_cast<StoredFid::Kind>(r.kind);
    if (f.kind != StoredFid::Kind::kFile) {
        f.xattr_name.assign(r.xattr_name, r.xattr_name_length);
        f.xattr_size = r.xattr_size;
        f.xattr_written = r.xattr_written;
        f.xattr_flags = r.xattr_flags;
        f.xattr_slot = r.xattr_slot;
        const bool writing = f.kind == StoredFid::Kind::kXattrWrite;
        if (f.xattr_slot >= SessionStore::kMaxXattrValues || f.xattr_size > fs::kMaxXattrSize ||
            (writing ? f.xattr_written > f.xattr_size : f.xattr_written != 0) ||
            (writing && f.xattr_name.empty()) || f.file_fd != -1)
            return fail(EUCLEAN);
    }
    if (r.name_length > kMaxName) return fail(EUCLEAN);
    f.name.assign(r.name, r.name_length);
    const bool has_parent = f.parent_fd != -1;
    if (!valid_fd(f.node_fd, f.unrecoverable) || !valid_fd(f.parent_fd, true) ||
        !valid_fd(f.file_fd, true) || has_parent != !f.name.empty() ||
        (has_parent && !valid_name(f.name)) || (r.flags & ~0xf) != 0)
        return fail(EUCLEAN);
    return f;
}

}  // namespace

struct SessionStore::Layout {
    std::uint64_t magic;
    std::uint64_t version;
    // Set when a record could not be written: the session is not carried over.
    std::uint64_t broken;
    std::uint64_t route_count;
    std::uint64_t taken[kMaxRoutes];  // how far each route's requests were taken
    AnswerRecord answered[kMaxAnswered];
    IntentRecord intents[kMaxIntents];
    std::uint64_t qid_device_count;
    std::uint64_t qid_devices[fs::QidMap::kMaxDevices];
    std::uint64_t qid_prefix_count;
    QidPrefix qid_prefixes[fs::QidMap::kMaxWidePrefixes];
    OwnerRecord owners[kMaxLockOwners];
    XattrValue xattrs[kMaxXattrValues];
    FidRecord fids[];
};

std::vector<int> StoredSession::descriptors() const {
    std::vector<int> fds;
    for (const auto& f : fids) {
        for (int fd : {f.node_fd, f.parent_fd, f.file_fd})
            if (fd >= 0) fds.push_back(fd);
    }
    for (const auto& o : lock_owners)
        fds.push_back(o.owner_fd);
    return fds;
}

Result<SessionStore> SessionStore::create(std::size_t max_fids) {
    const std::size_t slots = max_fids + kSpareFidSlots;
    const std::size_t size = sizeof(Layout) + slots * sizeof(FidRecord);
    UniqueFd fd(::memfd_create("xen9pd-session", MFD_CLOEXEC));
    if (!fd) return fail_errno();
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return fail_errno();
    // Shared, so that a process forked after this sees what another writes.
    void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (memory == MAP_FAILED) return fail_errno();
    SessionStore store(memory, size, slots);
    store.layout().magic = kMagic;
    return store;
}

SessionStore::SessionStore(void* memory, std::size_t size, std::size_t fid_slots)
    : memory_(memory), size_(size), fid_slots_(fid_slots) {
    for (std::size_t i = fid_slots; i-- > 0;)
        free_fid_slots_.push_back(static_cast<std::uint32_t>(i));
    for (std::size_t i = kMaxLockOwners; i-- > 0;)
        free_owner_slots_.push_back(static_cast<std::uint32_t>(i));
    for (std::size_t i = kMaxAnswered; i-- > 0;)
        free_answer_slots_.push_back(static_cast<std::uint32_t>(i));
    for (std::size_t i = kMaxIntents; i-- > 0;)
        free_intent_slots_.push_back(static_cast<std::uint32_t>(i));
    for (std::size_t i = kMaxXattrValues; i-- > 0;)
        free_xattr_slots_.push_back(static_cast<std::uint32_t>(i));
}

SessionStore::SessionStore(SessionStore&& other) noexcept
    : memory_(std::exchange(other.memory_, nullptr)),
      size_(other.size_),
      fid_slots_(other.fid_slots_),
      next_seq_(other.next_seq_),
      slot_of_fid_(std::move(other.slot_of_fid_)),
      free_fid_slots_(std::move(other.free_fid_slots_)),
      free_owner_slots_(std::move(other.free_owner_slots_)),
      free_answer_slots_(std::move(other.free_answer_slots_)),
      free_intent_slots_(std::move(other.free_intent_slots_)),
      free_xattr_slots_(std::move(other.free_xattr_slots_)),
      committing_(other.committing_),
      free_at_commit_(std::move(other.free_at_commit_)),
      erased_(std::move(other.erased_)),
      qid_devices_(other.qid_devices_),
      qid_prefixes_(other.qid_prefixes_) {}

SessionStore::~SessionStore() {
    if (memory_ != nullptr) ::munmap(memory_, size_);
}

SessionStore::Layout& SessionStore::layout() const {
    return *static_cast<Layout*>(memory_);
}

void SessionStore::set_version(std::uint32_t msize, p9proto::Dialect dialect) {
    store_word(layout().version,
               msize == 0 ? 0
                          : kVersionSet |
                                (std::uint64_t{static_cast<std::uint8_t>(dialect)} << 32) | msize);
}

void SessionStore::mark_broken() {
    store_word(layout().broken, 1);
}

void SessionStore::set_routes(std::size_t count) {
    Layout& l = layout();
    for (std::size_t i = 0; i < std::min(count, kMaxRoutes); ++i)
        store_word(l.taken[i], 0);
    store_word(l.route_count, std::min(count, kMaxRoutes));
}

void SessionStore::taken(Route route, std::uint32_t end) {
    if (route < kMaxRoutes) store_word(layout().taken[route], end);
}

std::uint32_t SessionStore::begin_answer(Route route, std::uint32_t request) {
    if (free_answer_slots_.empty() || committing_ != kMaxAnswered) {
        // The transport takes no more than capacity(): a bug, not the guest.
        mark_broken();
        return kMaxAnswered;
    }
    const auto slot = free_answer_slots_.back();
    free_answer_slots_.pop_back();
    AnswerRecord& r = layout().answered[slot];
    r.route = route;
    r.request = request;
    r.reply_end = 0;
    r.commit_seq = next_seq_;
    r.flags = 0;
    r.reply_size = 0;
    r.erased_count = 0;
    store_state(r.state, kCommitting);
    committing_ = slot;
    return slot;
}

void SessionStore::commit_answer(std::uint32_t record, std::span<const std::byte> reply,
                                 bool no_reply) {
    if (record >= kMaxAnswered || record != committing_) return;
    AnswerRecord& r = layout().answered[record];
    std::uint32_t flags = no_reply ? std::uint32_t{kNoReply} : 0;
    if (!no_reply && !reply.empty() && reply.size() <= kMaxKeptReply) {
        std::memcpy(r.reply, reply.data(), reply.size());
        r.reply_size = static_cast<std::uint32_t>(reply.size());
        flags |= kReplyKept;
    }
    if (erased_.size() <= kMaxErased) {
        std::copy(erased_.begin(), erased_.end(), r.erased);
        r.erased_count = static_cast<std::uint32_t>(erased_.size());
    } else if (slot_of_fid_.empty()) {
        flags |= kClearsFids;
    } else {
        mark_broken();
    }
    r.flags = flags;
    store_state(r.state, kCommitted);
    // Only now the old records may go.
    for (const auto slot : free_at_commit_) {
        store_state(layout().fids[slot].state, kFree);
        free_fid_slots_.push_back(slot);
    }
    free_at_commit_.clear();
    erased_.clear();
    committing_ = kMaxAnswered;
}

std::uint32_t SessionStore::note_intent(const StoredIntent& intent) {
    if (free_intent_slots_.empty()) {
        mark_broken();
        return kMaxIntents;
    }
    const auto slot = free_intent_slots_.back();
    free_intent_slots_.pop_back();
    IntentRecord& r = layout().intents[slot];
    r.route = intent.route;
    r.request = intent.request;
    r.type = intent.type;
    r.kind = static_cast<std::uint32_t>(intent.kind);
    r.existed = intent.existed ? 1 : 0;
    r.dev = intent.dev;
    r.ino = intent.ino;
    r.size = intent.size;
    store_state(r.state, kValid);
    return slot;
}

void SessionStore::clear_intent(std::uint32_t record) {
    if (record >= kMaxIntents || load_state(layout().intents[record].state) == kFree) return;
    store_state(layout().intents[record].state, kFree);
    free_intent_slots_.push_back(record);
}

void SessionStore::written(std::uint32_t record, std::uint32_t reply_end) {
    if (record >= kMaxAnswered) return;
    AnswerRecord& r = layout().answered[record];
    r.reply_end = reply_end;
    store_state(r.state, kWritten);
}

void SessionStore::released(std::uint32_t record) {
    // Each record goes back once, whatever a caller (or a scribbled store) says.
    if (record >= kMaxAnswered || load_state(layout().answered[record].state) == kFree) return;
    store_state(layout().answered[record].state, kFree);
    free_answer_slots_.push_back(record);
}

Result<std::uint32_t> SessionStore::free_fid_slot() {
    // max_fids bounds the live fids and each has one slot: a spare is left.
    if (free_fid_slots_.empty()) return fail(EMFILE);
    const auto slot = free_fid_slots_.back();
    free_fid_slots_.pop_back();
    return slot;
}

Status SessionStore::put_fid(const StoredFid& f) {
    if (f.name.size() > kMaxName || f.xattr_name.size() > kMaxName) return fail(ENAMETOOLONG);
    auto slot = free_fid_slot();
    if (!slot) return std::unexpected(slot.error());
    FidRecord& r = layout().fids[*slot];
    r.fid = f.fid;
    r.seq = next_seq_++;
    r.node_fd = f.node_fd;
    r.parent_fd = f.parent_fd;
    r.file_fd = f.file_fd;
    r.uid = f.caller.uid;
    r.gid = f.caller.gid;
    r.dir_offset = f.dir_offset;
    r.dir_cookie = f.dir_cookie;
    r.flags = static_cast<std::uint8_t>(
        (f.caller.named ? kNamed : 0) | (f.remove_on_clunk ? kRemoveOnClunk : 0) |
        (f.stat_dir ? kStatDir : 0) | (f.unrecoverable ? kUnrecoverable : 0));
    r.name_length = static_cast<std::uint8_t>(f.name.size());
    std::memcpy(r.name, f.name.data(), f.name.size());
    r.kind = static_cast<std::uint8_t>(f.kind);
    r.xattr_slot = f.xattr_slot;
    r.xattr_flags = f.xattr_flags;
    r.xattr_size = f.xattr_size;
    r.xattr_written = f.xattr_written;
    r.xattr_name_length = static_cast<std::uint8_t>(f.xattr_name.size());
    std::memcpy(r.xattr_name, f.xattr_name.data(), f.xattr_name.size());
    store_state(r.state, kValid);
    // Only now (or once the answer is committed) the old record may go: a
    // reader takes the higher seq.
    if (auto it = slot_of_fid_.find(f.fid); it != slot_of_fid_.end()) {
        free_fid_record(it->second);
        it->second = *slot;
    } else {
        slot_of_fid_.emplace(f.fid, *slot);
    }
    return {};
}

void SessionStore::erase_fid(std::uint32_t fid) {
    auto it = slot_of_fid_.find(fid);
    if (it == slot_of_fid_.end()) return;
    if (committing_ != kMaxAnswered) erased_.push_back(fid);
    free_fid_record(it->second);
    slot_of_fid_.erase(it);
}

void SessionStore::free_fid_record(std::uint32_t slot) {
    if (committing_ != kMaxAnswered) {
        free_at_commit_.push_back(slot);
        return;
    }
    store_state(layout().fids[slot].state, kFree);
    free_fid_slots_.push_back(slot);
}

XattrSlot::~XattrSlot() {
    store_.give_xattr_slot(index_);
}

std::span<std::byte> XattrSlot::value() const {
    return store_.xattr_value(index_);
}

std::optional<std::uint32_t> SessionStore::take_xattr_slot() {
    if (free_xattr_slots_.empty()) return std::nullopt;
    const auto slot = free_xattr_slots_.back();
    free_xattr_slots_.pop_back();
    return slot;
}

void SessionStore::give_xattr_slot(std::uint32_t slot) {
    if (slot < kMaxXattrValues) free_xattr_slots_.push_back(slot);
}

std::span<std::byte> SessionStore::xattr_value(std::uint32_t slot) const {
    if (slot >= kMaxXattrValues) return {};
    return layout().xattrs[slot].bytes;
}

void SessionStore::put_qids(const fs::QidMap::Tables& tables) {
    Layout& l = layout();
    // Both tables only grow, entries in the order the map numbered them:
    // entries are written before the count that publishes them.
    const std::size_t devices = std::min(tables.devices.size(), fs::QidMap::kMaxDevices);
    for (std::size_t i = qid_devices_; i < devices; ++i)
        l.qid_devices[i] = tables.devices[i];
    if (devices != qid_devices_) store_word(l.qid_device_count, qid_devices_ = devices);
    const std::size_t prefixes =
        std::min(tables.wide_prefixes.size(), fs::QidMap::kMaxWidePrefixes);
    for (std::size_t i = qid_prefixes_; i < prefixes; ++i)
        l.qid_prefixes[i] = {tables.wide_prefixes[i].first, tables.wide_prefixes[i].second};
    if (prefixes != qid_prefixes_) store_word(l.qid_prefix_count, qid_prefixes_ = prefixes);
}

Result<std::uint32_t> SessionStore::record_owner(int file_fd, std::string_view client_id,
                                                 std::uint32_t proc_id, int owner_fd) {
    if (free_owner_slots_.empty()) return fail(ENOLCK);
    if (client_id.size() > fs::FileLocks::kMaxClientIdLength) return fail(EINVAL);
    const auto slot = free_owner_slots_.back();
    free_owner_slots_.pop_back();
    OwnerRecord& r = layout().owners[slot];
    r.file_fd = file_fd;
    r.owner_fd = owner_fd;
    r.proc_id = proc_id;
    r.client_id_length = static_cast<std::uint8_t>(client_id.size());
    std::memcpy(r.client_id, client_id.data(), client_id.size());
    store_state(r.state, kValid);
    return slot;
}

void SessionStore::forget_owner(std::uint32_t record) {
    if (record >= kMaxLockOwners) return;
    store_state(layout().owners[record].state, kFree);
    free_owner_slots_.push_back(record);
}

Result<StoredSession> SessionStore::load() {
    Layout& l = layout();
    if (l.magic != kMagic) return fail(EUCLEAN);
    StoredSession out;
    const std::uint64_t version = load_word(l.version);
    if (version != 0) {
        const auto dialect = static_cast<std::uint8_t>(version >> 32);
        if ((version & ~((kVersionSet << 1) - 1)) != 0 || (version & kVersionSet) == 0 ||
            (dialect != static_cast<std::uint8_t>(p9proto::Dialect::k9P2000L) &&
             dialect != static_cast<std::uint8_t>(p9proto::Dialect::k9P2000u)))
            return fail(EUCLEAN);
        out.msize = static_cast<std::uint32_t>(version);
        out.dialect = static_cast<p9proto::Dialect>(dialect);
    }
    if (load_word(l.broken) != 0) return fail(ENOTRECOVERABLE);
    const std::uint64_t routes = load_word(l.route_count);
    if (routes > kMaxRoutes) return fail(EUCLEAN);
    for (std::size_t i = 0; i < routes; ++i) {
        const std::uint64_t word = load_word(l.taken[i]);
        if (word > UINT32_MAX) return fail(EUCLEAN);
        out.routes.push_back({static_cast<std::uint32_t>(word), {}});
    }
    // Answers: one at most was being committed; its fid records are dropped.
    // Committed ones erased fids: their older records go.
    free_answer_slots_.clear();
    std::optional<std::uint64_t> unfinished;
    std::optional<std::uint32_t> unfinished_record;
    std::unordered_map<std::uint32_t, std::uint64_t> erasures;  // fid -> latest commit_seq
    std::optional<std::uint64_t> cleared;
    for (std::size_t i = kMaxAnswered; i-- > 0;) {
        AnswerRecord& r = l.answered[i];
        const auto state = load_state(r.state);
        if (state == kFree) {
            free_answer_slots_.push_back(static_cast<std::uint32_t>(i));
            continue;
        }
        if (state == kCommitting) {
            // Freed last: a replacement killed during this load rolls back again.
            if (unfinished) return fail(EUCLEAN);
            unfinished = r.commit_seq;
            unfinished_record = static_cast<std::uint32_t>(i);
            continue;
        }
        if ((state != kCommitted && state != kWritten) || r.route >= routes ||
            (r.flags & ~7u) != 0 || r.reply_size > kMaxKeptReply || r.erased_count > kMaxErased)
            return fail(EUCLEAN);
        for (std::uint32_t e = 0; e < r.erased_count; ++e) {
            auto& seq = erasures[r.erased[e]];
            seq = std::max(seq, r.commit_seq);
        }
        if ((r.flags & kClearsFids) != 0) cleared = std::max(cleared.value_or(0), r.commit_seq);
        StoredRoute::Answered a;
        a.request = r.request;
        a.record = static_cast<std::uint32_t>(i);
        a.written = state == kWritten;
        a.reply_end = r.reply_end;
        a.no_reply = (r.flags & kNoReply) != 0;
        if ((r.flags & kReplyKept) != 0) a.reply.assign(r.reply, r.reply + r.reply_size);
        out.routes[r.route].answered.push_back(std::move(a));
    }
    free_intent_slots_.clear();
    for (std::size_t i = kMaxIntents; i-- > 0;) {
        const IntentRecord& r = l.intents[i];
        const auto state = load_state(r.state);
        if (state == kFree) {
            free_intent_slots_.push_back(static_cast<std::uint32_t>(i));
            continue;
        }
        if (state != kValid || r.kind < 1 || r.kind > 7 || r.existed > 1 || r.type > 255)
            return fail(EUCLEAN);
        out.intents.push_back({r.route, r.request, r.type, static_cast<StoredIntent::Kind>(r.kind),
                               r.existed != 0, r.dev, r.ino, r.size,
                               static_cast<std::uint32_t>(i)});
    }
    auto dropped = [&](const FidRecord& f) {
        if (unfinished && f.seq >= *unfinished) return true;
        if (cleared && f.seq < *cleared) return true;
        const auto it = erasures.find(f.fid);
        return it != erasures.end() && f.seq < it->second;
    };

    // The newest valid record of each fid; older ones are freed.
    slot_of_fid_.clear();
    free_fid_slots_.clear();
    std::uint64_t max_seq = 0;
    for (std::size_t i = 0; i < fid_slots_; ++i) {
        FidRecord& r = l.fids[i];
        const auto state = load_state(r.state);
        if (state == kFree) continue;
        if (state != kValid) return fail(EUCLEAN);
        if (dropped(r)) {
            store_state(r.state, kFree);
            continue;
        }
        max_seq = std::max(max_seq, r.seq);
        auto [it, fresh] = slot_of_fid_.emplace(r.fid, static_cast<std::uint32_t>(i));
        if (fresh) continue;
        FidRecord& other = l.fids[it->second];
        if (other.seq == r.seq) return fail(EUCLEAN);
        const auto stale = other.seq < r.seq ? it->second : static_cast<std::uint32_t>(i);
        if (stale == it->second) it->second = static_cast<std::uint32_t>(i);
        store_state(l.fids[stale].state, kFree);
    }
    for (std::size_t i = fid_slots_; i-- > 0;) {
        if (load_state(l.fids[i].state) == kFree)
            free_fid_slots_.push_back(static_cast<std::uint32_t>(i));
    }
    if (max_seq == UINT64_MAX) return fail(EUCLEAN);
    // Past every seq an answer named too, so that none of its bounds applies
    // to records written from here on.
    for (const auto& [fid, seq] : erasures)
        max_seq = std::max(max_seq, seq);
    max_seq = std::max({max_seq, cleared.value_or(0), unfinished.value_or(0)});
    if (max_seq == UINT64_MAX) return fail(EUCLEAN);
    next_seq_ = max_seq + 1;
    committing_ = kMaxAnswered;
    free_at_commit_.clear();
    erased_.clear();
    // Each xattr slot belongs to one fid; the others are free.
    std::vector<bool> xattr_taken(kMaxXattrValues, false);
    for (const auto& [fid, slot] : slot_of_fid_) {
        auto f = decode(l.fids[slot]);
        if (!f) return std::unexpected(f.error());
        if (f->kind != StoredFid::Kind::kFile && !f->unrecoverable) {
            if (xattr_taken[f->xattr_slot]) return fail(EUCLEAN);
            xattr_taken[f->xattr_slot] = true;
        }
        out.fids.push_back(std::move(*f));
    }
    free_xattr_slots_.clear();
    for (std::size_t i = kMaxXattrValues; i-- > 0;)
        if (!xattr_taken[i]) free_xattr_slots_.push_back(static_cast<std::uint32_t>(i));

    free_owner_slots_.clear();
    for (std::size_t i = kMaxLockOwners; i-- > 0;) {
        OwnerRecord& r = l.owners[i];
        const auto state = load_state(r.state);
        if (state == kFree) {
            free_owner_slots_.push_back(static_cast<std::uint32_t>(i));
            continue;
        }
        if (state != kValid || !valid_fd(r.file_fd, false) || !valid_fd(r.owner_fd, false) ||
            r.client_id_length > fs::FileLocks::kMaxClientIdLength)
            return fail(EUCLEAN);
        out.lock_owners.push_back({r.file_fd, std::string(r.client_id, r.client_id_length),
                                   r.proc_id, r.owner_fd, static_cast<std::uint32_t>(i)});
    }

    const std::uint64_t devices = load_word(l.qid_device_count);
    const std::uint64_t prefixes = load_word(l.qid_prefix_count);
    if (devices > fs::QidMap::kMaxDevices || prefixes > fs::QidMap::kMaxWidePrefixes)
        return fail(EUCLEAN);
    out.qids.devices.assign(l.qid_devices, l.qid_devices + devices);
    for (std::size_t i = 0; i < prefixes; ++i)
        out.qids.wide_prefixes.emplace_back(l.qid_prefixes[i].dev, l.qid_prefixes[i].high);
    qid_devices_ = devices;
    qid_prefixes_ = prefixes;
    if (unfinished_record) {
        store_state(l.answered[*unfinished_record].state, kFree);
        free_answer_slots_.push_back(*unfinished_record);
    }
    return out;
}

}  // namespace xen9p::server
