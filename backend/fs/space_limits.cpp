#include "backend/fs/space_limits.hpp"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "backend/fs/tree_walk.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::fs {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr unsigned kUsageMask = STATX_TYPE | STATX_NLINK | STATX_INO | STATX_SIZE | STATX_BLOCKS;
// A host process moving directories during the scan makes the walk fail.
constexpr int kScanAttempts = 3;
constexpr std::uint32_t kDirGrowthBlocks = 3;
constexpr std::uint64_t kMetaBlocks = 4;

std::uint64_t round_up(std::uint64_t n, std::uint64_t unit) {
    return n > UINT64_MAX - unit ? UINT64_MAX : (n + unit - 1) / unit * unit;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

}  // namespace

InodeUsage inode_usage(const struct statx& st) {
    return InodeUsage{
        .id = FileId{makedev(st.stx_dev_major, st.stx_dev_minor), st.stx_ino},
        .dir = S_ISDIR(st.stx_mode),
        .nlink = st.stx_nlink,
        .bytes = st.stx_blocks * 512,
        .size = st.stx_size,
        .blksize = st.stx_blksize,
    };
}

std::optional<InodeUsage> measure(int fd) {
    struct statx st {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, kUsageMask, &st) != 0) {
        return std::nullopt;
    }
    return inode_usage(st);
}

std::optional<InodeUsage> measure_at(int dir_fd, const char* name) {
    struct statx st {};
    if (::statx(dir_fd, name, AT_SYMLINK_NOFOLLOW, kUsageMask, &st) != 0) return std::nullopt;
    return inode_usage(st);
}

std::uint64_t allocation_bound(std::uint32_t blksize, std::uint64_t from, std::uint64_t to) {
    std::uint64_t blk = blksize < 512 ? 4096 : blksize;
    if (to <= from) return 0;
    std::uint64_t span = round_up(to, blk) - from / blk * blk;
    std::uint64_t indirect = span / blk / (blk / 4) + kMetaBlocks;
    return saturating_add(span, indirect * blk);
}

std::uint64_t entry_bound(std::uint32_t blksize, std::uint64_t content) {
    std::uint64_t blk = blksize < 512 ? 4096 : blksize;
    return saturating_add(kDirGrowthBlocks * blk, allocation_bound(blksize, 0, content));
}

Status SpaceLimits::scan(int root_fd) {
    Status walked;
    for (int attempt = 0; attempt < kScanAttempts; ++attempt) {
        files_ = 0;
        bytes_ = 0;
        inodes_.clear();
        walked = walk_tree(root_fd, [this](int, const char*, const struct statx& st) {
            InodeUsage u = inode_usage(st);
            if (!u.dir && u.nlink > 1) {
                auto [it, fresh] = inodes_.try_emplace(u.id, Inode{.names = 0, .bytes = u.bytes});
                ++it->second.names;
                if (!fresh) return;  // another name of an inode already counted
            }
            ++files_;
            bytes_ += u.bytes;
        });
        if (walked || walked.error().value != ESTALE) break;
    }
    // Links outside the export leave an inode with one name here.
    std::erase_if(inodes_, [](const auto& entry) { return entry.second.names <= 1; });
    return walked;
}

bool SpaceLimits::over(std::uint64_t files, std::uint64_t bytes) const {
    if (config_.max_files != 0 && files > config_.max_files) return true;
    return config_.max_space_mib != 0 && bytes > std::uint64_t{config_.max_space_mib} * kMiB;
}

Status SpaceLimits::make_room(int root_fd, std::uint32_t new_inodes, std::uint64_t bound) {
    if (!tracks_usage() || (new_inodes == 0 && bound == 0)) return {};
    while (over(files_ + new_inodes, saturating_add(bytes_ + reserved_, bound))) {
        if (!config_.auto_delete) return fail(ENOSPC);
        if (auto s = evict_one(root_fd); !s) return fail(ENOSPC);
    }
    return {};
}

void SpaceLimits::remeasure(Inode& inode, int fd) {
    if (auto now = measure(fd)) {
        charge(inode.bytes, now->bytes);
        inode.bytes = now->bytes;
    }
}

void SpaceLimits::charge(std::uint64_t old_bytes, std::uint64_t new_bytes) {
    if (new_bytes >= old_bytes) {
        bytes_ += new_bytes - old_bytes;
    } else {
        drop(old_bytes - new_bytes);
    }
}

void SpaceLimits::drop(std::uint64_t bytes) {
    bytes_ = bytes_ > bytes ? bytes_ - bytes : 0;
}

void SpaceLimits::settle(Inodes::iterator it) {
    Inode& inode = it->second;
    if (inode.opens != 0 || inode.pins != 0) return;
    if (inode.names == 0) {
        if (files_ > 0) --files_;
        drop(inode.bytes);
    }
    if (inode.names <= 1) inodes_.erase(it);
}

void SpaceLimits::inode_added(const InodeUsage& now) {
    if (!tracks_usage()) return;
    ++files_;
    bytes_ += now.bytes;
}

void SpaceLimits::name_added(const InodeUsage& before) {
    if (!tracks_usage()) return;
    auto [it, fresh] = inodes_.try_emplace(before.id, Inode{.names = 1, .bytes = before.bytes});
    charge(it->second.bytes, before.bytes);
    it->second.bytes = before.bytes;
    ++it->second.names;
}

void SpaceLimits::name_removed(const InodeUsage& before) {
    if (!tracks_usage()) return;
    // A walked fid may be all that keeps the inode alive now.
    identify_pins(before.id);
    auto it = inodes_.find(before.id);
    if (it == inodes_.end()) {
        // Its only name: the inode leaves the export.
        if (files_ > 0) --files_;
        drop(before.bytes);
        return;
    }
    Inode& inode = it->second;
    charge(inode.bytes, before.bytes);
    inode.bytes = before.bytes;
    // Never more names than the host reports (a host process removed some).
    if (!before.dir && inode.names > before.nlink) inode.names = before.nlink;
    if (inode.names > 0) --inode.names;
    settle(it);
}

void SpaceLimits::remeasured(const InodeUsage& before, const InodeUsage& now) {
    if (!tracks_usage()) return;
    auto it = inodes_.find(now.id);
    if (it == inodes_.end()) {
        // Nameless and not in inodes_: not counted (yet), nothing to charge.
        if (now.nlink != 0) charge(before.bytes, now.bytes);
        return;
    }
    charge(it->second.bytes, now.bytes);
    it->second.bytes = now.bytes;
}

Status SpaceLimits::reserve_write(int root_fd, FileId id, std::uint64_t bound) {
    if (!tracks_usage()) return {};
    if (auto s = make_room(root_fd, 0, bound); !s) return s;
    auto it = inodes_.find(id);
    if (it == inodes_.end()) return {};  // not open through this export
    ++it->second.writes;
    it->second.reserved += bound;
    reserved_ += bound;
    return {};
}

void SpaceLimits::write_done(FileId id, int fd) {
    if (!tracks_usage()) return;
    auto it = inodes_.find(id);
    if (it == inodes_.end()) return;
    Inode& inode = it->second;
    remeasure(inode, fd);
    if (inode.writes > 0 && --inode.writes == 0) {
        reserved_ -= inode.reserved;
        inode.reserved = 0;
    }
}

Status SpaceLimits::opened(const InodeUsage& st) {
    if (at_open_limit()) return fail(EMFILE);
    ++open_count_;
    if (!tracks_usage()) return {};
    auto [it, fresh] = inodes_.try_emplace(st.id, Inode{.names = 1, .bytes = st.bytes});
    if (fresh && st.nlink == 0) {
        // Reopened through a fid after its last name went: counted again while open.
        it->second.names = 0;
        ++files_;
        bytes_ += st.bytes;
    }
    ++it->second.opens;
    return {};
}

void SpaceLimits::closed(FileId id, int fd) {
    if (open_count_ > 0) --open_count_;
    if (!tracks_usage()) return;
    auto it = inodes_.find(id);
    if (it == inodes_.end()) return;
    Inode& inode = it->second;
    remeasure(inode, fd);
    if (inode.opens > 0) --inode.opens;
    if (inode.opens == 0) {
        // No write of ours can be in flight without an open description.
        reserved_ -= inode.reserved;
        inode.reserved = 0;
        inode.writes = 0;
    }
    settle(it);
}

Status SpaceLimits::evict_one(int root_fd) {
    identify_pins();  // pinned inodes are not evicted
    UniqueFd best_dir;
    std::string best_name;
    struct statx_timestamp best_time {};
    bool found = false;
    auto s = walk_tree(root_fd, [&](int dir_fd, const char* name, const struct statx& st) {
        if (!S_ISREG(st.stx_mode)) return;
        auto it = inodes_.find(inode_usage(st).id);
        if (it != inodes_.end() && (it->second.opens != 0 || it->second.pins != 0)) return;
        if (found && (st.stx_mtime.tv_sec > best_time.tv_sec ||
                      (st.stx_mtime.tv_sec == best_time.tv_sec &&
                       st.stx_mtime.tv_nsec >= best_time.tv_nsec))) {
            return;
        }
        int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
        if (dup < 0) return;
        best_dir.reset(dup);
        best_name = name;
        best_time = st.stx_mtime;
        found = true;
    });
    if (!s) return s;
    if (!found) return fail(ENOSPC);
    auto doomed = measure_at(best_dir.get(), best_name.c_str());
    if (!doomed) return fail(ENOSPC);
    UsageProbe dir(*this, best_dir.get());
    if (::unlinkat(best_dir.get(), best_name.c_str(), 0) != 0) return fail_errno();
    name_removed(*doomed);
    return {};
}

void SpaceLimits::pinned(InodePin& pin) {
    pin.next_ = unidentified_;
    if (unidentified_ != nullptr) unidentified_->prev_ = &pin;
    unidentified_ = &pin;
}

void SpaceLimits::unpinned(InodePin& pin) {
    if (!pin.id_) {
        if (pin.prev_ != nullptr) {
            pin.prev_->next_ = pin.next_;
        } else {
            unidentified_ = pin.next_;
        }
        if (pin.next_ != nullptr) pin.next_->prev_ = pin.prev_;
        return;
    }
    auto it = inodes_.find(*pin.id_);
    if (it == inodes_.end()) return;
    if (it->second.pins > 0) --it->second.pins;
    settle(it);
}

void SpaceLimits::identify_pins(std::optional<FileId> unlinked) {
    if (!tracks_usage()) return;
    while (InodePin* pin = unidentified_) {
        unidentified_ = pin->next_;
        if (unidentified_ != nullptr) unidentified_->prev_ = nullptr;
        pin->next_ = nullptr;
        auto now = measure(pin->fd_);
        if (!now) {
            pin->limits_ = nullptr;  // cannot tell its inode: forgotten
            continue;
        }
        auto [it, fresh] = inodes_.try_emplace(now->id, Inode{.names = 1, .bytes = now->bytes});
        if (fresh && now->nlink == 0 && now->id != unlinked) {
            // Reached after its last name went: counted again while pinned.
            it->second.names = 0;
            ++files_;
            bytes_ += now->bytes;
        }
        ++it->second.pins;
        pin->id_ = now->id;
    }
}

InodePin::InodePin(SpaceLimits* limits, int fd) : fd_(fd) {
    if (limits == nullptr || !limits->tracks_usage() || fd < 0) return;
    limits_ = limits;
    limits_->pinned(*this);
}

InodePin::~InodePin() {
    if (limits_ != nullptr) limits_->unpinned(*this);
}

UsageProbe::UsageProbe(SpaceLimits& limits, int fd) : fd_(fd) {
    if (!limits.tracks_usage()) return;
    limits_ = &limits;
    before_ = measure(fd);
}

UsageProbe::~UsageProbe() {
    if (limits_ == nullptr || !before_) return;
    if (auto now = measure(fd_)) limits_->remeasured(*before_, *now);
}

}  // namespace xen9p::fs
