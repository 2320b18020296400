#include "backend/server/session_store.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>

#include "base/unique_fd.hpp"

namespace xen9p::server {
namespace {

constexpr std::uint64_t kMagic = 0x78656e3970737431;  // "xen9pst1"
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
    // Set when a request is taken, cleared when all are answered and the
    // routes' positions below are written.
    std::uint64_t busy;
    std::uint64_t route_count;
    std::uint64_t routes[kMaxRoutes];  // consumed in the low 32 bits, produced above
    std::uint64_t qid_device_count;
    std::uint64_t qid_devices[fs::QidMap::kMaxDevices];
    std::uint64_t qid_prefix_count;
    QidPrefix qid_prefixes[fs::QidMap::kMaxWidePrefixes];
    OwnerRecord owners[kMaxLockOwners];
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
}

SessionStore::SessionStore(SessionStore&& other) noexcept
    : memory_(std::exchange(other.memory_, nullptr)),
      size_(other.size_),
      fid_slots_(other.fid_slots_),
      next_seq_(other.next_seq_),
      slot_of_fid_(std::move(other.slot_of_fid_)),
      free_fid_slots_(std::move(other.free_fid_slots_)),
      free_owner_slots_(std::move(other.free_owner_slots_)),
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

void SessionStore::mark_busy() {
    store_word(layout().busy, 1);
}

void SessionStore::mark_idle(std::span<const RoutePosition> positions) {
    Layout& l = layout();
    if (positions.empty() || positions.size() > kMaxRoutes) return;
    for (std::size_t i = 0; i < positions.size(); ++i)
        store_word(l.routes[i],
                   (std::uint64_t{positions[i].produced} << 32) | positions[i].consumed);
    store_word(l.route_count, positions.size());
    store_word(l.busy, 0);
}

Result<std::uint32_t> SessionStore::free_fid_slot() {
    // max_fids bounds the live fids and each has one slot: a spare is left.
    if (free_fid_slots_.empty()) return fail(EMFILE);
    const auto slot = free_fid_slots_.back();
    free_fid_slots_.pop_back();
    return slot;
}

Status SessionStore::put_fid(const StoredFid& f) {
    if (f.name.size() > kMaxName) return fail(ENAMETOOLONG);
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
    store_state(r.state, kValid);
    // Only now the old record may go: a reader takes the higher seq.
    if (auto it = slot_of_fid_.find(f.fid); it != slot_of_fid_.end()) {
        store_state(layout().fids[it->second].state, kFree);
        free_fid_slots_.push_back(it->second);
        it->second = *slot;
    } else {
        slot_of_fid_.emplace(f.fid, *slot);
    }
    return {};
}

void SessionStore::erase_fid(std::uint32_t fid) {
    auto it = slot_of_fid_.find(fid);
    if (it == slot_of_fid_.end()) return;
    store_state(layout().fids[it->second].state, kFree);
    free_fid_slots_.push_back(it->second);
    slot_of_fid_.erase(it);
}

void SessionStore::clear_fids() {
    while (!slot_of_fid_.empty())
        erase_fid(slot_of_fid_.begin()->first);
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
    const std::uint64_t routes = load_word(l.route_count);
    if (routes > kMaxRoutes) return fail(EUCLEAN);
    if (load_word(l.busy) == 0) {
        for (std::size_t i = 0; i < routes; ++i) {
            const std::uint64_t word = load_word(l.routes[i]);
            out.idle_at.push_back(
                {static_cast<std::uint32_t>(word), static_cast<std::uint32_t>(word >> 32)});
        }
    }

    // The newest valid record of each fid; older ones are freed.
    slot_of_fid_.clear();
    free_fid_slots_.clear();
    std::uint64_t max_seq = 0;
    for (std::size_t i = 0; i < fid_slots_; ++i) {
        FidRecord& r = l.fids[i];
        const auto state = load_state(r.state);
        if (state == kFree) continue;
        if (state != kValid) return fail(EUCLEAN);
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
    next_seq_ = max_seq + 1;
    for (const auto& [fid, slot] : slot_of_fid_) {
        auto f = decode(l.fids[slot]);
        if (!f) return std::unexpected(f.error());
        out.fids.push_back(std::move(*f));
    }

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
    return out;
}

}  // namespace xen9p::server
