// Fs over a 9P2000.L client (any ClientTransport): the same messages the Linux
// client sends for each operation, with reads and writes pipelined up to the
// requested depth.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/driver/fs.hpp"
#include "client/client.hpp"

namespace xen9p::bench {

class NinepFs final : public Fs {
  public:
    // Negotiates `msize` and attaches the root fid as uid 0 with `aname`.
    static Result<std::unique_ptr<NinepFs>> connect(
        std::unique_ptr<client::ClientTransport> transport, std::uint32_t msize,
        const std::string& aname);
    // Clunks the root fid (the other handles are the workload's to close).
    ~NinepFs() override;
    NinepFs(const NinepFs&) = delete;
    NinepFs& operator=(const NinepFs&) = delete;

    Result<Handle> walk(std::string_view path) override;
    Result<Handle> open(std::string_view path, int flags) override;
    Result<Handle> create(Handle dir, std::string_view name, int flags,
                          std::uint32_t mode) override;
    Status close(Handle handle) override;
    Status getattr(Handle handle) override;
    Status unlink(Handle dir, std::string_view name) override;
    Result<std::uint64_t> readdir(Handle dir) override;
    std::uint32_t max_io() const override;
    Result<std::uint64_t> io(Handle file, IoKind kind, const NextOp& next, unsigned depth,
                             std::span<std::byte> buffer) override;

  private:
    explicit NinepFs(std::unique_ptr<client::Client> client) : client_(std::move(client)) {}

    std::uint32_t allocate_fid();
    void release_fid(std::uint32_t fid);

    std::unique_ptr<client::Client> client_;
    std::uint32_t next_fid_ = 1;  // fid 0 is the root
    std::vector<std::uint32_t> free_fids_;
    // The server has no Tunlinkat (diod): walk + Tremove, as Linux falls back.
    bool unlinkat_unsupported_ = false;
};

}  // namespace xen9p::bench
