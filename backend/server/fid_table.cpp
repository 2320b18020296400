#include "backend/server/fid_table.hpp"

#include "p9proto/constants.hpp"

namespace xen9p::server {

Fid* FidTable::find(std::uint32_t fid) {
    auto it = fids_.find(fid);
    return it == fids_.end() ? nullptr : &it->second;
}

Result<Fid*> FidTable::insert(std::uint32_t fid) {
    if (fid == p9proto::kNoFid || fids_.contains(fid)) return fail(EBADF);
    if (fids_.size() >= max_fids_) return fail(EMFILE);
    return &fids_[fid];
}

Result<Fid*> FidTable::replace(std::uint32_t fid, Fid value) {
    if (fid == p9proto::kNoFid) return fail(EBADF);
    auto it = fids_.find(fid);
    if (it != fids_.end()) {
        it->second = std::move(value);
        return &it->second;
    }
    if (fids_.size() >= max_fids_) return fail(EMFILE);
    return &(fids_[fid] = std::move(value));
}

void FidTable::erase(std::uint32_t fid) {
    fids_.erase(fid);
}

}  // namespace xen9p::server
