// Which directory a device exports: the one check shared by the daemon (on
// the backend's `path` key) and `xen9pd attach` (before writing it).
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace xen9p::supervisor {

// The canonical directory `path` names (symlinks resolved) if it lies under
// one of `roots` component-wise (/srv/share does not allow /srv/shared);
// otherwise why not, e.g. "outside the allowed roots".
std::expected<std::filesystem::path, std::string> resolve_export(
    const std::string& path, const std::vector<std::filesystem::path>& roots);

}  // namespace xen9p::supervisor
