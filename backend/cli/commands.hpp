// The toolstack subcommands of xen9pd, each taking the arguments after its
// name and returning the process exit status (2 for configuration errors).
#pragma once

#include <span>
#include <string>

namespace xen9p::cli {

// `xen9pd attach DOMAIN --tag T --path P [...]`: adds a 9pfs device to a
// running guest, writing the xenstore nodes libxl writes.
int attach_command(std::span<const std::string> args);

// `xen9pd detach DOMAIN [--devid N | --tag T] [...]`: closes and removes it.
int detach_command(std::span<const std::string> args);

}  // namespace xen9p::cli
