#include "backend/cli/device_command_line.hpp"

#include <algorithm>

#include "backend/worker_channel/device_id.hpp"
#include "base/parse_number.hpp"

namespace xen9p::cli {

std::optional<std::string> CommandLine::value(std::string_view key) const {
    if (const auto it = values.find(key); it != values.end()) return it->second;
    return std::nullopt;
}

std::expected<CommandLine, std::string> parse_command_line(
    std::span<const std::string> args, std::initializer_list<std::string_view> valued,
    std::initializer_list<std::string_view> flags) {
    const auto known = [](std::initializer_list<std::string_view> keys, std::string_view key) {
        return std::ranges::find(keys, key) != keys.end();
    };
    CommandLine line;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (!arg.starts_with("--")) {
            line.words.emplace_back(arg);
            continue;
        }
        arg.remove_prefix(2);
        const auto eq = arg.find('=');
        const std::string key(arg.substr(0, eq));
        if (line.values.contains(key) || line.flags.contains(key))
            return std::unexpected("--" + key + " given twice");
        if (known(flags, key)) {
            if (eq != std::string_view::npos)
                return std::unexpected("--" + key + " takes no value");
            line.flags.insert(key);
        } else if (known(valued, key)) {
            if (eq != std::string_view::npos) {
                line.values[key] = std::string(arg.substr(eq + 1));
            } else {
                if (i + 1 >= args.size()) return std::unexpected("--" + key + ": missing value");
                line.values[key] = args[++i];
            }
        } else {
            return std::unexpected("unknown option --" + key);
        }
    }
    return line;
}

std::expected<config::DaemonConfig, config::ConfigError> device_command_config(
    const CommandLine& line) {
    std::vector<std::string> options;
    for (const char* key : {"config", "xen"}) {
        if (auto value = line.value(key)) {
            options.push_back(std::string("--") + key);
            options.push_back(*value);
        }
    }
    return config::parse_daemon_options(options);
}

Result<XenstoreConnections> connect_xenstore(const std::string& xen) {
    const auto open = [&xen] {
        if (xen.starts_with("sim:"))
            return xenstore::Xenstore::open_socket(xen.substr(4) + "/xenstored.sock");
        return xenstore::Xenstore::open();
    };
    auto xs = open();
    if (!xs) return std::unexpected(xs.error());
    auto waiter = open();
    if (!waiter) return std::unexpected(waiter.error());
    return XenstoreConnections{std::move(*xs), std::move(*waiter)};
}

std::optional<unsigned> parse_unsigned(std::string_view text, unsigned max) {
    auto value = parse_decimal(text, max);
    if (!value) return std::nullopt;
    return static_cast<unsigned>(*value);
}

}  // namespace xen9p::cli
