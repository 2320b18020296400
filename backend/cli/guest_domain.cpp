#include "backend/cli/guest_domain.hpp"

#include <cerrno>
#include <utility>

#include "xenring/toolstack/domain_lookup.hpp"

namespace xen9p::cli {

std::expected<GuestDomain, CommandError> find_guest_domain(const std::string& xen,
                                                           const std::string& domain) {
    auto connections = connect_xenstore(xen);
    if (!connections)
        return state_error("cannot connect to xenstore (" + xen +
                           "): " + connections.error().message());
    auto domid = toolstack::resolve_domain(connections->xs, domain);
    if (!domid) {
        if (domid.error().value == ENOENT) return state_error("no domain '" + domain + "'");
        if (domid.error().value == EEXIST)
            return state_error("several domains are named '" + domain + "': give the domid");
        return state_error("cannot look up domain '" + domain + "': " + domid.error().message());
    }
    return GuestDomain{std::move(*connections), *domid};
}

}  // namespace xen9p::cli
