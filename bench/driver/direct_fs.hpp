// Fs over the bench process's own syscalls on the export directory: the limit
// a 9P server on the same machine is measured against. Synchronous, so depth
// is ignored (on a hot page cache a single thread gains nothing from more).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/unique_fd.hpp"
#include "bench/driver/fs.hpp"

namespace xen9p::bench {

class DirectFs final : public Fs {
  public:
    static Result<std::unique_ptr<DirectFs>> open_root(const std::string& dir);

    Result<Handle> walk(std::string_view path) override;
    Result<Handle> open(std::string_view path, int flags) override;
    Result<Handle> create(Handle dir, std::string_view name, int flags,
                          std::uint32_t mode) override;
    Status close(Handle handle) override;
    Status getattr(Handle handle) override;
    Status unlink(Handle dir, std::string_view name) override;
    Result<std::uint64_t> readdir(Handle dir) override;
    std::uint32_t max_io() const override { return UINT32_MAX; }
    Result<std::uint64_t> io(Handle file, IoKind kind, const NextOp& next, unsigned depth,
                             std::span<std::byte> buffer) override;

  private:
    explicit DirectFs(UniqueFd root) : root_(std::move(root)) {}

    Result<Handle> keep(int fd);
    Result<int> fd_of(Handle handle) const;

    UniqueFd root_;
    std::unordered_map<Handle, UniqueFd> fds_;
    std::vector<std::byte> dirents_;
};

}  // namespace xen9p::bench
