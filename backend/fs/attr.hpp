// File attributes: Tgetattr, Tsetattr and Tstatfs on a node (O_PATH fd, so they
// keep working on files unlinked while a fid holds them).
#pragma once

#include <cstdint>

#include "backend/fs/caller.hpp"
#include "backend/fs/export.hpp"
#include "backend/fs/node.hpp"
#include "backend/fs/open_file.hpp"
#include "base/errno.hpp"
#include "p9proto/messages.hpp"

namespace xen9p::fs {

// Every Rgetattr field statx can fill (btime included when the host fs has it),
// with `valid` saying which. Under mapped-xattr, uid/gid/mode/rdev come from the
// user.virtfs.* attributes when present.
Result<p9proto::Rgetattr> getattr(Export& ex, const Node& node, std::uint64_t request_mask);

// The qid of `node` (what walk/attach/create answer).
Result<p9proto::Qid> qid_of(Export& ex, const Node& node);

// Tsetattr. Size changes use ftruncate on `open` when the fid is open (so an
// unlinked file can be truncated), otherwise a write-only re-open of the node.
// ATIME/MTIME without the _SET bits mean "now"; CTIME alone moves ctime to now
// (other changes move it anyway). Under `none`, chown to another owner is ignored (as
// QEMU does); under mapped-xattr uid/gid/mode are stored in user.virtfs.*.
Status setattr(Export& ex, const Caller& who, const Node& node, const OpenFile* open,
               const p9proto::Tsetattr& req);

// Tstatfs of the filesystem holding `node`.
Result<p9proto::Rstatfs> statfs(const Node& node);

}  // namespace xen9p::fs
