// The fids of one session: O(1) lookup by number, bounded by max-fids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backend/fs/caller.hpp"
#include "backend/fs/node.hpp"
#include "backend/fs/open_file.hpp"
#include "backend/server/memory_budget.hpp"
#include "base/errno.hpp"

namespace xen9p::server {

class XattrSlot;

struct Fid {
    enum class Kind {
        kFile,        // a node, opened or not
        kXattrRead,   // Txattrwalk result: `xattr` holds the value or name list
        kXattrWrite,  // after Txattrcreate: collects `xattr_size` bytes, set at clunk
    };

    Kind kind = Kind::kFile;
    fs::Node node;
    fs::Caller caller;
    // Shared so that an io_uring operation in flight keeps the descriptor open
    // even if the fid is clunked meanwhile (a closed fd number could be reused).
    std::shared_ptr<fs::OpenFile> file;
    std::vector<std::byte> xattr;
    MemoryCharge xattr_charge;  // pays for `xattr`'s capacity
    std::string xattr_name;
    std::uint64_t xattr_size = 0;
    std::uint32_t xattr_flags = 0;
    // Where the session store keeps `xattr` for a replacement (see
    // SessionStore::kMaxXattrValues); null: it is not carried over.
    std::shared_ptr<XattrSlot> xattr_slot;
    // 9P2000.u: opened with ORCLOSE, the file is removed when the fid goes.
    bool remove_on_clunk = false;
    // 9P2000.u: a directory opened with Topen/Tcreate, read as stat records;
    // the stream offset the next read continues at and its host cookie.
    bool stat_dir = false;
    std::uint64_t dir_offset = 0;
    std::uint64_t dir_cookie = 0;
};

class FidTable {
  public:
    explicit FidTable(std::size_t max_fids) : max_fids_(max_fids) {}

    Fid* find(std::uint32_t fid);
    // A new, empty fid: EBADF if `fid` is in use or NOFID, EMFILE past max-fids.
    Result<Fid*> insert(std::uint32_t fid);
    // Replaces (or creates) `fid`; for Twalk with newfid == fid.
    Result<Fid*> replace(std::uint32_t fid, Fid value);
    void erase(std::uint32_t fid);
    void clear();
    // A fid a dead server left, rebuilt: EUCLEAN if `fid` is taken or NOFID,
    // or past max-fids. Not a change.
    Status restore(std::uint32_t fid, Fid value);

    // Changes are noted from now on: the numbers of fids added, replaced,
    // erased, or touch()ed (changed in place) since the last take_changed().
    // A fid erased or replaced goes to `retire` instead of being destroyed,
    // and one touched first gives it a copy of its descriptors, so that they
    // stay open as long as a record may name them.
    void track_changes(std::function<void(Fid&&)> retire) {
        tracking_ = true;
        retire_ = std::move(retire);
    }
    void touch(std::uint32_t fid);
    std::vector<std::uint32_t> take_changed();
    template <class F>
    void for_each(F&& visit) {
        for (auto& [number, fid] : fids_)
            visit(fid);
    }
    std::size_t size() const { return fids_.size(); }

  private:
    std::size_t max_fids_;
    std::unordered_map<std::uint32_t, Fid> fids_;
    bool tracking_ = false;
    std::function<void(Fid&&)> retire_;
    std::unordered_set<std::uint32_t> changed_;
};

}  // namespace xen9p::server
