// One exported directory tree: the root fd every lookup starts from, the export's
// configuration (security model, read-only, limits) and the per-export qid map.
// Opened once from a path string; from then on everything is fd-relative.
#pragma once

#include <linux/capability.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "backend/fs/qid_map.hpp"
#include "backend/fs/space_limits.hpp"
#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::fs {

// The xenstore `security_model` values.
enum class SecurityModel { kNone, kPassthrough, kMappedXattr };

std::optional<SecurityModel> parse_security_model(std::string_view name);
std::string_view security_model_name(SecurityModel model);

struct ExportConfig {
    SecurityModel model = SecurityModel::kNone;
    bool read_only = false;
    bool allow_direct_io = false;  // honour P9_DOTL_DIRECT; stripped otherwise
    LimitConfig limits;
};

class Node;

// The process's capability sets when its export was opened under
// passthrough: what fs::CredGuard lowers to nothing for a non-root caller and
// restores afterwards.
struct CapabilitySets {
    std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3> data{};
};

class Export {
  public:
    // Opens `path` (a directory, symlinks refused), as a mount of its own where
    // the process may make one (see walk.hpp), and /proc/self/fd. Call in the
    // process that will serve the export (the /proc fd is that process's fd
    // table; a forked child must open its own Export).
    static Result<Export> open(const std::string& path, const ExportConfig& config);
    // Same with the proc fd given: a sandboxed worker opens "/" after
    // confinement, with the sandbox's private proc (sandbox::SandboxReport).
    static Result<Export> open(const std::string& path, const ExportConfig& config,
                               UniqueFd proc_self_fd);

    Export(Export&&) noexcept = default;
    Export& operator=(Export&&) noexcept = default;

    const ExportConfig& config() const { return config_; }
    SecurityModel model() const { return config_.model; }
    bool read_only() const { return config_.read_only; }

    int root_fd() const { return root_.get(); }
    // Directory fd of /proc/self/fd: re-opens an O_PATH fd as a real file
    // (openat(proc_fd, "<n>", flags)) without any path string from the guest.
    int proc_fd() const { return proc_.get(); }

    // A new node for the export root (what Tattach gets).
    Result<Node> root() const;

    // True when `fd` is the export root directory.
    bool is_root(int fd) const;

    QidMap& qids() { return qids_; }
    // Heap-held so that open files may point at it while the Export moves.
    SpaceLimits& limits() { return *limits_; }

    // Under passthrough, the capability sets of the process that opened it.
    const CapabilitySets& capabilities() const { return caps_; }

  private:
    Export(UniqueFd root, UniqueFd proc, const ExportConfig& config, std::uint64_t root_dev,
           std::uint64_t root_ino);

    UniqueFd root_;
    UniqueFd proc_;
    ExportConfig config_;
    std::uint64_t root_dev_ = 0;
    std::uint64_t root_ino_ = 0;
    QidMap qids_;
    std::unique_ptr<SpaceLimits> limits_;
    CapabilitySets caps_;
};

}  // namespace xen9p::fs
