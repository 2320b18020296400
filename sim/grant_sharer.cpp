#include "sim/grant_sharer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "sim/wire.hpp"

namespace xen9p::sim {

using platform::PlatformError;
using platform::SimConnection;

Result<std::unique_ptr<SimGrantSharer>> SimGrantSharer::open(const std::filesystem::path& socket,
                                                             std::size_t pages) {
    if (pages == 0 || pages > (std::size_t{1} << 20)) return fail(EINVAL);
    auto conn = SimConnection::connect(socket, Device::grant_sharer);
    if (!conn) return std::unexpected(conn.error());
    UniqueFd memfd(::memfd_create("xen9p-guest", MFD_CLOEXEC));
    if (!memfd) return fail_errno();
    const std::size_t length = pages * kPageSize;
    if (::ftruncate(memfd.get(), static_cast<off_t>(length)) != 0) return fail_errno();
    void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
    if (base == MAP_FAILED) return fail_errno();
    std::unique_ptr<SimGrantSharer> sharer(
        new SimGrantSharer(std::move(*conn), {static_cast<std::byte*>(base), length}));
    Request req;
    req.op = Op::share_memory;
    req.arg = static_cast<std::uint32_t>(pages);
    const int fd = memfd.get();
    auto answer = sharer->conn_.call(req, std::span(&fd, 1));
    if (!answer) return std::unexpected(answer.error());
    return sharer;
}

SimGrantSharer::~SimGrantSharer() {
    ::munmap(memory_.data(), memory_.size());
}

Result<GrantRef> SimGrantSharer::grant(DomId domid, std::size_t page, bool writable) {
    if (page >= memory_.size() / kPageSize) return fail(EINVAL);
    Request req;
    req.op = Op::grant;
    req.domid = domid;
    req.arg = static_cast<std::uint32_t>(page);
    req.writable = writable ? 1 : 0;
    auto answer = conn_.call(req);
    if (!answer) return std::unexpected(answer.error());
    return answer->reply->value;
}

Status SimGrantSharer::revoke(GrantRef ref) {
    Request req;
    req.op = Op::revoke;
    req.arg = ref;
    auto answer = conn_.call(req);
    if (!answer) return std::unexpected(answer.error());
    return {};
}

platform::Opened<GrantSharer> open_grant_sharer(std::string_view spec, DomId self,
                                                std::size_t pages) {
    if (spec == "xen")
        return std::unexpected(
            PlatformError{Errno{ENOTSUP}, "granting pages is only simulated (\"sim:<dir>\")"});
    const auto dir = platform::sim_dir(spec);
    if (!dir) return std::unexpected(platform::bad_spec(spec));
    const auto socket = platform::sim_socket(*dir, self);
    auto sharer = SimGrantSharer::open(socket, pages);
    if (!sharer) return std::unexpected(platform::sim_failure(socket, sharer.error()));
    return std::move(*sharer);
}

}  // namespace xen9p::sim
