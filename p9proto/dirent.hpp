// Rreaddir entry packing: qid[13] offset[8] type[1] name[s] per entry.
// `offset` is the server's opaque cookie for "the position after this entry".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "p9proto/messages.hpp"

namespace xen9p::p9proto {

struct Dirent {
    Qid qid;
    std::uint64_t offset = 0;
    std::uint8_t type = 0;  // DT_*
    std::string_view name;
    friend bool operator==(const Dirent&, const Dirent&) = default;
};

// Size of one packed entry.
constexpr std::size_t dirent_size(std::string_view name) {
    return 24 + name.size();
}

// Packs entries into a fixed buffer; an entry that does not fit whole is refused.
class DirentWriter {
  public:
    explicit DirentWriter(std::span<std::byte> out) : out_(out) {}

    // False (and nothing written) when the entry does not fit or the name is
    // longer than 65535 bytes.
    bool add(const Dirent& entry);

    std::size_t size() const { return used_; }
    std::span<const std::byte> bytes() const { return out_.first(used_); }

  private:
    std::span<std::byte> out_;
    std::size_t used_ = 0;
};

// Iterates packed entries (client side); stops with failed() on a malformed entry.
class DirentReader {
  public:
    explicit DirentReader(std::span<const std::byte> in) : in_(in) {}

    std::optional<Dirent> next();
    bool failed() const { return failed_; }

  private:
    std::span<const std::byte> in_;
    bool failed_ = false;
};

}  // namespace xen9p::p9proto
