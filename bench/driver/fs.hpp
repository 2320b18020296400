// What a workload may do to a file tree, whoever serves it: a 9P client over
// some transport, or the bench process's own syscalls (the limit). Paths are
// relative to the export root, components separated by '/'. A Handle is a fid
// or an fd; one Fs is driven by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "base/errno.hpp"

namespace xen9p::bench {

using Handle = std::uint32_t;

// One read or write of `length` bytes at `offset`.
struct IoOp {
    std::uint64_t offset = 0;
    std::uint32_t length = 0;
};

// Fills the next op; false when the workload is done issuing.
using NextOp = std::function<bool(IoOp&)>;

enum class IoKind { kRead, kWrite };

class Fs {
  public:
    virtual ~Fs() = default;

    // A handle on `path` without opening it (9P: Twalk from the root; direct: O_PATH).
    virtual Result<Handle> walk(std::string_view path) = 0;
    // Opens an existing file or directory (9P: Twalk + Tlopen). `flags` are host O_* flags.
    virtual Result<Handle> open(std::string_view path, int flags) = 0;
    // Creates and opens `name` in the directory `dir` (a walked or opened handle).
    virtual Result<Handle> create(Handle dir, std::string_view name, int flags,
                                  std::uint32_t mode) = 0;
    virtual Status close(Handle handle) = 0;
    virtual Status getattr(Handle handle) = 0;
    virtual Status unlink(Handle dir, std::string_view name) = 0;
    // Reads the whole (opened) directory; returns how many entries it has.
    virtual Result<std::uint64_t> readdir(Handle dir) = 0;
    // Issues the ops `next` yields with up to `depth` in flight (a synchronous
    // implementation may ignore `depth`). Reads land in `buffer`, writes take
    // their bytes from it; every op must fit in it. Returns the bytes moved;
    // a short transfer is EIO.
    // The largest single read or write (9P: the negotiated msize minus the I/O header).
    virtual std::uint32_t max_io() const = 0;
    virtual Result<std::uint64_t> io(Handle file, IoKind kind, const NextOp& next, unsigned depth,
                                     std::span<std::byte> buffer) = 0;
};

}  // namespace xen9p::bench
