// Writes the seed corpus of fuzz_p9proto_decode (one file per golden sample of
// the p9proto tests) and the hand-picked edge inputs of its regression set.
// Usage: make_p9proto_corpus <corpus directory> <regressions directory>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>

#include "tests/p9proto/samples.hpp"

namespace {

bool write(const std::filesystem::path& path, const xen9p::p9proto::test::Bytes& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
    using xen9p::p9proto::test::Wire;
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <corpus directory> <regressions directory>\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    const std::filesystem::path edges = argv[2];
    for (const auto& s : xen9p::p9proto::test::request_samples()) {
        if (!write(dir / s.name, s.bytes)) return 1;
    }
    for (const auto& s : xen9p::p9proto::test::reply_samples()) {
        if (!write(dir / s.name, s.bytes)) return 1;
    }
    for (const auto& s : xen9p::p9proto::test::u_request_samples()) {
        if (!write(dir / s.name, s.bytes)) return 1;
    }
    for (const auto& s : xen9p::p9proto::test::u_reply_samples()) {
        if (!write(dir / s.name, s.bytes)) return 1;
    }
    if (!write(dir / "stat-record", xen9p::p9proto::test::sample_stat_record())) return 1;
    // Counts and lengths at their limits, each in a correctly framed message.
    const std::pair<const char*, xen9p::p9proto::test::Bytes> edge_cases[] = {
        {"edge-twalk-nwname-ffff", Wire().u32(1).u32(2).u16(0xffff).message(110, 1)},
        {"edge-rwalk-nwqid-17", Wire().u16(17).message(111, 1)},
        {"edge-twrite-count-ffffffff", Wire().u32(1).u64(0).u32(0xffffffff).message(118, 1)},
        {"edge-rread-count-fffffff9", Wire().u32(0xfffffff9).message(117, 1)},
        {"edge-tversion-len-ffff", Wire().u32(8192).u16(0xffff).raw("9P").message(100, 0xffff)},
        {"edge-tclunk-header-only", Wire().message(120, 1)},
        {"edge-twstat-sizes-ffff", Wire().u32(1).u16(0xffff).u16(0xffff).message(126, 1)},
        {"edge-rstat-inner-size-0", Wire().u16(2).u16(0).message(125, 1)},
        {"edge-rflush-one-extra-byte", Wire().u8(0).message(109, 1)},
        {"edge-size-below-header",
         {std::byte{6}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{120}, std::byte{1},
          std::byte{0}}},
    };
    for (const auto& [name, bytes] : edge_cases) {
        if (!write(edges / name, bytes)) return 1;
    }
    return 0;
}
