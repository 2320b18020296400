// Directory entries: create (mkdir, symlink, mknod), link, rename, unlink,
// remove, readlink. Every name is one component checked by check_entry_name;
// every mutation fails with EROFS on a read-only export.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "backend/fs/caller.hpp"
#include "backend/fs/export.hpp"
#include "backend/fs/node.hpp"
#include "base/errno.hpp"
#include "p9proto/messages.hpp"

namespace xen9p::fs {

Result<p9proto::Qid> make_dir(Export& ex, const Caller& who, const Node& dir, std::string_view name,
                              std::uint32_t mode, std::uint32_t gid);

// Under mapped-xattr the link is a regular file holding the target, mode S_IFLNK
// in user.virtfs.mode (QEMU's format).
Result<p9proto::Qid> make_symlink(Export& ex, const Caller& who, const Node& dir,
                                  std::string_view name, std::string_view target,
                                  std::uint32_t gid);

// Under mapped-xattr any type becomes a regular file with mode/rdev in xattrs;
// under `none` device nodes are EPERM (FIFOs and sockets are made); under
// `passthrough` they need the host's permission (EPERM without it). `mode`
// carries the file type bits (S_IFREG/CHR/BLK/FIFO/SOCK).
Result<p9proto::Qid> make_node(Export& ex, const Caller& who, const Node& dir,
                               std::string_view name, std::uint32_t mode, std::uint32_t major,
                               std::uint32_t minor, std::uint32_t gid);

// Tlink: new name `name` in `dir` for `target` (not a directory: EPERM).
Status make_link(Export& ex, const Caller& who, const Node& dir, const Node& target,
                 std::string_view name);

// Trename: moves `node` to `name` in `new_dir`; updates the node's origin.
Status rename_node(Export& ex, const Caller& who, Node& node, const Node& new_dir,
                   std::string_view name);

// Trenameat.
Status rename_at(Export& ex, const Caller& who, const Node& old_dir, std::string_view old_name,
                 const Node& new_dir, std::string_view new_name);

// Tunlinkat; `flags` is 0 or p9proto::kAtRemoveDir.
Status unlink_at(Export& ex, const Caller& who, const Node& dir, std::string_view name,
                 std::uint32_t flags);

// Tremove: unlinks the entry `node` was reached through, after checking that the
// entry still names the same file (ESTALE when it was renamed meanwhile by
// someone else; EBUSY for the export root).
Status remove_node(Export& ex, const Caller& who, const Node& node);

// Treadlink.
Result<std::string> read_link(Export& ex, const Caller& who, const Node& node);

}  // namespace xen9p::fs
