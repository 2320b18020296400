#include "xenring/platform/sim_platform.hpp"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "xenring/platform/fd_passing.hpp"

namespace xen9p::platform {

using sim_protocol::kPageSize;
using sim_protocol::Op;
using sim_protocol::Reply;
using sim_protocol::Request;

Result<SimConnection> SimConnection::connect(const std::filesystem::path& socket,
                                             sim_protocol::Device device) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = socket.string();
    if (p.size() >= sizeof(addr.sun_path)) return fail(ENAMETOOLONG);
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno();
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
        return fail_errno();
    SimConnection conn(std::move(fd));
    Request open;
    open.op = Op::open;
    open.arg = static_cast<std::uint32_t>(device);
    if (auto opened = conn.call(open); !opened) return std::unexpected(opened.error());
    return conn;
}

Result<SimConnection::Answer> SimConnection::call(const Request& request,
                                                  std::span<const int> fds) {
    const std::size_t refs = request.op == Op::map ? request.count : 0;
    if (refs > sim_protocol::kMaxRefsPerMap) return fail(EINVAL);
    const auto bytes =
        std::as_bytes(std::span(&request, 1)).first(sim_protocol::kRequestHeader + refs * 4);
    if (auto st = send_message(sock_.get(), bytes, fds); !st) return std::unexpected(st.error());
    Answer answer{std::make_unique<Reply>(), {}};
    auto got =
        receive_message(sock_.get(), std::as_writable_bytes(std::span(answer.reply.get(), 1)));
    if (!got) return std::unexpected(got.error());
    if (got->size == 0) return fail(ECONNRESET);
    if (got->size < sim_protocol::kReplyHeader) return fail(EPROTO);
    if (answer.reply->error != 0) return fail(answer.reply->error);
    if (got->size < sim_protocol::kReplyHeader + std::size_t{answer.reply->count} * 8)
        return fail(EPROTO);
    answer.fds = std::move(got->fds);
    return answer;
}

std::filesystem::path sim_socket(const std::filesystem::path& dir, DomId self) {
    if (self == 0) return dir / "hypervisor.sock";
    return dir / "domains" / std::to_string(self) / "hypervisor.sock";
}

Result<std::unique_ptr<SimGrantMapper>> SimGrantMapper::open(const std::filesystem::path& socket) {
    auto conn = SimConnection::connect(socket, sim_protocol::Device::grant_mapper);
    if (!conn) return std::unexpected(conn.error());
    return std::unique_ptr<SimGrantMapper>(new SimGrantMapper(std::move(*conn)));
}

SimGrantMapper::~SimGrantMapper() {
    Request req;
    req.op = Op::close_mapper;
    // A hypervisor that is gone maps nothing for anyone.
    [[maybe_unused]] auto ignored = conn_->call(req);
}

Result<GrantMapping> SimGrantMapper::map(DomId domid, std::span<const GrantRef> refs,
                                         bool writable) {
    if (refs.empty() || refs.size() > sim_protocol::kMaxRefsPerMap) return fail(EINVAL);
    auto req = std::make_unique<Request>();
    req->op = Op::map;
    req->domid = domid;
    req->writable = writable ? 1 : 0;
    req->count = static_cast<std::uint32_t>(refs.size());
    std::copy(refs.begin(), refs.end(), req->refs);
    auto answer = conn_->call(*req);
    if (!answer) return std::unexpected(answer.error());
    const Reply& reply = *answer->reply;
    const std::uint32_t id = reply.value;
    auto conn = conn_;
    auto unmap_on_service = [conn, id] {
        Request r;
        r.op = Op::unmap;
        r.arg = id;
        // A hypervisor that is gone released the mapping already.
        [[maybe_unused]] auto ignored = conn->call(r);
    };
    if (reply.count != refs.size() || answer->fds.size() != 1) {
        unmap_on_service();
        return fail(EPROTO);
    }
    // One PROT_NONE reservation, then each page mapped over it, so the pages are
    // contiguous whatever their offsets in the guest's memory.
    const std::size_t length = refs.size() * kPageSize;
    void* base = ::mmap(nullptr, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        const int err = errno;
        unmap_on_service();
        return fail(err);
    }
    const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    for (std::size_t i = 0; i < refs.size(); ++i) {
        void* at = static_cast<std::byte*>(base) + i * kPageSize;
        if (::mmap(at, kPageSize, prot, MAP_SHARED | MAP_FIXED, answer->fds[0].get(),
                   static_cast<off_t>(reply.offsets[i])) == MAP_FAILED) {
            const int err = errno;
            ::munmap(base, length);
            unmap_on_service();
            return fail(err);
        }
    }
    return GrantMapping({static_cast<std::byte*>(base), length},
                        [unmap_on_service](std::span<std::byte> bytes) {
                            ::munmap(bytes.data(), bytes.size());
                            unmap_on_service();
                        });
}

Result<std::unique_ptr<SimEventChannel>> SimEventChannel::open(
    const std::filesystem::path& socket) {
    auto conn = SimConnection::connect(socket, sim_protocol::Device::event_channel);
    if (!conn) return std::unexpected(conn.error());
    UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll) return fail_errno();
    return std::unique_ptr<SimEventChannel>(
        new SimEventChannel(std::move(*conn), std::move(epoll)));
}

Result<BoundPort> SimEventChannel::adopt(SimConnection::Answer answer) {
    const Port port = answer.reply->value;
    if (answer.fds.size() != 2 || ports_.contains(port)) return fail(EPROTO);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = port;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, answer.fds[0].get(), &ev) != 0)
        return fail_errno();
    ports_.emplace(port, Local{std::move(answer.fds[0]), std::move(answer.fds[1])});
    return BoundPort(this, port);
}

Result<BoundPort> SimEventChannel::bind_interdomain(DomId domid, Port remote_port) {
    Request req;
    req.op = Op::bind_interdomain;
    req.domid = domid;
    req.arg = remote_port;
    auto answer = conn_.call(req);
    if (!answer) return std::unexpected(answer.error());
    return adopt(std::move(*answer));
}

Result<BoundPort> SimEventChannel::bind_unbound(DomId remote) {
    Request req;
    req.op = Op::alloc_unbound;
    req.domid = remote;
    auto answer = conn_.call(req);
    if (!answer) return std::unexpected(answer.error());
    return adopt(std::move(*answer));
}

Status SimEventChannel::notify(Port port) {
    auto it = ports_.find(port);
    if (it == ports_.end()) return fail(EINVAL);
    const std::uint64_t one = 1;
    if (::write(it->second.peer.get(), &one, sizeof(one)) < 0 && errno != EAGAIN)
        return fail_errno();
    return {};
}

Result<std::optional<Port>> SimEventChannel::pending() {
    epoll_event ev{};
    const int n = ::epoll_wait(epoll_.get(), &ev, 1, 0);
    if (n < 0) return errno == EINTR ? Result<std::optional<Port>>(std::nullopt) : fail_errno();
    if (n == 0) return std::nullopt;
    const Port port = ev.data.u32;
    auto it = ports_.find(port);
    if (it == ports_.end()) return std::nullopt;
    std::uint64_t count = 0;
    if (::read(it->second.own.get(), &count, sizeof(count)) < 0 && errno != EAGAIN)
        return fail_errno();
    // Masked as Xen masks a port it delivered: notifications meanwhile only
    // count, and wake nobody until unmask().
    if (auto masked = watch(port, it->second.own.get(), 0); !masked) {
        return std::unexpected(masked.error());
    }
    return port;
}

Status SimEventChannel::watch(Port port, int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = port;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) return fail_errno();
    return {};
}

Status SimEventChannel::unmask(Port port) {
    auto it = ports_.find(port);
    if (it == ports_.end()) return fail(EINVAL);
    // A notification counted while masked makes the port fire at once.
    return watch(port, it->second.own.get(), EPOLLIN);
}

Status SimEventChannel::unbind(Port port) {
    auto it = ports_.find(port);
    if (it == ports_.end()) return fail(EINVAL);
    // The hypervisor holds the same eventfd, so closing ours would not take it
    // out of the epoll set.
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.own.get(), nullptr) != 0)
        return fail_errno();
    ports_.erase(it);
    Request req;
    req.op = Op::close_port;
    req.arg = port;
    auto answer = conn_.call(req);
    if (!answer) return std::unexpected(answer.error());
    return {};
}

Status SimEventChannel::restrict_to(DomId domid) {
    Request req;
    req.op = Op::restrict_domid;
    req.domid = domid;
    auto answer = conn_.call(req);
    if (!answer) return std::unexpected(answer.error());
    return {};
}

}  // namespace xen9p::platform
