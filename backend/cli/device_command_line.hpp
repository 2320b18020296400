// What `xen9pd attach` and `xen9pd detach` share: their option syntax, the
// daemon configuration they honour, and their xenstore connections.
#pragma once

#include <expected>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/config/daemon_config.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::cli {

// "--key value", "--key=value" and bare "--flag" options, and the other words.
struct CommandLine {
    std::vector<std::string> words;
    std::map<std::string, std::string, std::less<>> values;
    std::set<std::string, std::less<>> flags;

    std::optional<std::string> value(std::string_view key) const;
};

// Keys in `valued` take a value, keys in `flags` take none; anything else,
// a missing value or a repeated option is an error (the message says which).
std::expected<CommandLine, std::string> parse_command_line(
    std::span<const std::string> args, std::initializer_list<std::string_view> valued,
    std::initializer_list<std::string_view> flags);

// The daemon's configuration as `xen9pd run` would read it: --config FILE
// (default /etc/xen9pd.conf when it exists), then --xen from the command line.
std::expected<config::DaemonConfig, config::ConfigError> device_command_config(
    const CommandLine& line);

// Two connections to the xenstore that `xen` names ("auto" or "sim:DIR"):
// one for the work, one for waiting on backend states.
struct XenstoreConnections {
    xenstore::Xenstore xs;
    xenstore::Xenstore waiter;
};
Result<XenstoreConnections> connect_xenstore(const std::string& xen);

// A decimal number with no sign and no leading zeros, at most `max`.
std::optional<unsigned> parse_unsigned(std::string_view text, unsigned max);

}  // namespace xen9p::cli
