#include "sim/sim_hypervisor.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "sim/wire.hpp"

namespace xen9p::sim {

struct SimHypervisor::Connection {
    std::uint64_t id = 0;
    DomId domid = 0;
    UniqueFd sock;
    std::shared_ptr<UniqueFd> memory;  // the memfd shared with share_memory
    std::uint32_t memory_pages = 0;
    std::vector<std::uint32_t> mappings;
    std::optional<Device> device;        // set by Op::open
    bool mapper_closed = false;          // Op::close_mapper
    std::optional<DomId> restricted_to;  // Op::restrict_domid
};

struct SimHypervisor::Grant {
    DomId grantee = 0;
    std::uint32_t page = 0;
    bool writable = false;
    std::shared_ptr<UniqueFd> memory;
    std::uint64_t owner = 0;  // connection that granted it
    std::uint32_t map_count = 0;
};

struct SimHypervisor::Mapping {
    std::uint64_t owner = 0;
    DomId granter = 0;
    std::vector<std::uint32_t> refs;
};

struct SimHypervisor::Port {
    std::uint64_t owner = 0;
    DomId remote = 0;
    bool bound = false;              // an unbound port that has been bound by its remote
    std::shared_ptr<UniqueFd> own;   // eventfd this side waits on
    std::shared_ptr<UniqueFd> peer;  // eventfd this side notifies
};

namespace {

Reply error_reply(int err) {
    Reply reply;
    reply.error = err;
    return reply;
}

Result<UniqueFd> listen_at(const std::filesystem::path& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string p = path.string();
    if (p.size() >= sizeof(addr.sun_path)) return fail(ENAMETOOLONG);
    std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno();
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return fail_errno();
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
        return fail_errno();
    if (::listen(fd.get(), 64) != 0) return fail_errno();
    return fd;
}

std::filesystem::path domain_dir(const std::filesystem::path& dir, DomId domid) {
    return dir / "domains" / std::to_string(domid);
}

// DOMID_FIRST_RESERVED: DOMID_SELF, DOMID_IO and the like start here.
constexpr std::uint32_t kFirstReservedDomid = 0x7FF0;

// The device whose handle takes `op`; nullopt for an unknown op.
std::optional<Device> device_of(Op op) {
    switch (op) {
        case Op::map:
        case Op::unmap:
        case Op::close_mapper:
            return Device::grant_mapper;
        case Op::share_memory:
        case Op::grant:
        case Op::revoke:
            return Device::grant_sharer;
        case Op::alloc_unbound:
        case Op::bind_interdomain:
        case Op::close_port:
        case Op::restrict_domid:
            return Device::event_channel;
        case Op::open:
            break;
    }
    return std::nullopt;
}

bool is_device(std::uint32_t value) {
    return value >= static_cast<std::uint32_t>(Device::grant_mapper) &&
           value <= static_cast<std::uint32_t>(Device::event_channel);
}

Result<std::shared_ptr<UniqueFd>> new_eventfd() {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) return fail_errno();
    return std::make_shared<UniqueFd>(std::move(fd));
}

}  // namespace

Result<std::unique_ptr<SimHypervisor>> SimHypervisor::create(std::filesystem::path dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir / "domains", ec);
    if (ec) return fail(ec.value());
    auto listener = listen_at(dir / "hypervisor.sock");
    if (!listener) return std::unexpected(listener.error());
    UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake) return fail_errno();
    return std::unique_ptr<SimHypervisor>(
        new SimHypervisor(std::move(dir), std::move(*listener), std::move(wake)));
}

SimHypervisor::SimHypervisor(std::filesystem::path dir, UniqueFd dom0_listener, UniqueFd wake)
    : dir_(std::move(dir)), wake_(std::move(wake)) {
    listeners_.emplace(DomId{0}, std::move(dom0_listener));
}

SimHypervisor::~SimHypervisor() {
    stop();
    std::error_code ec;
    std::filesystem::remove(dir_ / "hypervisor.sock", ec);
    for (const auto& [domid, fd] : listeners_)
        if (domid != 0) std::filesystem::remove_all(domain_dir(dir_, domid), ec);
}

void SimHypervisor::wake() {
    const std::uint64_t one = 1;
    // The eventfd only fails if its counter would overflow, which means the
    // loop has a wake-up pending anyway.
    [[maybe_unused]] const ssize_t n = ::write(wake_.get(), &one, sizeof(one));
}

Status SimHypervisor::create_domain(DomId domid) {
    std::lock_guard lock(mutex_);
    if (domid == 0 || listeners_.contains(domid)) return fail(EEXIST);
    const auto ddir = domain_dir(dir_, domid);
    std::error_code ec;
    std::filesystem::create_directories(ddir, ec);
    if (ec) return fail(ec.value());
    auto listener = listen_at(ddir / "hypervisor.sock");
    if (!listener) return std::unexpected(listener.error());
    listeners_.emplace(domid, std::move(*listener));
    wake();
    return {};
}

Status SimHypervisor::destroy_domain(DomId domid) {
    std::lock_guard lock(mutex_);
    auto it = listeners_.find(domid);
    if (domid == 0 || it == listeners_.end()) return fail(ENOENT);
    retired_.push_back(std::move(it->second));
    listeners_.erase(it);
    std::error_code ec;
    std::filesystem::remove_all(domain_dir(dir_, domid), ec);
    std::vector<std::uint64_t> doomed;
    for (const auto& [id, conn] : connections_)
        if (conn->domid == domid) doomed.push_back(id);
    for (auto id : doomed)
        close_connection(id);
    drop_domain_state(domid);
    wake();
    return {};
}

void SimHypervisor::drop_domain_state(DomId domid) {
    std::erase_if(grants_, [&](const auto& g) { return g.first.first == domid; });
    std::erase_if(ports_, [&](const auto& p) { return p.first.first == domid; });
    next_ref_.erase(domid);
    next_port_.erase(domid);
}

void SimHypervisor::close_connection(std::uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    Connection& conn = *it->second;
    // A dead mapper's mappings are released.
    for (auto mapping_id : conn.mappings) {
        auto m = mappings_.find(mapping_id);
        if (m == mappings_.end()) continue;
        for (auto ref : m->second.refs) {
            auto g = grants_.find({m->second.granter, ref});
            if (g != grants_.end() && g->second.map_count > 0) --g->second.map_count;
        }
        mappings_.erase(m);
    }
    // A dead granter's grants go away; pages already mapped stay mapped.
    std::erase_if(grants_, [&](const auto& g) { return g.second.owner == id; });
    std::erase_if(ports_, [&](const auto& p) { return p.second.owner == id; });
    retired_.push_back(std::move(conn.sock));
    connections_.erase(it);
}

void SimHypervisor::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        wake();
    }
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void SimHypervisor::start_thread() {
    thread_ = std::thread([this] { run(); });
}

void SimHypervisor::run() {
    enum class Kind { wake, listener, connection };
    struct Source {
        Kind kind;
        std::uint64_t id;
    };
    std::vector<pollfd> fds;
    std::vector<Source> sources;
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            retired_.clear();
            fds.clear();
            sources.clear();
            fds.push_back({wake_.get(), POLLIN, 0});
            sources.push_back({Kind::wake, 0});
            for (const auto& [domid, fd] : listeners_) {
                fds.push_back({fd.get(), POLLIN, 0});
                sources.push_back({Kind::listener, domid});
            }
            for (const auto& [id, conn] : connections_) {
                fds.push_back({conn->sock.get(), POLLIN, 0});
                sources.push_back({Kind::connection, id});
            }
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].revents == 0) continue;
            switch (sources[i].kind) {
                case Kind::wake: {
                    std::uint64_t count = 0;
                    [[maybe_unused]] const ssize_t n = ::read(wake_.get(), &count, sizeof(count));
                    break;
                }
                case Kind::listener: {
                    // Only a listener still registered accepts: a destroyed
                    // domain's listener is retired and its clients refused.
                    auto it = listeners_.find(static_cast<DomId>(sources[i].id));
                    if (it != listeners_.end() && it->second.get() == fds[i].fd)
                        accept_on(fds[i].fd, it->first);
                    break;
                }
                case Kind::connection: {
                    auto it = connections_.find(sources[i].id);
                    if (it != connections_.end() && !serve(*it->second))
                        close_connection(sources[i].id);
                    break;
                }
            }
        }
    }
}

void SimHypervisor::accept_on(int listener, DomId domid) {
    UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!fd) return;
    auto conn = std::make_unique<Connection>();
    conn->id = next_connection_++;
    conn->domid = domid;
    conn->sock = std::move(fd);
    connections_.emplace(conn->id, std::move(conn));
}

bool SimHypervisor::serve(Connection& conn) {
    auto req = std::make_unique<Request>();
    auto received =
        receive_message(conn.sock.get(), std::as_writable_bytes(std::span(req.get(), 1)));
    if (!received || received->size == 0) return false;
    if (received->size < kRequestHeader) return false;
    std::vector<int> out_fds;
    const Reply reply = handle(conn, *req, received->size, received->fds, out_fds);
    const std::size_t count = reply.error == 0 ? reply.count : 0;
    const auto bytes = std::as_bytes(std::span(&reply, 1)).first(kReplyHeader + count * 8);
    return static_cast<bool>(send_message(conn.sock.get(), bytes, out_fds));
}

Reply SimHypervisor::handle(Connection& conn, const Request& req, std::size_t size,
                            std::vector<UniqueFd>& in_fds, std::vector<int>& out_fds) {
    if (req.op == Op::open) {
        if (conn.device || !is_device(req.arg)) return error_reply(EINVAL);
        conn.device = static_cast<Device>(req.arg);
        return Reply{};
    }
    const auto device = device_of(req.op);
    if (!device) return error_reply(ENOSYS);
    // As an ioctl of one device on another's fd.
    if (conn.device != device) return error_reply(ENOTTY);
    switch (req.op) {
        case Op::share_memory: {
            if (in_fds.size() != 1 || conn.memory) return error_reply(EINVAL);
            struct stat st {};
            if (::fstat(in_fds[0].get(), &st) != 0) return error_reply(errno);
            if (req.arg == 0 ||
                static_cast<std::uint64_t>(st.st_size) < std::uint64_t{req.arg} * kPageSize)
                return error_reply(EINVAL);
            conn.memory = std::make_shared<UniqueFd>(std::move(in_fds[0]));
            conn.memory_pages = req.arg;
            return Reply{};
        }
        case Op::grant:
            return do_grant(conn, req);
        case Op::revoke:
            return do_revoke(conn, req);
        case Op::map:
            return do_map(conn, req, size, out_fds);
        case Op::unmap:
            return do_unmap(conn, req);
        case Op::alloc_unbound:
            return do_alloc_unbound(conn, req, out_fds);
        case Op::bind_interdomain:
            return do_bind(conn, req, out_fds);
        case Op::close_port:
            return do_close_port(conn, req);
        case Op::close_mapper:
            conn.mapper_closed = true;
            return Reply{};
        case Op::restrict_domid:
            return do_restrict(conn, req);
        case Op::open:
            break;
    }
    return error_reply(ENOSYS);
}

Reply SimHypervisor::do_grant(Connection& conn, const Request& req) {
    if (!conn.memory) return error_reply(EINVAL);
    if (req.arg >= conn.memory_pages || req.domid > 0xFFFF) return error_reply(EINVAL);
    // Refs start above the few Xen reserves for the toolstack.
    auto [it, fresh] = next_ref_.try_emplace(conn.domid, 8u);
    const std::uint32_t ref = it->second++;
    grants_[{conn.domid, ref}] =
        Grant{static_cast<DomId>(req.domid), req.arg, req.writable != 0, conn.memory, conn.id, 0};
    Reply reply;
    reply.value = ref;
    return reply;
}

Reply SimHypervisor::do_revoke(Connection& conn, const Request& req) {
    auto it = grants_.find({conn.domid, req.arg});
    if (it == grants_.end() || it->second.owner != conn.id) return error_reply(ENOENT);
    if (it->second.map_count > 0) return error_reply(EBUSY);
    grants_.erase(it);
    return Reply{};
}

Reply SimHypervisor::do_map(Connection& conn, const Request& req, std::size_t size,
                            std::vector<int>& out_fds) {
    // Nothing can be mapped through a closed handle.
    if (conn.mapper_closed) return error_reply(EBADF);
    if (req.count == 0 || req.count > kMaxRefsPerMap || req.domid > 0xFFFF ||
        size < kRequestHeader + std::size_t{req.count} * sizeof(std::uint32_t))
        return error_reply(EINVAL);
    const auto granter = static_cast<DomId>(req.domid);
    std::vector<Grant*> grants;
    grants.reserve(req.count);
    for (std::uint32_t i = 0; i < req.count; ++i) {
        auto it = grants_.find({granter, req.refs[i]});
        // Xen answers GNTST_bad_gntref / permission_denied; both become EINVAL
        // and EPERM here, checked for every ref before anything is mapped.
        if (it == grants_.end()) return error_reply(EINVAL);
        Grant& g = it->second;
        if (g.grantee != conn.domid) return error_reply(EPERM);
        if (req.writable != 0 && !g.writable) return error_reply(EPERM);
        if (!grants.empty() && g.memory != grants.front()->memory) return error_reply(EINVAL);
        grants.push_back(&g);
    }
    Reply reply;
    reply.count = req.count;
    for (std::uint32_t i = 0; i < req.count; ++i) {
        ++grants[i]->map_count;
        reply.offsets[i] = std::uint64_t{grants[i]->page} * kPageSize;
    }
    const std::uint32_t id = next_mapping_++;
    mappings_[id] =
        Mapping{conn.id, granter, std::vector<std::uint32_t>(req.refs, req.refs + req.count)};
    conn.mappings.push_back(id);
    out_fds.push_back(grants.front()->memory->get());
    reply.value = id;
    return reply;
}

Reply SimHypervisor::do_unmap(Connection& conn, const Request& req) {
    auto it = mappings_.find(req.arg);
    if (it == mappings_.end() || it->second.owner != conn.id) return error_reply(ENOENT);
    for (auto ref : it->second.refs) {
        auto g = grants_.find({it->second.granter, ref});
        if (g != grants_.end() && g->second.map_count > 0) --g->second.map_count;
    }
    mappings_.erase(it);
    std::erase(conn.mappings, req.arg);
    return Reply{};
}

Reply SimHypervisor::do_alloc_unbound(Connection& conn, const Request& req,
                                      std::vector<int>& out_fds) {
    if (req.domid > 0xFFFF) return error_reply(EINVAL);
    // Linux's evtchn driver refuses unbound ports on a restricted handle.
    if (conn.restricted_to) return error_reply(EACCES);
    auto own = new_eventfd();
    auto peer = new_eventfd();
    if (!own || !peer) return error_reply(EMFILE);
    auto [it, fresh] = next_port_.try_emplace(conn.domid, 1u);
    const std::uint32_t port = it->second++;
    ports_[{conn.domid, port}] = Port{conn.id, static_cast<DomId>(req.domid), false, *own, *peer};
    out_fds = {(*own)->get(), (*peer)->get()};
    Reply reply;
    reply.value = port;
    return reply;
}

Reply SimHypervisor::do_bind(Connection& conn, const Request& req, std::vector<int>& out_fds) {
    if (req.domid > 0xFFFF) return error_reply(EINVAL);
    if (conn.restricted_to && *conn.restricted_to != req.domid) return error_reply(EACCES);
    auto it = ports_.find({static_cast<DomId>(req.domid), req.arg});
    // Only the domain the port was allocated for may bind it, once.
    if (it == ports_.end() || it->second.bound) return error_reply(EINVAL);
    if (it->second.remote != conn.domid) return error_reply(EPERM);
    it->second.bound = true;
    auto [next, fresh] = next_port_.try_emplace(conn.domid, 1u);
    const std::uint32_t port = next->second++;
    Port mine{conn.id, static_cast<DomId>(req.domid), true, it->second.peer, it->second.own};
    out_fds = {mine.own->get(), mine.peer->get()};
    ports_[{conn.domid, port}] = std::move(mine);
    Reply reply;
    reply.value = port;
    return reply;
}

Reply SimHypervisor::do_close_port(Connection& conn, const Request& req) {
    auto it = ports_.find({conn.domid, req.arg});
    if (it == ports_.end() || it->second.owner != conn.id) return error_reply(ENOENT);
    ports_.erase(it);
    return Reply{};
}

Reply SimHypervisor::do_restrict(Connection& conn, const Request& req) {
    // As IOCTL_EVTCHN_RESTRICT_DOMID: once only, and never to dom0 or a
    // reserved domid.
    if (conn.restricted_to) return error_reply(EACCES);
    if (req.domid == 0 || req.domid >= kFirstReservedDomid) return error_reply(EINVAL);
    conn.restricted_to = static_cast<DomId>(req.domid);
    return Reply{};
}

}  // namespace xen9p::sim
