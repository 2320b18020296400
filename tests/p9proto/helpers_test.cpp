#include <boost/test/unit_test.hpp>

#include <fcntl.h>

#include <cerrno>
#include <string>
#include <vector>

#include "p9proto/dirent.hpp"
#include "p9proto/open_flags.hpp"
#include "p9proto/version.hpp"
#include "p9proto/wire_errno.hpp"
#include "tests/p9proto/print.hpp"
#include "tests/p9proto/wire.hpp"

namespace xen9p::p9proto::test {

BOOST_AUTO_TEST_SUITE(dirent)

BOOST_AUTO_TEST_CASE(written_entries_read_back_in_order) {
    std::array<std::byte, 256> buf{};
    DirentWriter writer(buf);
    const Dirent a{Qid{qid_type::kDir, 1, 10}, 1, 4, "."};
    const Dirent b{Qid{qid_type::kFile, 2, 11}, 0xfedcba9876543210, 8, "file.txt"};
    BOOST_REQUIRE(writer.add(a));
    BOOST_REQUIRE(writer.add(b));
    BOOST_TEST(writer.size() == dirent_size(".") + dirent_size("file.txt"));
    DirentReader reader(writer.bytes());
    auto first = reader.next();
    auto second = reader.next();
    BOOST_REQUIRE(first.has_value());
    BOOST_REQUIRE(second.has_value());
    BOOST_TEST((*first == a));
    BOOST_TEST((*second == b));
    BOOST_TEST(!reader.next().has_value());
    BOOST_TEST(!reader.failed());
}

BOOST_AUTO_TEST_CASE(entry_layout_is_qid_offset_type_name) {
    std::array<std::byte, 64> buf{};
    DirentWriter writer(buf);
    BOOST_REQUIRE(
        writer.add(Dirent{Qid{0x80, 0x01020304, 0x1112131415161718}, 0x2122232425262728, 4, "ab"}));
    Bytes expected = Wire()
                         .qid(0x80, 0x01020304, 0x1112131415161718)
                         .u64(0x2122232425262728)
                         .u8(4)
                         .str("ab")
                         .body();
    BOOST_TEST(std::ranges::equal(writer.bytes(), expected));
}

BOOST_AUTO_TEST_CASE(an_entry_that_does_not_fit_whole_is_refused_untouched) {
    std::array<std::byte, 50> buf{};
    buf.fill(std::byte{0xaa});
    DirentWriter writer(buf);
    BOOST_REQUIRE(writer.add(Dirent{Qid{}, 1, 8, "twelve-bytes"}));  // 36 bytes
    BOOST_TEST(!writer.add(Dirent{Qid{}, 2, 8, "abc"}));             // 27 > 14 left
    BOOST_TEST(writer.size() == 36u);
    BOOST_TEST(std::ranges::all_of(std::span(buf).subspan(36),
                                   [](std::byte x) { return x == std::byte{0xaa}; }));
    BOOST_TEST(writer.add(Dirent{Qid{}, 3, 8, ""}) == false);  // 24 > 14 left
    std::string huge(65536, 'n');
    std::vector<std::byte> big(70000);
    DirentWriter big_writer(big);
    BOOST_TEST(!big_writer.add(Dirent{Qid{}, 1, 8, huge}));
}

BOOST_AUTO_TEST_CASE(reader_fails_on_a_truncated_entry) {
    std::array<std::byte, 64> buf{};
    DirentWriter writer(buf);
    BOOST_REQUIRE(writer.add(Dirent{Qid{}, 1, 8, "name"}));
    for (std::size_t cut = 1; cut < writer.size(); ++cut) {
        DirentReader reader(writer.bytes().first(cut));
        BOOST_TEST(!reader.next().has_value());
        BOOST_TEST(reader.failed());
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(open_flags)

BOOST_AUTO_TEST_CASE(every_honoured_dotl_flag_maps_to_its_host_flag) {
    const std::pair<std::uint32_t, int> table[] = {
        {dotl::kCreate, O_CREAT},  {dotl::kExcl, O_EXCL},           {dotl::kTrunc, O_TRUNC},
        {dotl::kAppend, O_APPEND}, {dotl::kNonblock, O_NONBLOCK},   {dotl::kDsync, O_DSYNC},
        {dotl::kDirect, O_DIRECT}, {dotl::kDirectory, O_DIRECTORY}, {dotl::kNoatime, O_NOATIME},
        {dotl::kSync, O_SYNC},
    };
    for (auto [dotl_flag, host] : table) {
        BOOST_TEST_CONTEXT(std::oct << dotl_flag) {
            BOOST_TEST(host_open_flags(dotl_flag) == host);
            BOOST_TEST(host_open_flags(dotl::kRdwr | dotl_flag) == (O_RDWR | host));
        }
    }
}

BOOST_AUTO_TEST_CASE(access_modes_are_kept) {
    BOOST_TEST(host_open_flags(dotl::kRdonly) == O_RDONLY);
    BOOST_TEST(host_open_flags(dotl::kWronly) == O_WRONLY);
    BOOST_TEST(host_open_flags(dotl::kRdwr) == O_RDWR);
    BOOST_TEST(host_open_flags(dotl::kNoaccess) == O_ACCMODE);
}

BOOST_AUTO_TEST_CASE(server_side_flags_from_a_guest_are_dropped) {
    for (std::uint32_t f : {dotl::kNoctty, dotl::kFasync, dotl::kCloexec, dotl::kNofollow}) {
        BOOST_TEST(host_open_flags(dotl::kWronly | f) == O_WRONLY);
    }
    // Bits that are no P9_DOTL_* flag are ignored too.
    BOOST_TEST(host_open_flags(0x80000000u | 0x40000000u) == O_RDONLY);
}

BOOST_AUTO_TEST_CASE(every_host_flag_maps_to_its_dotl_flag) {
    const std::pair<int, std::uint32_t> table[] = {
        {O_CREAT, dotl::kCreate},      {O_EXCL, dotl::kExcl},
        {O_NOCTTY, dotl::kNoctty},     {O_TRUNC, dotl::kTrunc},
        {O_APPEND, dotl::kAppend},     {O_NONBLOCK, dotl::kNonblock},
        {O_DSYNC, dotl::kDsync},       {O_ASYNC, dotl::kFasync},
        {O_DIRECT, dotl::kDirect},     {O_DIRECTORY, dotl::kDirectory},
        {O_NOFOLLOW, dotl::kNofollow}, {O_NOATIME, dotl::kNoatime},
        {O_CLOEXEC, dotl::kCloexec},
    };
    for (auto [host, dotl_flag] : table) {
        BOOST_TEST_CONTEXT(std::oct << host) {
            BOOST_TEST(dotl_open_flags(host) == dotl_flag);
            BOOST_TEST(dotl_open_flags(O_WRONLY | host) == (dotl::kWronly | dotl_flag));
        }
    }
    // O_SYNC carries the O_DSYNC bit on Linux, as the Linux client sends it.
    BOOST_TEST(dotl_open_flags(O_SYNC) == (dotl::kSync | dotl::kDsync));
    BOOST_TEST(dotl_open_flags(O_RDWR) == dotl::kRdwr);
}

BOOST_AUTO_TEST_CASE(honoured_flags_survive_a_round_trip) {
    const std::uint32_t flags = dotl::kRdwr | dotl::kCreate | dotl::kExcl | dotl::kTrunc |
                                dotl::kAppend | dotl::kDirectory | dotl::kNoatime | dotl::kDirect;
    BOOST_TEST(dotl_open_flags(host_open_flags(flags)) == flags);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(wire_errno_mapping)

BOOST_AUTO_TEST_CASE(linux_errnos_pass_through_by_number) {
    BOOST_TEST(wire_errno(Errno{EPERM}) == 1u);
    BOOST_TEST(wire_errno(Errno{ENOENT}) == 2u);
    BOOST_TEST(wire_errno(Errno{EACCES}) == 13u);
    BOOST_TEST(wire_errno(Errno{EEXIST}) == 17u);
    BOOST_TEST(wire_errno(Errno{ENOTDIR}) == 20u);
    BOOST_TEST(wire_errno(Errno{ENOSPC}) == 28u);
    BOOST_TEST(wire_errno(Errno{ENAMETOOLONG}) == 36u);
    BOOST_TEST(wire_errno(Errno{ENOTEMPTY}) == 39u);
    BOOST_TEST(wire_errno(Errno{ELOOP}) == 40u);
    BOOST_TEST(wire_errno(Errno{ENODATA}) == 61u);
    BOOST_TEST(wire_errno(Errno{EPROTO}) == 71u);
    BOOST_TEST(wire_errno(Errno{EOPNOTSUPP}) == 95u);
    BOOST_TEST(wire_errno(Errno{ENOTSUP}) == 95u);
    BOOST_TEST(wire_errno(Errno{EDQUOT}) == 122u);
    BOOST_TEST(wire_errno(Errno{EWOULDBLOCK}) == 11u);
}

BOOST_AUTO_TEST_CASE(every_defined_errno_on_this_host_is_mapped) {
    // On a Linux host every errno number in 1..133 that has a name maps to itself;
    // 41 and 58 are unused numbers and become EIO.
    for (int e = 1; e <= 133; ++e) {
        BOOST_TEST_CONTEXT(e) {
            BOOST_TEST(wire_errno(Errno{e}) == (e == 41 || e == 58 ? 5u : std::uint32_t(e)));
        }
    }
}

BOOST_AUTO_TEST_CASE(out_of_range_values_become_eio) {
    for (int e : {0, -1, -2, 134, 512, 4095, 4096, 1 << 30}) {
        BOOST_TEST(wire_errno(Errno{e}) == 5u);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(version)

BOOST_AUTO_TEST_CASE(exact_9p2000l_is_accepted_at_the_smaller_msize) {
    auto out = negotiate_version(Tversion{524288, Text{"9P2000.L"}}, 65536);
    BOOST_TEST(out.msize == std::optional<std::uint32_t>(65536));
    const auto& r = std::get<Rversion>(out.reply);
    BOOST_TEST(r.msize == 65536u);
    BOOST_TEST(r.version.str == "9P2000.L");
    out = negotiate_version(Tversion{8192, Text{"9P2000.L"}}, 65536);
    BOOST_TEST(out.msize == std::optional<std::uint32_t>(8192));
    BOOST_TEST(std::get<Rversion>(out.reply).msize == 8192u);
}

BOOST_AUTO_TEST_CASE(other_versions_are_answered_unknown) {
    for (std::string_view v :
         {"9P2000", "9P2000.U", "9P2000.u.x", "9P2000.L.x", "9P2000.l", "", "9P2000.L "}) {
        BOOST_TEST_CONTEXT("'" << v << "'") {
            auto out = negotiate_version(Tversion{65536, Text{v}}, 65536);
            BOOST_TEST(!out.msize.has_value());
            BOOST_TEST(std::get<Rversion>(out.reply).version.str == "unknown");
        }
    }
}

BOOST_AUTO_TEST_CASE(exact_9p2000u_is_accepted_as_the_u_dialect) {
    auto out = negotiate_version(Tversion{65536, Text{"9P2000.u"}}, 32768);
    BOOST_TEST(out.msize == std::optional<std::uint32_t>(32768));
    BOOST_TEST(std::get<Rversion>(out.reply).version.str == "9P2000.u");
    BOOST_TEST((out.dialect == Dialect::k9P2000u));
    out = negotiate_version(Tversion{65536, Text{"9P2000.L"}}, 32768);
    BOOST_TEST((out.dialect == Dialect::k9P2000L));
}

BOOST_AUTO_TEST_CASE(a_u_client_with_a_small_msize_gets_rerror) {
    auto out = negotiate_version(Tversion{kMinMsize - 1, Text{"9P2000.u"}}, 65536);
    BOOST_TEST(!out.msize.has_value());
    BOOST_TEST(std::get<Rerror>(out.reply).ecode == std::uint32_t{EINVAL});
}

BOOST_AUTO_TEST_CASE(msize_below_the_minimum_is_refused_with_einval) {
    auto out = negotiate_version(Tversion{kMinMsize - 1, Text{"9P2000.L"}}, 65536);
    BOOST_TEST(!out.msize.has_value());
    BOOST_TEST(std::get<Rlerror>(out.reply).ecode == std::uint32_t{EINVAL});
    out = negotiate_version(Tversion{kMinMsize, Text{"9P2000.L"}}, 65536);
    BOOST_TEST(out.msize == std::optional<std::uint32_t>(kMinMsize));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::p9proto::test
