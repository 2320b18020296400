#define BOOST_TEST_MODULE xenring_platform
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sim/grant_sharer.hpp"
#include "sim/handle_probe.hpp"
#include "tests/xenring_platform/fixture.hpp"
#include "xenring/platform/platform.hpp"
#include "xenring/platform/sim_platform.hpp"

using namespace xen9p;
using namespace xen9p::platform;
using xen9p::sim::GrantSharer;
using xen9p::sim::open_grant_sharer;
using xen9p::test::ChildProcess;
using xen9p::test::kGuest;
using xen9p::test::recv_value;
using xen9p::test::send_value;
using xen9p::test::SimFixture;

namespace {

constexpr std::size_t kPage = 4096;

struct Refs {
    std::uint32_t count = 0;
    GrantRef refs[4] = {};
};

// The guest grants dom0 pages 0 and 1; dom0 maps page 0 alone.
struct OneOfTwoMapped {
    explicit OneOfTwoMapped(const std::string& spec) {
        auto opened = open_grant_sharer(spec, kGuest, 2);
        BOOST_REQUIRE(opened);
        sharer = std::move(*opened);
        auto mapped = sharer->grant(0, 0, true);
        auto spare = sharer->grant(0, 1, true);
        BOOST_REQUIRE(mapped);
        BOOST_REQUIRE(spare);
        mapped_ref = *mapped;
        spare_ref = *spare;
        auto mapper_opened = open_grant_mapper(spec);
        BOOST_REQUIRE(mapper_opened);
        mapper = std::move(*mapper_opened);
        const GrantRef refs[] = {mapped_ref};
        auto made = mapper->map(kGuest, refs, true);
        BOOST_REQUIRE(made);
        mapping = std::move(*made);
    }

    std::unique_ptr<GrantSharer> sharer;
    GrantRef mapped_ref = 0;
    GrantRef spare_ref = 0;
    std::unique_ptr<GrantMapper> mapper;
    GrantMapping mapping;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(grants, SimFixture)

BOOST_AUTO_TEST_CASE(granted_pages_map_contiguously_and_are_shared_both_ways) {
    const std::string sim = spec();
    // The guest grants pages 3, 1, 2 (in that order) and waits for dom0 to
    // write into them.
    ChildProcess guest([&](int control) {
        auto sharer = open_grant_sharer(sim, kGuest, 4);
        if (!sharer) return 10;
        auto mem = (*sharer)->memory();
        for (std::size_t p = 0; p < 4; ++p)
            std::memset(mem.data() + p * kPage, int('a' + p), kPage);
        Refs refs;
        refs.count = 3;
        const std::size_t pages[] = {3, 1, 2};
        for (std::size_t i = 0; i < 3; ++i) {
            auto ref = (*sharer)->grant(0, pages[i], true);
            if (!ref) return 11;
            refs.refs[i] = *ref;
        }
        if (!send_value(control, refs)) return 12;
        char done = 0;
        if (!recv_value(control, done)) return 13;
        // dom0 wrote 'Z' at the start of its second page, which is our page 1.
        return mem[1 * kPage] == std::byte{'Z'} ? 0 : 14;
    });
    Refs refs;
    BOOST_REQUIRE(recv_value(guest.control(), refs));
    auto mapper = open_grant_mapper(sim);
    BOOST_REQUIRE(mapper);
    auto mapping = (*mapper)->map(kGuest, std::span(refs.refs, refs.count), true);
    BOOST_REQUIRE(mapping);
    auto bytes = mapping->bytes();
    BOOST_REQUIRE_EQUAL(bytes.size(), 3 * kPage);
    BOOST_TEST(std::to_integer<int>(bytes[0]) == 'd');
    BOOST_TEST(std::to_integer<int>(bytes[kPage]) == 'b');
    BOOST_TEST(std::to_integer<int>(bytes[2 * kPage + kPage - 1]) == 'c');
    bytes[kPage] = std::byte{'Z'};
    BOOST_REQUIRE(send_value(guest.control(), char{1}));
    BOOST_TEST(guest.wait() == 0);
}

BOOST_AUTO_TEST_CASE(refs_never_granted_read_only_or_for_another_domain_do_not_map) {
    auto sharer = open_grant_sharer(spec(), kGuest, 2);
    BOOST_REQUIRE(sharer);
    auto ro = (*sharer)->grant(0, 0, false);
    auto other = (*sharer)->grant(7, 1, true);
    BOOST_REQUIRE(ro);
    BOOST_REQUIRE(other);
    auto mapper = open_grant_mapper(spec());
    BOOST_REQUIRE(mapper);
    const GrantRef never[] = {*ro + 1000};
    BOOST_TEST((*mapper)->map(kGuest, never, false).error().value == EINVAL);
    const GrantRef ro_ref[] = {*ro};
    BOOST_TEST((*mapper)->map(kGuest, ro_ref, true).error().value == EPERM);
    const GrantRef other_ref[] = {*other};
    BOOST_TEST((*mapper)->map(kGuest, other_ref, false).error().value == EPERM);
    // The right ref from the wrong domain is not the same grant.
    BOOST_TEST((*mapper)->map(9, ro_ref, false).error().value == EINVAL);
    // A mix of good and bad maps nothing.
    const GrantRef mixed[] = {*ro, *ro + 1000};
    BOOST_TEST((*mapper)->map(kGuest, mixed, false).error().value == EINVAL);
    // Once revoked, the ref is gone.
    BOOST_TEST((*sharer)->revoke(*ro).has_value());
    BOOST_TEST((*mapper)->map(kGuest, ro_ref, false).error().value == EINVAL);
}

BOOST_AUTO_TEST_CASE(read_only_mapping_is_readable) {
    auto sharer = open_grant_sharer(spec(), kGuest, 1);
    BOOST_REQUIRE(sharer);
    (*sharer)->memory()[5] = std::byte{42};
    auto ref = (*sharer)->grant(0, 0, false);
    BOOST_REQUIRE(ref);
    auto mapper = open_grant_mapper(spec());
    BOOST_REQUIRE(mapper);
    const GrantRef refs[] = {*ref};
    auto mapping = (*mapper)->map(kGuest, refs, false);
    BOOST_REQUIRE(mapping);
    BOOST_TEST(std::to_integer<int>(mapping->bytes()[5]) == 42);
}

BOOST_AUTO_TEST_CASE(revoking_a_mapped_grant_is_busy_until_unmapped) {
    auto sharer = open_grant_sharer(spec(), kGuest, 1);
    BOOST_REQUIRE(sharer);
    auto ref = (*sharer)->grant(0, 0, true);
    BOOST_REQUIRE(ref);
    auto mapper = open_grant_mapper(spec());
    BOOST_REQUIRE(mapper);
    const GrantRef refs[] = {*ref};
    auto mapping = (*mapper)->map(kGuest, refs, true);
    BOOST_REQUIRE(mapping);
    BOOST_TEST((*sharer)->revoke(*ref).error().value == EBUSY);
    mapping->reset();
    BOOST_TEST((*sharer)->revoke(*ref).has_value());
    BOOST_TEST((*sharer)->revoke(*ref).error().value == ENOENT);
}

BOOST_AUTO_TEST_CASE(a_closed_mapper_maps_nothing_more_while_its_mappings_stay_usable) {
    OneOfTwoMapped g(spec());
    g.mapper.reset();

    // The mapping outlives its handle, both ways, and is still counted.
    g.mapping.bytes()[0] = std::byte{'m'};
    BOOST_TEST(std::to_integer<int>(g.sharer->memory()[0]) == 'm');
    g.sharer->memory()[1] = std::byte{'g'};
    BOOST_TEST(std::to_integer<int>(g.mapping.bytes()[1]) == 'g');
    const auto busy = g.sharer->revoke(g.mapped_ref);
    BOOST_TEST((!busy && busy.error().value == EBUSY));

    // Whatever this process still holds to the hypervisor (the mappings
    // keep their connection) maps no grant, not even a fresh one.
    auto held = sim::connections_of(::getpid(), sim_socket(dir, 0));
    BOOST_REQUIRE(held.has_value());
    BOOST_REQUIRE(!held->empty());
    platform::sim_protocol::Request map;
    map.op = platform::sim_protocol::Op::map;
    map.domid = kGuest;
    map.count = 1;
    map.refs[0] = g.spare_ref;
    for (const auto& fd : *held) {
        auto refused = sim::call_raw(fd.get(), map);
        BOOST_REQUIRE(refused.has_value());
        BOOST_TEST(*refused == EBADF);
    }

    // Unmapping after the close releases the grant.
    g.mapping.reset();
    BOOST_TEST(g.sharer->revoke(g.mapped_ref).has_value());
}

BOOST_AUTO_TEST_CASE(a_dead_mappers_mappings_are_released) {
    auto sharer = open_grant_sharer(spec(), kGuest, 1);
    BOOST_REQUIRE(sharer);
    auto ref = (*sharer)->grant(0, 0, true);
    BOOST_REQUIRE(ref);
    const std::string sim = spec();
    const GrantRef r = *ref;
    ChildProcess mapper_child([&](int control) {
        auto mapper = open_grant_mapper(sim);
        if (!mapper) return 10;
        const GrantRef refs[] = {r};
        auto mapping = (*mapper)->map(kGuest, refs, true);
        if (!mapping) return 11;
        if (!send_value(control, char{1})) return 12;
        char never = 0;
        recv_value(control, never);  // killed while holding the mapping
        return 0;
    });
    char mapped = 0;
    BOOST_REQUIRE(recv_value(mapper_child.control(), mapped));
    BOOST_TEST((*sharer)->revoke(r).error().value == EBUSY);
    mapper_child.kill();
    // The hypervisor notices the closed connection asynchronously.
    Status revoked = fail(EBUSY);
    for (int i = 0; i < 2000 && !revoked; ++i) {
        revoked = (*sharer)->revoke(r);
        if (!revoked) ::usleep(1000);
    }
    BOOST_TEST(revoked.has_value());
}

BOOST_AUTO_TEST_CASE(destroying_a_domain_revokes_grants_but_keeps_existing_mappings) {
    OneOfTwoMapped g(spec());
    g.sharer->memory()[0] = std::byte{7};
    BOOST_REQUIRE(hv->destroy_domain(kGuest));
    BOOST_TEST(!std::filesystem::exists(dir / "domains" / "5" / "hypervisor.sock"));
    BOOST_TEST(std::to_integer<int>(g.mapping.bytes()[0]) == 7);
    g.mapping.bytes()[0] = std::byte{8};
    const GrantRef spare[] = {g.spare_ref};
    BOOST_TEST(g.mapper->map(kGuest, spare, true).error().value == EINVAL);
    BOOST_TEST(!g.sharer->grant(0, 1, true));
    BOOST_TEST(!open_grant_sharer(spec(), kGuest, 1));
    BOOST_TEST(hv->destroy_domain(kGuest).error().value == ENOENT);
}

BOOST_AUTO_TEST_SUITE_END()
