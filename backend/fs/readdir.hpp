// Treaddir: packs directory entries into a reply buffer. Offsets are opaque
// cookies (the host's getdents64 d_off, which lseek accepts) and stay valid
// across calls; an entry never straddles replies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "backend/fs/export.hpp"
#include "backend/fs/open_file.hpp"
#include "base/errno.hpp"

namespace xen9p::fs {

// Entries of the open directory `dir` from cookie `offset` (0 = start), packed
// with p9proto::DirentWriter into `out` (at most out.size() bytes). Returns the
// bytes used; 0 at the end. EINVAL when `out` cannot hold even one pending
// entry. Each entry's qid comes from d_ino and the directory's device (no stat
// per entry; a mount point's entry shows the covered inode), version 0. A call
// that continues from the previous call's last cookie reads on without a seek.
Result<std::size_t> read_dir(Export& ex, OpenFile& dir, std::uint64_t offset,
                             std::span<std::byte> out);

}  // namespace xen9p::fs
