// Convenience calls over a Client for tests, bench and demo: each sends one
// request (or a loop of them), turns Rlerror into its errno and returns owned data.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.hpp"
#include "p9proto/dirent.hpp"
#include "p9proto/messages.hpp"

namespace xen9p::client {

Result<p9proto::Qid> attach(Client& client, std::uint32_t fid, std::string_view uname,
                            std::string_view aname, std::uint32_t n_uname = p9proto::kNoUname);

// Twalk of up to 16 names. As the Linux client does, fewer qids than names is
// ENOENT (and newfid is then not in use).
Result<std::vector<p9proto::Qid>> walk(Client& client, std::uint32_t fid, std::uint32_t newfid,
                                       std::span<const std::string_view> names);

struct OpenResult {
    p9proto::Qid qid;
    std::uint32_t iounit = 0;
};
Result<OpenResult> lopen(Client& client, std::uint32_t fid, std::uint32_t flags);

Status clunk(Client& client, std::uint32_t fid);

// The largest read/write payload per message: iounit if set and small enough,
// else msize - P9_IOHDRSZ (the Linux client's rule).
std::uint32_t io_chunk(const Client& client, std::uint32_t iounit = 0);

// Reads from `offset` until a read returns 0 bytes.
Result<std::vector<std::byte>> read_all(Client& client, std::uint32_t fid, std::uint64_t offset = 0,
                                        std::uint32_t iounit = 0);

// Writes all of `data` at `offset` in chunks; EIO if the server accepts 0
// bytes, EPROTO if it claims more than was sent.
Status write_all(Client& client, std::uint32_t fid, std::uint64_t offset,
                 std::span<const std::byte> data, std::uint32_t iounit = 0);

struct DirEntry {
    p9proto::Qid qid;
    std::uint64_t offset = 0;
    std::uint8_t type = 0;
    std::string name;
    friend bool operator==(const DirEntry&, const DirEntry&) = default;
};

// Treaddir from offset 0 (cookie by cookie) until an empty reply, calling
// `visit` for each entry (its name lives only during the call); returns the
// number of entries. EPROTO on a malformed entry list. `count` 0 means
// msize - P9_READDIRHDRSZ.
Result<std::uint64_t> readdir_each(Client& client, std::uint32_t fid,
                                   const std::function<void(const p9proto::Dirent&)>& visit,
                                   std::uint32_t count = 0);

// readdir_each, keeping every entry.
Result<std::vector<DirEntry>> readdir_all(Client& client, std::uint32_t fid,
                                          std::uint32_t count = 0);

}  // namespace xen9p::client
