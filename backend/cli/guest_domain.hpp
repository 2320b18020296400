// The guest an `xen9pd attach` or `xen9pd detach` command names, found in
// xenstore as `xl` finds it.
#pragma once

#include <expected>
#include <string>

#include "backend/cli/command_error.hpp"
#include "backend/cli/device_command_line.hpp"

namespace xen9p::cli {

struct GuestDomain {
    XenstoreConnections connections;  // what the domain was found through
    DomId domid = 0;
};

// Connects to the xenstore that `xen` names ("auto" or "sim:DIR") and
// resolves `domain`, a domid or a name. The error is the operator's line:
// no such domain, an ambiguous name, or xenstore unreachable.
std::expected<GuestDomain, CommandError> find_guest_domain(const std::string& xen,
                                                           const std::string& domain);

}  // namespace xen9p::cli
