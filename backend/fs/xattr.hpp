// Extended attributes of a node (Txattrwalk / Txattrcreate). A guest sees and
// sets user.* names only, plus system.posix_acl_access/_default under
// passthrough and mapped-xattr: other names are EOPNOTSUPP and left out of
// lists (security.capability, trusted.* and the rest belong to the host).
// Values are capped at kMaxXattrSize; under mapped-xattr the user.virtfs.*
// names that carry the guest's metadata are hidden from list and get (ENODATA)
// and refused for set and remove (EACCES), and POSIX ACLs are stored as
// user.virtfs.system.posix_acl_* as QEMU does. Regular files and directories
// only (EOPNOTSUPP otherwise): the node is re-opened read-only for the f*xattr
// calls, so under passthrough the guest needs read permission on the file as
// well.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "backend/fs/caller.hpp"
#include "backend/fs/export.hpp"
#include "backend/fs/node.hpp"
#include "base/errno.hpp"

namespace xen9p::fs {

inline constexpr std::size_t kMaxXattrSize = 64 * 1024;

// EINVAL (empty, NUL), ERANGE (longer than NAME_MAX) or EOPNOTSUPP (a name
// outside what the export's model serves, see above) for a name a guest gives;
// EOPNOTSUPP is what the kernel answers for a namespace a file system lacks,
// and what clients (Linux's 9p ACL code among them) take as "none here".
// Every function below checks it first; Txattrcreate may check it early.
Status check_xattr_name(const Export& ex, std::string_view name);

// Value of `name` (E2BIG past kMaxXattrSize).
Result<std::vector<std::byte>> xattr_get(Export& ex, const Caller& who, const Node& node,
                                         std::string_view name);

// NUL-separated names, as listxattr(2) returns them.
Result<std::vector<std::byte>> xattr_list(Export& ex, const Caller& who, const Node& node);

// `flags` is 0, p9proto::kXattrCreate or p9proto::kXattrReplace (EINVAL otherwise).
Status xattr_set(Export& ex, const Caller& who, const Node& node, std::string_view name,
                 std::span<const std::byte> value, std::uint32_t flags);

Status xattr_remove(Export& ex, const Caller& who, const Node& node, std::string_view name);

}  // namespace xen9p::fs
