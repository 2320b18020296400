#include "p9proto/dirent.hpp"

#include <cstring>
#include <limits>

namespace xen9p::p9proto {
namespace {

void store(std::span<std::byte> out, std::size_t& pos, std::uint64_t v, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) {
        out[pos + i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
    }
    pos += width;
}

std::uint64_t load(std::span<const std::byte> in, std::size_t pos, std::size_t width) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i)
        v |= static_cast<std::uint64_t>(in[pos + i]) << (8 * i);
    return v;
}

}  // namespace

bool DirentWriter::add(const Dirent& entry) {
    if (entry.name.size() > std::numeric_limits<std::uint16_t>::max()) return false;
    const std::size_t need = dirent_size(entry.name);
    if (need > out_.size() - used_) return false;
    std::size_t pos = used_;
    store(out_, pos, entry.qid.type, 1);
    store(out_, pos, entry.qid.version, 4);
    store(out_, pos, entry.qid.path, 8);
    store(out_, pos, entry.offset, 8);
    store(out_, pos, entry.type, 1);
    store(out_, pos, entry.name.size(), 2);
    if (!entry.name.empty()) std::memcpy(out_.data() + pos, entry.name.data(), entry.name.size());
    used_ += need;
    return true;
}

std::optional<Dirent> DirentReader::next() {
    if (failed_ || in_.empty()) return std::nullopt;
    constexpr std::size_t kFixed = 24;  // qid[13] offset[8] type[1] name length[2]
    if (in_.size() < kFixed) {
        failed_ = true;
        return std::nullopt;
    }
    Dirent entry;
    entry.qid.type = static_cast<std::uint8_t>(load(in_, 0, 1));
    entry.qid.version = static_cast<std::uint32_t>(load(in_, 1, 4));
    entry.qid.path = load(in_, 5, 8);
    entry.offset = load(in_, 13, 8);
    entry.type = static_cast<std::uint8_t>(load(in_, 21, 1));
    const auto len = static_cast<std::size_t>(load(in_, 22, 2));
    if (in_.size() - kFixed < len) {
        failed_ = true;
        return std::nullopt;
    }
    entry.name = {reinterpret_cast<const char*>(in_.data() + kFixed), len};
    in_ = in_.subspan(kFixed + len);
    return entry;
}

}  // namespace xen9p::p9proto
