#include "xenring/toolstack/domain_lookup.hpp"

#include <optional>
#include <string>

#include "base/parse_number.hpp"

namespace xen9p::toolstack {
namespace {

// DOMID_FIRST_RESERVED is 0x7ff0.
constexpr unsigned kMaxDomid = 0x7fef;

std::optional<DomId> domid_of(std::string_view text) {
    const auto value = parse_decimal(text, kMaxDomid);
    if (!value) return std::nullopt;
    return static_cast<DomId>(*value);
}

}  // namespace

Result<DomId> resolve_domain(xenstore::Xenstore& xs, std::string_view name_or_id) {
    if (const auto domid = domid_of(name_or_id)) {
        auto home = xs.try_read("/local/domain/" + std::to_string(*domid));
        if (!home) return std::unexpected(home.error());
        if (!*home) return fail(ENOENT);
        return *domid;
    }
    auto domains = xs.directory("/local/domain");
    if (!domains) return std::unexpected(domains.error());
    std::optional<DomId> found;
    for (const auto& entry : *domains) {
        const auto domid = domid_of(entry);
        if (!domid) continue;
        auto name = xs.try_read("/local/domain/" + entry + "/name");
        if (!name) return std::unexpected(name.error());
        if (!*name || **name != name_or_id) continue;
        if (found) return fail(EEXIST);
        found = domid;
    }
    if (!found) return fail(ENOENT);
    return *found;
}

DomId own_domid(xenstore::Xenstore& xs) {
    auto value = xs.try_read("domid");
    if (value && *value) {
        if (auto domid = domid_of(**value)) return *domid;
    }
    return 0;
}

}  // namespace xen9p::toolstack
