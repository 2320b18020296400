// How `xen9pd attach` and `xen9pd detach` find the guest they act on: one
// lookup (backend/cli/guest_domain.hpp), so one wording for its refusals.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <tuple>
#include <vector>

#include "backend/cli/commands.hpp"
#include "tests/toolstack/command_runner.hpp"
#include "tests/toolstack/toolstack_fixture.hpp"

namespace xen9p::test {
namespace {

struct GuestDomainFixture : GuestsFixture {
    // `xen9pd attach` and `xen9pd detach` of a valid device of `domain`,
    // through the xenstore that `xen` names.
    CommandResult attach(const std::string& domain, const std::string& xen) {
        return run_command(cli::attach_command,
                           {domain, "--tag", "t", "--path", exports.root + "/share", "--xen", xen,
                            "--config", exports.config});
    }
    CommandResult detach(const std::string& domain, const std::string& xen) {
        return run_command(cli::detach_command,
                           {domain, "--devid", "0", "--xen", xen, "--config", exports.config});
    }
    ExportDirs exports;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(guest_domain, GuestDomainFixture)

BOOST_AUTO_TEST_CASE(attach_and_detach_refuse_a_guest_they_cannot_find_in_the_same_words) {
    sim::Toolstack tools(xs, dom0());
    BOOST_REQUIRE(tools.create_domain(7, "alpha").has_value());
    const std::string sim = "sim:" + dir;
    const std::string unreachable = "sim:" + dir + "/nowhere";
    const std::vector<std::tuple<std::string, std::string, std::string, std::string>> cases{
        {"unknown name", "gamma", sim, "no domain 'gamma'\n"},
        {"unknown domid", "9", sim, "no domain '9'\n"},
        {"name two guests carry", "alpha", sim,
         "several domains are named 'alpha': give the domid\n"},
        {"xenstore unreachable", "5", unreachable,
         "cannot connect to xenstore (" + unreachable + "): "},
    };
    for (const auto& [what, domain, xen, message] : cases) {
        for (const auto& [command, result] :
             {std::pair{"attach", attach(domain, xen)}, std::pair{"detach", detach(domain, xen)}}) {
            BOOST_TEST_CONTEXT(what << ", " << command) {
                BOOST_TEST(result.status == 1);
                BOOST_TEST(result.out == "");
                BOOST_TEST(
                    result.err.starts_with("xen9pd " + std::string(command) + ": " + message),
                    result.err);
                BOOST_TEST(std::ranges::count(result.err, '\n') == 1);
            }
        }
    }
    // Neither wrote anything for the guests it could not name.
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/9pfs")) == ENOENT);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
