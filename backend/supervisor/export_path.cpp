#include "backend/supervisor/export_path.hpp"

#include <algorithm>
#include <system_error>

namespace xen9p::supervisor {

std::expected<std::filesystem::path, std::string> resolve_export(
    const std::string& path, const std::vector<std::filesystem::path>& roots) {
    if (path.empty() || path.front() != '/') return std::unexpected("not an absolute path");
    std::error_code ec;
    const auto canonical = std::filesystem::canonical(path, ec);
    if (ec) return std::unexpected("does not resolve: " + ec.message());
    if (!std::filesystem::is_directory(canonical, ec)) return std::unexpected("not a directory");
    for (const auto& root : roots) {
        const auto canonical_root = std::filesystem::weakly_canonical(root, ec);
        if (ec) continue;
        const auto [root_end, path_it] = std::mismatch(canonical_root.begin(), canonical_root.end(),
                                                       canonical.begin(), canonical.end());
        if (root_end == canonical_root.end()) return canonical;
    }
    return std::unexpected("outside the allowed roots");
}

}  // namespace xen9p::supervisor
