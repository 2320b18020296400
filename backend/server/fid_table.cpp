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
    touch(fid);
    return &fids_[fid];
}

Result<Fid*> FidTable::replace(std::uint32_t fid, Fid value) {
    if (fid == p9proto::kNoFid) return fail(EBADF);
    auto it = fids_.find(fid);
    if (it != fids_.end()) {
        touch(fid);
        it->second = std::move(value);
        return &it->second;
    }
    if (fids_.size() >= max_fids_) return fail(EMFILE);
    touch(fid);
    return &(fids_[fid] = std::move(value));
}

void FidTable::erase(std::uint32_t fid) {
    if (fids_.erase(fid) != 0) touch(fid);
}

void FidTable::clear() {
    for (const auto& [number, fid] : fids_)
        touch(number);
    fids_.clear();
}

Status FidTable::restore(std::uint32_t fid, Fid value) {
    if (fid == p9proto::kNoFid || fids_.contains(fid) || fids_.size() >= max_fids_)
        return fail(EUCLEAN);
    fids_.emplace(fid, std::move(value));
    return {};
}

std::vector<std::uint32_t> FidTable::take_changed() {
    std::vector<std::uint32_t> out(changed_.begin(), changed_.end());
    changed_.clear();
    return out;
}

}  // namespace xen9p::server
