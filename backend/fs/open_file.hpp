// A fid after Tlopen/Tlcreate: a real file descriptor, re-opened from the node's
// O_PATH fd through /proc/self/fd (same inode, no path string), plus the open
// file descriptions its POSIX locks live on.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "backend/fs/caller.hpp"
#include "backend/fs/export.hpp"
#include "backend/fs/file_locks.hpp"
#include "backend/fs/node.hpp"
#include "backend/fs/space_limits.hpp"
#include "base/errno.hpp"
#include "base/unique_fd.hpp"
#include "p9proto/messages.hpp"

namespace xen9p::fs {

class OpenFile {
  public:
    OpenFile() = default;
    OpenFile(UniqueFd fd, int host_flags, FileId id, SpaceLimits* limits)
        : fd_(std::move(fd)), flags_(host_flags), id_(id), limits_(limits) {}
    OpenFile(OpenFile&& other) noexcept;
    OpenFile& operator=(OpenFile&& other) noexcept;
    OpenFile(const OpenFile&) = delete;
    OpenFile& operator=(const OpenFile&) = delete;
    ~OpenFile();

    explicit operator bool() const { return static_cast<bool>(fd_); }
    int fd() const { return fd_.get(); }
    int flags() const { return flags_; }  // host O_* flags it was opened with
    FileId id() const { return id_; }
    FileLocks& locks() { return locks_; }

    // A directory's readdir cookie the descriptor's position is known to stand
    // at (read_dir's own bookkeeping): a listing that continues from it needs
    // no lseek, which on ext4 would rebuild the directory's hash-order cache.
    std::optional<std::uint64_t>& dir_position() { return dir_position_; }

  private:
    void release();

    UniqueFd fd_;
    int flags_ = 0;
    FileId id_;
    SpaceLimits* limits_ = nullptr;  // told when this description closes
    FileLocks locks_;
    std::optional<std::uint64_t> dir_position_;
};

struct Opened {
    OpenFile file;
    p9proto::Qid qid;
};

struct Created {
    Node node;  // the new file's O_PATH node (the fid now names it)
    OpenFile file;
    p9proto::Qid qid;
};

// An open file a dead server left in the descriptor table its replacement
// shares: `fd` must be a regular file or directory opened for I/O (not
// O_PATH), else EUCLEAN; counted as open again (EMFILE past the limit).
Result<OpenFile> adopt_open_file(Export& ex, UniqueFd fd);

// Tlopen: opens the file `node` names with the P9_DOTL flags `dotl_flags`.
// Refuses device nodes, FIFOs and sockets (ENXIO) and symlinks (ELOOP);
// O_CREAT/O_EXCL are ignored; O_DIRECT only if the export allows it; EROFS for
// write access or O_TRUNC on a read-only export; EMFILE past max-open-files.
Result<Opened> open_node(Export& ex, const Caller& who, const Node& node, std::uint32_t dotl_flags);

// Tlcreate: creates regular file `name` in `dir` (always O_CREAT|O_EXCL, as the
// Linux client expects: EEXIST if it exists) with `mode` and group `gid`, and
// opens it with `dotl_flags`.
Result<Created> create_file(Export& ex, const Caller& who, const Node& dir, std::string_view name,
                            std::uint32_t dotl_flags, std::uint32_t mode, std::uint32_t gid);

// Tfsync.
Status fsync_file(const OpenFile& file, bool datasync);

// Space accounting for a write of `length` bytes at `offset` (call before the
// write; ENOSPC past max-space) and EBADF when the file is not open for writing.
// A successful call holds a bound on the write's new blocks until finish_write.
Status prepare_write(Export& ex, const OpenFile& file, std::uint64_t offset, std::uint64_t length);

// After every write prepare_write allowed, whatever its outcome (also when it
// was cancelled): measures what the file now takes.
void finish_write(Export& ex, const OpenFile& file);

}  // namespace xen9p::fs
