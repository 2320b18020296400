// `xen9pd attach` in process against the simulated xenstored.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>

#include "backend/cli/commands.hpp"
#include "tests/toolstack/command_runner.hpp"
#include "tests/toolstack/toolstack_fixture.hpp"
#include "xenring/toolstack/device_nodes.hpp"

namespace xen9p::test {
namespace {

struct AttachFixture : GuestsFixture {
    // `xen9pd attach` with --xen and --config pointing at this fixture.
    CommandResult attach(std::vector<std::string> args) {
        args.insert(args.end(), {"--xen", "sim:" + dir, "--config", exports.config});
        return run_command(cli::attach_command, args);
    }
    std::vector<toolstack::ExistingDevice> devices(DomId domid) {
        toolstack::DeviceNodes nodes(xs, dom0());
        return nodes.list(domid).value();
    }
    ExportDirs exports;
};

struct Refusal {
    std::string what;
    std::vector<std::string> args;
    int status;
    std::string message;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(attach_command, AttachFixture)

BOOST_AUTO_TEST_CASE(attach_by_name_writes_the_device_under_the_canonical_path) {
    const auto result =
        attach({"alpha", "--tag", "share", "--path", exports.root + "/other/../share/"});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.err == "");
    const std::string share = exports.root + "/share";
    BOOST_TEST(result.out == "attached: domain 5 devid 0 kind 9pfs tag share path " + share + "\n");
    const std::string be = "/local/domain/0/backend/9pfs/5/0";
    const std::string fe = "/local/domain/5/device/9pfs/0";
    expect_dir(xs, be,
               {{"frontend", fe},
                {"frontend-id", "5"},
                {"online", "1"},
                {"state", "1"},
                {"path", share},
                {"security_model", "none"}},
               {{0, 'n'}, {5, 'r'}});
    expect_dir(xs, fe, {{"backend", be}, {"backend-id", "0"}, {"state", "1"}, {"tag", "share"}},
               {{5, 'n'}, {0, 'r'}});
}

BOOST_AUTO_TEST_CASE(attach_takes_the_lowest_free_devid_unless_given_one) {
    BOOST_TEST(attach({"5", "--tag", "a", "--path", exports.root, "--devid", "1"}).status == 0);
    BOOST_TEST(attach({"5", "--tag", "b", "--path", exports.root}).out.find("devid 0 ") !=
               std::string::npos);
    BOOST_TEST(attach({"5", "--tag", "c", "--path", exports.root}).out.find("devid 2 ") !=
               std::string::npos);
    const auto list = devices(5);
    BOOST_REQUIRE(list.size() == 3u);
    BOOST_TEST(list[0].tag == "b");
    BOOST_TEST(list[1].tag == "a");
    BOOST_TEST(list[2].tag == "c");
}

BOOST_AUTO_TEST_CASE(attach_of_kind_xen_9pfs_writes_the_limits_given) {
    const auto result =
        attach({"beta", "--tag", "t", "--path", exports.root + "/share", "--kind", "xen_9pfs",
                "--max-files", "10", "--max-open-files=20", "--max-space", "30", "--auto-delete",
                "--security-model", "passthrough"});
    BOOST_TEST(result.status == 0);
    const std::string be = "/local/domain/0/backend/xen_9pfs/6/0";
    BOOST_TEST(xs.read(be + "/max-files").value() == "10");
    BOOST_TEST(xs.read(be + "/max-open-files").value() == "20");
    BOOST_TEST(xs.read(be + "/max-space").value() == "30");
    BOOST_TEST(xs.read(be + "/auto-delete").value() == "1");
    BOOST_TEST(xs.read(be + "/security_model").value() == "passthrough");
    BOOST_TEST(xs.read("/local/domain/6/device/9pfs/0/backend").value() == be);
}

BOOST_AUTO_TEST_CASE(every_invalid_request_is_refused_with_one_line_and_nothing_written) {
    BOOST_REQUIRE(attach({"5", "--tag", "used", "--path", exports.root, "--devid", "3"}).status ==
                  0);
    std::filesystem::create_symlink(exports.outside, exports.root + "/escape");
    std::ofstream(exports.root + "/file") << "x";
    std::filesystem::create_directory(exports.root + "x");
    const std::string share = exports.root + "/share";
    const std::string roots_config = exports.base + "/no-roots.conf";
    std::ofstream(roots_config) << "log-level = info\n";
    const std::string kinds_config = exports.base + "/kinds.conf";
    std::ofstream(kinds_config) << "allowed-root = " << exports.root << "\nkinds = xen_9pfs\n";

    const std::vector<Refusal> refusals{
        {"no domain", {"--tag", "t", "--path", share}, 2, "expected one DOMAIN"},
        {"unknown domain name", {"gamma", "--tag", "t", "--path", share}, 1, "no domain 'gamma'"},
        {"unknown domid", {"9", "--tag", "t", "--path", share}, 1, "no domain '9'"},
        {"no tag", {"5", "--path", share}, 2, "--tag is required"},
        {"empty tag", {"5", "--tag", "", "--path", share}, 2, "--tag is required"},
        {"long tag", {"5", "--tag", std::string(256, 't'), "--path", share}, 2, "at most 255"},
        {"tag with a space", {"5", "--tag", "a b", "--path", share}, 2, "without spaces"},
        {"tag in use",
         {"5", "--tag", "used", "--path", share},
         1,
         "tag 'used' is already used by domain 5's 9pfs device 3"},
        {"tag in use by the other kind",
         {"5", "--tag", "used", "--path", share, "--kind", "xen_9pfs"},
         1,
         "already used"},
        {"devid taken",
         {"5", "--tag", "t", "--path", share, "--devid", "3"},
         1,
         "domain 5 already has a 9pfs device 3"},
        {"devid out of range",
         {"5", "--tag", "t", "--path", share, "--devid", "65536"},
         2,
         "--devid"},
        {"no path", {"5", "--tag", "t"}, 2, "--path is required"},
        {"relative path", {"5", "--tag", "t", "--path", "srv/share"}, 2, "not an absolute path"},
        {"missing path", {"5", "--tag", "t", "--path", exports.root + "/nope"}, 1, "/nope: "},
        {"path to a file",
         {"5", "--tag", "t", "--path", exports.root + "/file"},
         1,
         "not a directory"},
        {"path outside the roots",
         {"5", "--tag", "t", "--path", exports.outside},
         1,
         "outside the allowed roots"},
        {"path escaping through a symlink",
         {"5", "--tag", "t", "--path", exports.root + "/escape"},
         1,
         "outside the allowed roots"},
        {"path that only shares a prefix with the root",
         {"5", "--tag", "t", "--path", exports.root + "x"},
         1,
         "outside the allowed roots"},
        {"unknown security model",
         {"5", "--tag", "t", "--path", share, "--security-model", "mapped"},
         2,
         "unknown model 'mapped'"},
        {"unknown kind", {"5", "--tag", "t", "--path", share, "--kind", "virtio"}, 2, "--kind"},
        {"limits on kind 9pfs",
         {"5", "--tag", "t", "--path", share, "--max-files", "4"},
         2,
         "need --kind xen_9pfs"},
        {"malformed limit",
         {"5", "--tag", "t", "--path", share, "--kind", "xen_9pfs", "--max-space", "-1"},
         2,
         "--max-space"},
        {"unknown option",
         {"5", "--tag", "t", "--path", share, "--frobnicate", "1"},
         2,
         "unknown option --frobnicate"},
        {"repeated option", {"5", "--tag", "t", "--tag", "u", "--path", share}, 2, "given twice"},
        {"no allowed root",
         {"5", "--tag", "t", "--path", share, "--config", roots_config},
         2,
         "no allowed-root"},
        {"kind the daemon does not serve",
         {"5", "--tag", "t", "--path", share, "--config", kinds_config},
         2,
         "does not serve kind 9pfs"},
        {"the backend's own domain", {"0", "--tag", "t", "--path", share}, 1, "own domain"},
    };
    for (const auto& refusal : refusals) {
        BOOST_TEST_CONTEXT(refusal.what) {
            // An explicit --config goes first so that the fixture's does not repeat it.
            auto args = refusal.args;
            const bool own_config = std::ranges::find(args, "--config") != args.end();
            CommandResult result;
            if (own_config) {
                args.insert(args.end(), {"--xen", "sim:" + dir});
                result = run_command(cli::attach_command, args);
            } else {
                result = attach(args);
            }
            BOOST_TEST(result.status == refusal.status);
            BOOST_TEST(result.out == "");
            BOOST_TEST(result.err.starts_with("xen9pd attach: "));
            BOOST_TEST(result.err.find(refusal.message) != std::string::npos, result.err);
            BOOST_TEST(std::ranges::count(result.err, '\n') == 1);
        }
    }
    BOOST_TEST(devices(5).size() == 1u);
    BOOST_TEST(devices(6).empty());
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/xen_9pfs")) == ENOENT);
}

BOOST_AUTO_TEST_CASE(attach_warns_when_the_worker_could_not_write_the_share) {
    std::ofstream(exports.config, std::ios::app)
        << "uid-range-base = 200000\nworker-gid = 200000\n";
    std::filesystem::permissions(exports.root + "/share", std::filesystem::perms(0755));
    auto result = attach({"alpha", "--tag", "a", "--path", exports.root + "/share"});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.err.find("warning: " + exports.root +
                               "/share is not writable by uid 200005") != std::string::npos);
    BOOST_TEST(result.err.find("chown 200005 ") != std::string::npos);

    // Given to the worker's uid: no warning; passthrough never warns.
    BOOST_REQUIRE(::chown((exports.root + "/other").c_str(), 200005, 200000) == 0);
    result = attach({"alpha", "--tag", "b", "--path", exports.root + "/other"});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(result.err == "");
    result = attach({"alpha", "--tag", "c", "--path", exports.root + "/share", "--security-model",
                     "passthrough"});
    BOOST_TEST(result.err == "");
}

BOOST_AUTO_TEST_CASE(a_worker_uid_is_written_only_from_the_range_no_device_model_uses) {
    std::ofstream(exports.config, std::ios::app)
        << "uid-range-base = 200000\nworker-gid = 200000\n";
    const std::string share = exports.root + "/share";
    std::filesystem::permissions(share, std::filesystem::perms(0755));
    auto result = attach({"alpha", "--tag", "a", "--path", share, "--worker-uid", "232768"});
    BOOST_TEST(result.status == 0);
    BOOST_TEST(xs.read("/local/domain/0/backend/9pfs/5/0/xen9pd-worker-uid").value() == "232768");
    // The warning names the uid the worker will have.
    BOOST_TEST(result.err.find("not writable by uid 232768") != std::string::npos, result.err);

    for (const std::string uid : {"200005", "232767", "265536", "0", "-1", "x"}) {
        BOOST_TEST_CONTEXT("uid " << uid) {
            result = attach({"alpha", "--tag", "b", "--path", share, "--worker-uid", uid});
            BOOST_TEST(result.status == 2);
            BOOST_TEST(result.err.starts_with("xen9pd attach: --worker-uid: "), result.err);
        }
    }
    BOOST_TEST(devices(5).size() == 1u);
}

BOOST_AUTO_TEST_CASE(max_memory_is_written_for_either_kind_within_the_daemons_bounds) {
    const std::string share = exports.root + "/share";
    BOOST_TEST(attach({"alpha", "--tag", "a", "--path", share, "--max-memory", "128"}).status == 0);
    BOOST_TEST(
        attach({"alpha", "--tag", "b", "--path", share, "--kind", "xen_9pfs", "--max-memory=65536"})
            .status == 0);
    BOOST_TEST(attach({"alpha", "--tag", "c", "--path", share, "--max-memory", "0"}).status == 0);
    BOOST_TEST(attach({"alpha", "--tag", "d", "--path", share}).status == 0);
    const std::vector<XsPermission> perms{{0, 'n'}, {5, 'r'}};
    for (const auto& [key, mib] :
         {std::pair<std::string, std::string>{"/local/domain/0/backend/9pfs/5/0", "128"},
          {"/local/domain/0/backend/xen_9pfs/5/1", "65536"},
          {"/local/domain/0/backend/9pfs/5/2", "0"}}) {
        BOOST_TEST_CONTEXT(key) {
            BOOST_TEST(xs.read(key + "/max-memory").value() == mib);
            BOOST_TEST((xs.permissions(key + "/max-memory").value() == perms));
        }
    }
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/9pfs/5/3/max-memory")) == ENOENT);

    // What the supervisor would refuse (above ExportLimits::kMaxMaxMemoryMib,
    // or not a canonical decimal), for either kind.
    for (const std::string mib : {"65537", "4294967296", "-1", "x", "", "08", "1M", "+1"}) {
        for (const std::string kind : {"9pfs", "xen_9pfs"}) {
            BOOST_TEST_CONTEXT("max-memory '" << mib << "' kind " << kind) {
                const auto result = attach(
                    {"beta", "--tag", "e", "--path", share, "--kind", kind, "--max-memory", mib});
                BOOST_TEST(result.status == 2);
                BOOST_TEST(result.out == "");
                BOOST_TEST(result.err ==
                               "xen9pd attach: --max-memory: expected a number of MiB "
                               "from 0 to 65536, got '" +
                                   mib + "'\n",
                           result.err);
            }
        }
    }
    BOOST_TEST(devices(6).empty());
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/9pfs/6")) == ENOENT);
    BOOST_TEST(error_of(xs.read("/local/domain/0/backend/xen_9pfs/6")) == ENOENT);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
