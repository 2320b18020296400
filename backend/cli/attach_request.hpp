// What `xen9pd attach` is asked to do, read from its command line: the
// device to write and the daemon configuration it must suit.
#pragma once

#include <expected>
#include <span>
#include <string>

#include "backend/cli/command_error.hpp"
#include "backend/config/daemon_config.hpp"
#include "xenring/toolstack/device_nodes.hpp"

namespace xen9p::cli {

// What the command line asks for, filled in option by option.
struct AttachRequest {
    std::string domain;  // a domid or a name
    std::string path;    // as given; device.path becomes the resolved export
    toolstack::NinePfsDevice device;
    toolstack::DevidChoice choice = toolstack::DevidChoice::kLowestFree;
    config::DaemonConfig config;
};

// The request `args` make (the arguments after `attach`), or the usage
// error of the first wrong option, checked in the order of the usage text;
// --worker-uid last, against the configuration.
std::expected<AttachRequest, CommandError> parse_attach_request(std::span<const std::string> args);

}  // namespace xen9p::cli
