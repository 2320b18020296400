#include "backend/fs/qid_map.hpp"

#include <dirent.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>

namespace xen9p::fs {
namespace {

constexpr unsigned kInoBits = 56;
constexpr std::uint64_t kInoMask = (std::uint64_t{1} << kInoBits) - 1;
// Below it, such an inode's low bits and the index of its high part.
constexpr unsigned kWideLowBits = 44;
constexpr std::uint64_t kWideLowMask = (std::uint64_t{1} << kWideLowBits) - 1;
static_assert(QidMap::kMaxWidePrefixes <= (std::uint64_t{1} << (kInoBits - kWideLowBits)));

}  // namespace

QidMap::Tables QidMap::tables() const {
    Tables t;
    t.devices = devices_;
    t.wide_prefixes.resize(wide_prefixes_.size());
    for (const auto& [key, index] : wide_prefixes_)
        t.wide_prefixes[index] = key;
    return t;
}

Status QidMap::restore(const Tables& tables) {
    if (tables.devices.size() > kMaxDevices || tables.wide_prefixes.size() > kMaxWidePrefixes)
        return fail(EUCLEAN);
    std::vector<std::uint64_t> devices;
    for (const auto dev : tables.devices) {
        if (std::find(devices.begin(), devices.end(), dev) != devices.end()) return fail(EUCLEAN);
        devices.push_back(dev);
    }
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t> prefixes;
    for (const auto& key : tables.wide_prefixes) {
        if (!prefixes.emplace(key, prefixes.size()).second) return fail(EUCLEAN);
    }
    devices_ = std::move(devices);
    wide_prefixes_ = std::move(prefixes);
    return {};
}

std::uint8_t QidMap::type_of_mode(std::uint32_t mode) {
    if (S_ISDIR(mode)) return p9proto::qid_type::kDir;
    if (S_ISLNK(mode)) return p9proto::qid_type::kSymlink;
    return p9proto::qid_type::kFile;
}

Result<std::uint64_t> QidMap::path_of(std::uint64_t dev, std::uint64_t ino) {
    if (ino > kInoMask) {
        auto key = std::make_pair(dev, ino >> kWideLowBits);
        auto it = wide_prefixes_.find(key);
        if (it == wide_prefixes_.end()) {
            if (wide_prefixes_.size() == kMaxWidePrefixes) return fail(EOVERFLOW);
            it = wide_prefixes_.emplace(key, wide_prefixes_.size()).first;
        }
        return (std::uint64_t{kMaxDevices} << kInoBits) | (it->second << kWideLowBits) |
               (ino & kWideLowMask);
    }
    std::size_t index = 0;
    while (index < devices_.size() && devices_[index] != dev)
        ++index;
    if (index == devices_.size()) {
        if (devices_.size() == kMaxDevices) return fail(EOVERFLOW);
        devices_.push_back(dev);
    }
    return (std::uint64_t{index} << kInoBits) | ino;
}

Result<p9proto::Qid> QidMap::qid(const struct statx& st) {
    auto path = path_of(makedev(st.stx_dev_major, st.stx_dev_minor), st.stx_ino);
    if (!path) return std::unexpected(path.error());
    // Any content or metadata change moves mtime or ctime (ns resolution).
    std::uint64_t v = static_cast<std::uint64_t>(st.stx_mtime.tv_sec) * 1000000007u ^
                      st.stx_mtime.tv_nsec ^
                      static_cast<std::uint64_t>(st.stx_ctime.tv_sec) * 998244353u ^
                      (static_cast<std::uint64_t>(st.stx_ctime.tv_nsec) << 17) ^ (st.stx_size << 8);
    p9proto::Qid q;
    q.type = type_of_mode(st.stx_mode);
    q.version = static_cast<std::uint32_t>(v ^ (v >> 32));
    q.path = *path;
    return q;
}

Result<p9proto::Qid> QidMap::entry_qid(std::uint64_t dev, std::uint64_t ino, unsigned char dtype) {
    auto path = path_of(dev, ino);
    if (!path) return std::unexpected(path.error());
    p9proto::Qid q;
    q.type = dtype == DT_DIR   ? p9proto::qid_type::kDir
             : dtype == DT_LNK ? p9proto::qid_type::kSymlink
                               : p9proto::qid_type::kFile;
    q.path = *path;
    return q;
}

}  // namespace xen9p::fs
