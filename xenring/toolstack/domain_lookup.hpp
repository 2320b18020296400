// Finds a running domain by domid or by name, as `xl` does, from xenstore.
#pragma once

#include <string_view>

#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::toolstack {

// A decimal domid whose /local/domain/<domid> exists, or the one domain whose
// /local/domain/*/name is `name_or_id`. ENOENT if there is none; EEXIST if
// several domains carry that name.
Result<DomId> resolve_domain(xenstore::Xenstore& xs, std::string_view name_or_id);

// The domain this process runs in (0 in dom0, a driver domain's id
// otherwise), from xenstore's relative `domid` key.
DomId own_domid(xenstore::Xenstore& xs);

}  // namespace xen9p::toolstack
