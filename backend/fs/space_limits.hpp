// xen-9pfsd's per-export limits, enforced: max open files, max-files (inodes in
// the export: every type, the export root itself excluded), max-space (MiB
// allocated: st_blocks * 512 of every inode, so directories, symlinks and
// metadata blocks count and holes do not) and auto-delete (remove the
// oldest-mtime regular file that nobody has open when a limit would be
// exceeded).
//
// The counts come from one scan at open and are kept exact by the operations of
// this library: every operation that may change an inode's allocation measures
// it afterwards (statx) instead of predicting; hard links count once (names per
// inode are tracked for inodes with more than one); an inode that loses its last
// name while any descriptor of ours still references it (an open file
// description, or the O_PATH fd of a walked fid: an InodePin) stays counted
// until the last of them goes, then is dropped once. Growth is checked before
// it happens against a bound (allocation_bound), and a write in flight holds
// its bound until it completes and is measured.
//
// Not exact, because only racing the host could make it so: host processes
// changing the export (the count catches up with an inode at its next
// operation here or at the next scan), and allocation a file system makes or
// drops later on its own (ext4's extent blocks at writeback, XFS's speculative
// preallocation).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "base/errno.hpp"

namespace xen9p::fs {

class InodePin;

struct LimitConfig {
    std::uint32_t max_open_files = 0;  // 0 = unlimited
    std::uint32_t max_files = 0;       // 0 = unlimited
    std::uint32_t max_space_mib = 0;   // 0 = unlimited
    bool auto_delete = false;
};

struct FileId {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    friend auto operator<=>(const FileId&, const FileId&) = default;
};

struct FileIdHash {
    std::size_t operator()(const FileId& id) const noexcept {
        return static_cast<std::size_t>(id.ino * 0x9E3779B97F4A7C15ull ^ id.dev);
    }
};

// What the accounting needs of one inode, from one statx.
struct InodeUsage {
    FileId id;
    bool dir = false;
    std::uint32_t nlink = 0;
    std::uint64_t bytes = 0;  // allocated: stx_blocks * 512
    std::uint64_t size = 0;
    std::uint32_t blksize = 0;
};

InodeUsage inode_usage(const struct statx& st);
// statx of the inode `fd` refers to / of entry `name` in `dir_fd` (never
// following a symlink); nullopt when it is gone.
std::optional<InodeUsage> measure(int fd);
std::optional<InodeUsage> measure_at(int dir_fd, const char* name);

// The most a file system with blocks of `blksize` allocates to fill bytes
// [from, to) of a file: the range rounded out to whole blocks, plus metadata
// (ext2-style indirect blocks need one per blksize/4 data blocks; four more
// cover the index path or an extent-tree split).
std::uint64_t allocation_bound(std::uint32_t blksize, std::uint64_t from, std::uint64_t to);
// The most a new entry whose inode holds `content` bytes (a symlink target, a
// directory's first block, mapped-xattr data) allocates, with what its
// directory may grow by (ext4 turns a one-block directory into an index root
// and two leaves).
std::uint64_t entry_bound(std::uint32_t blksize, std::uint64_t content);

// Must outlive every OpenFile and InodePin that points at it (the Export owns
// it, the fids referencing the export are gone first).
class SpaceLimits {
  public:
    explicit SpaceLimits(const LimitConfig& config) : config_(config) {}
    SpaceLimits(const SpaceLimits&) = delete;
    SpaceLimits& operator=(const SpaceLimits&) = delete;

    // Counts the inodes below `root_fd` and their allocation (only when a file or
    // space limit is set), at any depth.
    Status scan(int root_fd);

    bool tracks_usage() const { return config_.max_files != 0 || config_.max_space_mib != 0; }
    std::uint64_t files() const { return files_; }
    std::uint64_t bytes() const { return bytes_; }
    // Bounds held by writes in flight.
    std::uint64_t reserved() const { return reserved_; }
    std::uint32_t open_files() const { return open_count_; }

    // Room for `new_inodes` more inodes and `bound` more bytes, evicting when
    // auto-delete is on; ENOSPC when a limit holds. Call before taking any
    // UsageProbe (an eviction changes directories). Holds nothing: the caller
    // acts at once and its measurement replaces the bound.
    Status make_room(int root_fd, std::uint32_t new_inodes, std::uint64_t bound);

    // After an operation, from measurements taken around it:
    // a new inode with its first name (measured once complete);
    void inode_added(const InodeUsage& now);
    // another name for an inode of the export (measured before the link);
    void name_added(const InodeUsage& before);
    // a name gone (unlink, rmdir, rename over it; measured just before);
    void name_removed(const InodeUsage& before);
    // an inode's allocation changed from `before` to `now`.
    void remeasured(const InodeUsage& before, const InodeUsage& now);

    // A write of up to `bound` new bytes to open inode `id` starts (make_room's
    // check, then held until write_done) / has completed: `fd` is measured.
    Status reserve_write(int root_fd, FileId id, std::uint64_t bound);
    void write_done(FileId id, int fd);

    // True when one more open would pass max_open_files.
    bool at_open_limit() const {
        return config_.max_open_files != 0 && open_count_ >= config_.max_open_files;
    }

    // An open file description on inode `st` starts (EMFILE past
    // max_open_files) or ends (`fd`, still open, is measured a last time).
    // Inodes a descriptor of ours references (open or pinned) are never
    // auto-deleted: removing their name would free nothing.
    Status opened(const InodeUsage& st);
    void closed(FileId id, int fd);

    // Measures every InodePin not identified yet and counts it on its inode.
    // Done only when it matters, so that a walk costs no syscall and each pin
    // is measured at most once: when an inode may have lost its last name
    // (name_removed: `unlinked` is that inode, still counted), before an
    // eviction, and after pinning an inode that may have none left (".." of a
    // removed directory: counted again while pinned).
    void identify_pins(std::optional<FileId> unlinked = std::nullopt);

  private:
    friend class InodePin;

    // An inode with more than one name in the export, or open, or pinned.
    struct Inode {
        std::uint32_t names = 1;  // in the export; 0 once unlinked while referenced
        std::uint32_t opens = 0;
        std::uint32_t pins = 0;      // identified InodePins on it
        std::uint32_t writes = 0;    // in flight
        std::uint64_t bytes = 0;     // last measured, what bytes_ holds for it
        std::uint64_t reserved = 0;  // bounds of its writes in flight
    };
    using Inodes = std::unordered_map<FileId, Inode, FileIdHash>;

    bool over(std::uint64_t files, std::uint64_t bytes) const;
    void charge(std::uint64_t old_bytes, std::uint64_t new_bytes);
    // Charges what `inode` (open as `fd`) allocates now instead of what it did.
    void remeasure(Inode& inode, int fd);
    void drop(std::uint64_t bytes);
    // Forgets `it` when nothing needs it any more, dropping an unnamed inode.
    void settle(Inodes::iterator it);
    // Removes the oldest-mtime regular file that is not referenced; ENOSPC if none.
    Status evict_one(int root_fd);

    void pinned(InodePin& pin);
    void unpinned(InodePin& pin);

    LimitConfig config_;
    std::uint64_t files_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint64_t reserved_ = 0;
    std::uint32_t open_count_ = 0;
    Inodes inodes_;                     // only while tracks_usage()
    InodePin* unidentified_ = nullptr;  // list of pins not measured yet
};

// A descriptor of ours that keeps an inode alive without being an open file
// description: the O_PATH fd a walked fid's Node holds (shared by its clones).
// While it lives, the inode stays counted after losing its last name. Known to
// SpaceLimits by address: neither copied nor moved.
class InodePin {
  public:
    // No cost (no syscall, no registration) unless `limits` counts usage; `fd`
    // must stay open for the pin's life.
    InodePin(SpaceLimits* limits, int fd);
    ~InodePin();
    InodePin(const InodePin&) = delete;
    InodePin& operator=(const InodePin&) = delete;

  private:
    friend class SpaceLimits;

    SpaceLimits* limits_ = nullptr;
    int fd_ = -1;
    std::optional<FileId> id_;  // once identified: counted in inodes_[*id_].pins
    InodePin* prev_ = nullptr;  // in limits_->unidentified_ until identified
    InodePin* next_ = nullptr;
};

// Measures an inode now and again when it goes out of scope, whatever happened
// in between, and charges the difference: wraps operations that may change the
// allocation of a directory (entries added or removed) or a file (truncate,
// xattrs). The fd must outlive the probe.
class UsageProbe {
  public:
    UsageProbe(SpaceLimits& limits, int fd);
    ~UsageProbe();
    UsageProbe(const UsageProbe&) = delete;
    UsageProbe& operator=(const UsageProbe&) = delete;

  private:
    SpaceLimits* limits_ = nullptr;
    int fd_ = -1;
    std::optional<InodeUsage> before_;
};

}  // namespace xen9p::fs
