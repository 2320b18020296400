// Visits every entry below a directory at any depth while holding at most three
// fds, whatever the depth (the worker's RLIMIT_NOFILE is max-open-files + 64):
// the usage scan and auto-delete's search for the oldest file.
#pragma once

#include <sys/stat.h>

#include <functional>

#include "base/errno.hpp"

namespace xen9p::fs {

// `dir_fd` is the entry's directory, valid only during the call.
using EntryVisit = std::function<void(int dir_fd, const char* name, const struct statx& st)>;

// Calls `visit` once for every entry below `root_fd` (not for the root itself),
// with statx fields type, mode, nlink, ino, size, blocks and mtime. Depth-first,
// descending with openat(name) and climbing back with openat(".."), each ".."
// checked against the directory it left; an entry that vanishes meanwhile is
// skipped. ESTALE when a directory on the way back was moved meanwhile (only
// a host process can do that while the worker scans).
Status walk_tree(int root_fd, const EntryVisit& visit);

}  // namespace xen9p::fs
