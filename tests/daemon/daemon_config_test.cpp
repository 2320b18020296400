#define BOOST_TEST_MODULE daemon_config
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "backend/config/daemon_config.hpp"

using namespace xen9p::config;

namespace {

std::expected<DaemonConfig, ConfigError> parse(std::vector<std::string> args) {
    return parse_daemon_options(args);
}

}  // namespace

BOOST_AUTO_TEST_CASE(config_file_keys_are_applied_and_comments_ignored) {
    DaemonConfig c;
    auto r = apply_config_text(
        "# xen9pd\n"
        "log-level = debug\n"
        "kinds = xen_9pfs\n"
        "allowed-root = /srv/a   # first\n"
        "allowed-root=/srv/b\n"
        "uid-range-base = 131072\n"
        "max-rings = 8\n"
        "max-ring-page-order = 6\n"
        "max-open-files = 77\n"
        "max-files = 1000\n"
        "max-space = 64\n"
        "auto-delete = yes\n"
        "xen = sim:/tmp/sim\n"
        "\n",
        c);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST((c.log_level == xen9p::log::Level::kDebug));
    BOOST_TEST(c.kinds == std::vector<std::string>{"xen_9pfs"});
    BOOST_TEST(c.allowed_roots.size() == 2u);
    BOOST_TEST(c.allowed_roots[1] == "/srv/b");
    BOOST_TEST(*c.uid_range_base == 131072u);
    BOOST_TEST(c.max_rings == 8u);
    BOOST_TEST(c.max_ring_order == 6u);
    BOOST_TEST(c.default_limits.max_open_files == 77u);
    BOOST_TEST(c.default_limits.max_files == 1000u);
    BOOST_TEST(c.default_limits.max_space_mib == 64u);
    BOOST_TEST(c.default_limits.auto_delete);
    BOOST_TEST(c.xen == "sim:/tmp/sim");
}

BOOST_AUTO_TEST_CASE(bad_values_give_one_clear_line) {
    DaemonConfig c;
    auto r = apply_config_text("max-rings = 1\n", c);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().message == "line 1: max-rings: expected a number from 2 to 64, got '1'");
    BOOST_TEST(!apply_config_text("max-ring-page-order = 10\n", c).has_value());
    BOOST_TEST(!apply_config_text("kinds = 9pfs,vnc\n", c).has_value());
    BOOST_TEST(!apply_config_text("allowed-root = relative\n", c).has_value());
    BOOST_TEST(!apply_config_text("uid-range-base = 0\n", c).has_value());
    BOOST_TEST(!apply_config_text("no equals sign\n", c).has_value());
    BOOST_TEST(!apply_config_text("frobnicate = 1\n", c).has_value());
    BOOST_TEST(!apply_config_text("xen = kvm\n", c).has_value());
}

BOOST_AUTO_TEST_CASE(poll_window_defaults_to_50_us_and_is_bounded) {
    DaemonConfig c;
    BOOST_TEST(c.poll_window_us == 50u);
    BOOST_REQUIRE(apply_config_text("poll-window-us = 0\n", c).has_value());
    BOOST_TEST(c.poll_window_us == 0u);
    BOOST_REQUIRE(apply_config_text("poll-window-us = 1000\n", c).has_value());
    BOOST_TEST(supervisor_config(c, 0).poll_window_us == 1000u);
    auto r = apply_config_text("poll-window-us = 1001\n", c);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().message ==
               "line 1: poll-window-us: expected a number from 0 to 1000, got '1001'");
}

BOOST_AUTO_TEST_CASE(max_memory_defaults_to_64_mib_and_is_bounded) {
    DaemonConfig c;
    BOOST_TEST(c.default_limits.max_memory_mib == 64u);
    BOOST_REQUIRE(apply_config_text("max-memory = 16\n", c).has_value());
    BOOST_TEST(c.default_limits.max_memory_mib == 16u);
    // A budget of 0 would refuse every request; above 64 GiB is a typo.
    auto zero = apply_config_text("max-memory = 0\n", c);
    BOOST_REQUIRE(!zero.has_value());
    BOOST_TEST(zero.error().message ==
               "line 1: max-memory: expected a number from 1 to 65536, got '0'");
    BOOST_TEST(!apply_config_text("max-memory = 65537\n", c).has_value());
    auto cli = parse({"--max-memory", "128"});
    BOOST_REQUIRE(cli.has_value());
    BOOST_TEST(cli->default_limits.max_memory_mib == 128u);
}

BOOST_AUTO_TEST_CASE(command_line_overrides_the_config_file) {
    const auto path = std::filesystem::temp_directory_path() / "xen9pd-config-test.conf";
    std::ofstream(path) << "allowed-root = /srv/file\nmax-rings = 8\nlog-level = warning\n";
    auto c = parse({"--config", path.string(), "--max-rings=6", "--allowed-root", "/srv/cli"});
    std::filesystem::remove(path);
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(c->max_rings == 6u);
    BOOST_TEST((c->log_level == xen9p::log::Level::kWarning));
    BOOST_TEST(c->allowed_roots == std::vector<std::filesystem::path>{"/srv/cli"});
}

BOOST_AUTO_TEST_CASE(command_line_errors_name_the_option) {
    auto missing = parse({"--max-rings"});
    BOOST_REQUIRE(!missing.has_value());
    BOOST_TEST(missing.error().message == "--max-rings: missing value");
    auto stray = parse({"extra"});
    BOOST_REQUIRE(!stray.has_value());
    BOOST_TEST(stray.error().message == "unexpected argument 'extra'");
    BOOST_TEST(!parse({"--config", "/nonexistent/xen9pd.conf"}).has_value());
}

BOOST_AUTO_TEST_CASE(worker_identity_comes_from_config_or_is_refused) {
    DaemonConfig c;
    c.uid_range_base = 200000;
    c.worker_gid = 200000;
    BOOST_TEST(resolve_worker_identity(c).has_value());
    DaemonConfig zero;
    zero.uid_range_base = 5;
    zero.worker_gid = 0;
    BOOST_TEST(!resolve_worker_identity(zero).has_value());
}

BOOST_AUTO_TEST_CASE(the_installed_example_config_is_valid) {
    std::ifstream in(XEN9P_EXAMPLE_CONFIG);
    BOOST_REQUIRE(in);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    DaemonConfig c;
    auto r = apply_config_text(text, c);
    BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
    BOOST_TEST(c.allowed_roots.size() == 1u);
    BOOST_TEST(c.kinds.size() == 2u);
}
