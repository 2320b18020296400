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
        if (retire_) retire_(std::move(it->second));
        it->second = std::move(value);
        return &it->second;
    }
    if (fids_.size() >= max_fids_) return fail(EMFILE);
    touch(fid);
    return &(fids_[fid] = std::move(value));
}

void FidTable::erase(std::uint32_t fid) {
    auto it = fids_.find(fid);
    if (it == fids_.end()) return;
    touch(fid);
    if (retire_) retire_(std::move(it->second));
    fids_.erase(it);
}

void FidTable::clear() {
    for (auto& [number, fid] : fids_) {
        touch(number);
        if (retire_) retire_(std::move(fid));
    }
    fids_.clear();
}

Status FidTable::restore(std::uint32_t fid, Fid value) {
    if (fid == p9proto::kNoFid || fids_.contains(fid) || fids_.size() >= max_fids_)
        return fail(EUCLEAN);
    fids_.emplace(fid, std::move(value));
    return {};
}

void FidTable::touch(std::uint32_t fid) {
    if (!tracking_ || !changed_.insert(fid).second || !retire_) return;
    // Changed in place, it may drop the last holder of a descriptor its
    // record names (a moved node's old parent, a created file's directory).
    if (auto it = fids_.find(fid); it != fids_.end()) {
        Fid kept;
        kept.node = it->second.node.clone();
        kept.file = it->second.file;
        retire_(std::move(kept));
    }
}

std::vector<std::uint32_t> FidTable::take_changed() {
    std::vector<std::uint32_t> out(changed_.begin(), changed_.end());
    changed_.clear();
    return out;
}

}  // namespace xen9p::server
