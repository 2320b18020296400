// What 9P2000.u asks of the file layer beyond 9P2000.L's operations: a node's
// stat record (Tstat) and directory reads that return stat records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "backend/fs/caller.hpp"
#include "backend/fs/export.hpp"
#include "backend/fs/node.hpp"
#include "backend/fs/open_file.hpp"
#include "base/errno.hpp"
#include "p9proto/u_stat.hpp"

namespace xen9p::fs {

// The stat of `node`, named `name`, from getattr (so mapped-xattr modes and
// owners show): mode with its dm:: type bits, times in seconds, numeric owners
// in n_uid/n_gid (uid, gid and muid strings are empty: no account database
// is consulted, as QEMU does), and the extension: a symlink's target, "c|b
// MAJOR MINOR" of a device, "HARDLINKCOUNT n" of a file or directory (the
// link count, which the Linux client reads from there as QEMU sends it). `extension` holds the
// strings' storage; the result's views point into it and into `name`.
Result<p9proto::UStat> u_stat(Export& ex, const Caller& who, const Node& node,
                              std::string_view name, std::string& extension);

struct StatsRead {
    std::size_t size = 0;           // bytes of whole records written
    std::uint64_t next_cookie = 0;  // where the next read starts
};

// Stat records of the entries of the open directory `open` (the node `dir`),
// from host cookie `cookie` (0 = start, "." and ".." included), packed into
// `out`: whole records only, the first that does not fit left for the next
// read. Each entry is looked up from `dir` as a walk would (never following
// a symlink); an entry gone meanwhile is skipped. EINVAL when not even one
// record fits.
Result<StatsRead> read_dir_stats(Export& ex, const Caller& who, const Node& dir,
                                 const OpenFile& open, std::uint64_t cookie,
                                 std::span<std::byte> out);

}  // namespace xen9p::fs
