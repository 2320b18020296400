// libFuzzer target: any byte string through decode_request and decode_reply
// in both dialects, and through decode_stat_record.
// A message that decodes must re-encode to exactly the same bytes (the 9P
// encoding has one form) and decode again to an equal value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "p9proto/codec.hpp"
#include "p9proto/dirent.hpp"

namespace {

using namespace xen9p::p9proto;

constexpr std::uint32_t kMsizes[] = {kMinMsize, 8192, 65536 + 24, 0xffffffff};

void require(bool condition) {
    if (!condition) std::abort();
}

void check_request(std::span<const std::byte> in, std::uint32_t msize, Dialect dialect) {
    auto decoded = decode_request(in, msize, dialect);
    if (!decoded) {
        require(decoded.error().failure != DecodeFailure::kUnknownType ||
                decoded.error().tag.has_value());
        return;
    }
    std::vector<std::byte> out(encoded_size(*decoded));
    auto n = encode(*decoded, out);
    require(n.has_value() && *n == in.size());
    require(std::ranges::equal(out, in));
    auto again = decode_request(out, msize, dialect);
    require(again.has_value() && *again == *decoded);
}

void check_reply(std::span<const std::byte> in, std::uint32_t msize, Dialect dialect) {
    auto decoded = decode_reply(in, msize, dialect);
    if (!decoded) return;
    std::vector<std::byte> out(encoded_size(*decoded));
    auto n = encode(*decoded, out, out.size());
    require(n.has_value() && *n == in.size());
    require(std::ranges::equal(out, in));
    auto again = decode_reply(out, msize, dialect);
    require(again.has_value() && *again == *decoded);
    if (auto* readdir = std::get_if<Rreaddir>(&decoded->body)) {
        DirentReader reader(readdir->data.bytes);
        std::size_t consumed = 0;
        while (auto entry = reader.next())
            consumed += dirent_size(entry->name);
        require(reader.failed() || consumed == readdir->data.bytes.size());
    }
}

// A stat record that decodes re-encodes to the bytes it took.
void check_stat_record(std::span<const std::byte> in) {
    auto record = decode_stat_record(in);
    if (!record) return;
    require(record->size <= in.size());
    std::vector<std::byte> out(stat_record_size(record->stat));
    auto n = encode_stat_record(record->stat, out);
    require(n.has_value() && *n == record->size);
    require(std::ranges::equal(out, in.first(record->size)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A private copy, as the server decodes from its own buffer.
    std::vector<std::byte> in(size);
    for (std::size_t i = 0; i < size; ++i)
        in[i] = static_cast<std::byte>(data[i]);
    for (auto msize : kMsizes) {
        for (auto dialect : {Dialect::k9P2000L, Dialect::k9P2000u}) {
            check_request(in, msize, dialect);
            check_reply(in, msize, dialect);
        }
    }
    check_stat_record(in);
    return 0;
}
