// Name resolution: one component at a time from a directory node, never
// following a symlink and never leaving the export. A name can only resolve
// beneath the node it starts from (RESOLVE_BENEATH), so the only way up is "..",
// which stays at the export root there and is otherwise checked to stay inside
// the export: a directory the host moves out of the export keeps reaching
// itself and its own subtree (what was moved), never anything above it. Where
// the export is a mount root (the worker's "/", or Export::open's own mount)
// the kernel makes that check and ".." costs the same at any depth. A symlink
// swapped in during a walk is refused by RESOLVE_NO_SYMLINKS / O_NOFOLLOW at
// that component.
#pragma once

#include <string_view>

#include "backend/fs/caller.hpp"
#include "backend/fs/export.hpp"
#include "backend/fs/node.hpp"
#include "base/errno.hpp"

namespace xen9p::fs {

// The node `name` names in directory `dir`. "." is `dir` itself; ".." is the
// parent, or `dir` again at the export root; ENOENT when the parent is not inside
// the export any more (a directory moved out by the host). Other names must be
// single components (no '/', not empty, at most NAME_MAX: EINVAL/ENAMETOOLONG)
// and are opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
// RESOLVE_NO_SYMLINKS, O_PATH | O_NOFOLLOW): a symlink is returned as itself,
// and walking *through* one (it being `dir`) fails with ELOOP.
Result<Node> walk_one(Export& ex, const Caller& who, const Node& dir, std::string_view name);

// EINVAL / ENAMETOOLONG unless `name` is a single entry name other than "." and
// "..": what every create, link, rename and unlink target must be.
Status check_entry_name(std::string_view name);

}  // namespace xen9p::fs
