// xen-9pfsd's per-export limits, enforced: max open files, max-files (regular
// files in the export), max-space (MiB of file data) and auto-delete (remove the
// oldest-mtime regular file that nobody has open when a limit would be exceeded).
// File and byte counts come from one scan at open and are kept up to date by the
// operations of this library; they are st_size sums, so holes count as data and
// hard links count once per name (a conservative estimate).
#pragma once

#include <cstdint>
#include <map>
#include <utility>

#include "p9proto/errno.hpp"

namespace xen9p::fs {

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

class SpaceLimits {
  public:
    explicit SpaceLimits(const LimitConfig& config) : config_(config) {}

    // Counts the regular files and their bytes below `root_fd` (only when a
    // file or space limit is set).
    Status scan(int root_fd);

    bool tracks_usage() const { return config_.max_files != 0 || config_.max_space_mib != 0; }
    std::uint64_t files() const { return files_; }
    std::uint64_t bytes() const { return bytes_; }
    std::uint32_t open_files() const { return open_count_; }

    // Room for one more regular file, evicting when auto-delete is on; ENOSPC
    // when the limit holds.
    Status reserve_file(int root_fd);
    // Room for a file to grow from `old_size` to `new_size` bytes; ENOSPC.
    Status reserve_growth(int root_fd, std::uint64_t old_size, std::uint64_t new_size);

    void file_added() { ++files_; }
    void file_removed(std::uint64_t size);
    void size_changed(std::uint64_t old_size, std::uint64_t new_size);

    // True when one more open would pass max_open_files.
    bool at_open_limit() const {
        return config_.max_open_files != 0 && open_count_ >= config_.max_open_files;
    }

    // An open file description on `id` starts or ends (EMFILE past
    // max_open_files); open files are never auto-deleted.
    Status opened(FileId id);
    void closed(FileId id);

  private:
    bool over(std::uint64_t files, std::uint64_t bytes) const;
    // Removes the oldest-mtime regular file that is not open; ENOSPC if none.
    Status evict_one(int root_fd);

    LimitConfig config_;
    std::uint64_t files_ = 0;
    std::uint64_t bytes_ = 0;
    std::uint32_t open_count_ = 0;
    std::map<FileId, std::uint32_t> open_;
};

}  // namespace xen9p::fs
