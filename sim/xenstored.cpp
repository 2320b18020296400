#include "sim/xenstored.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstring>

#include "sim/xenstored_impl.hpp"

namespace xen9p::sim {
namespace {

constexpr std::size_t kHeaderSize = sizeof(xsd_sockmsg);

Status make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return fail_errno();
    return {};
}

bool is_child(std::string_view child, std::string_view parent) {
    if (parent == "/") return true;
    if (!child.starts_with(parent)) return false;
    return child.size() == parent.size() || child[parent.size()] == '/';
}

// xenstored's watch_permitted: a watcher hears of a node it may read, or
// whose parent it may read (so a removal is still seen).
bool may_see(DomId domid, const StoreEvent& event) {
    if ((perm_for(domid, event.perms) & kPermRead) != 0) return true;
    return !event.parent_perms.empty() && (perm_for(domid, event.parent_perms) & kPermRead) != 0;
}

}  // namespace

std::string domain_home(DomId domid) {
    return "/local/domain/" + std::to_string(domid);
}

Result<UniqueFd> Xenstored::Impl::listen_at(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) return fail(ENAMETOOLONG);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return fail_errno();
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return fail_errno();
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
        return fail_errno();
    if (::listen(fd.get(), 64) != 0) return fail_errno();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd.get();
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) return fail_errno();
    return fd;
}

std::string Xenstored::Impl::domain_dir(DomId domid) const {
    return dir + "/domains/" + std::to_string(domid);
}

std::string Xenstored::Impl::domain_socket(DomId domid) const {
    return domain_dir(domid) + "/xenstored.sock";
}

void Xenstored::Impl::accept_from(int listener, DomId domid) {
    UniqueFd fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;
    if (domid != 0) {
        std::size_t open = 0;
        for (const auto& [_, conn] : connections)
            open += conn->domid == domid ? 1 : 0;
        if (open >= limits.max_connections_per_domain) return;
    }
    auto conn = std::make_unique<Connection>();
    conn->fd = std::move(fd);
    conn->domid = domid;
    conn->epoll_events = EPOLLIN;
    epoll_event ev{};
    ev.events = conn->epoll_events;
    ev.data.fd = conn->fd.get();
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, conn->fd.get(), &ev) != 0) return;
    const int key = conn->fd.get();
    connections.emplace(key, std::move(conn));
}

bool Xenstored::Impl::throttled(const Connection& conn) const {
    return conn.domid != 0 && conn.queued_bytes > limits.max_queued_bytes;
}

void Xenstored::Impl::readable(Connection& conn) {
    std::array<char, 8192> buf;
    const ssize_t n = ::read(conn.fd.get(), buf.data(), buf.size());
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn.dead = true;
        return;
    }
    if (n > 0) conn.input.append(buf.data(), static_cast<std::size_t>(n));
    process(conn);
}

void Xenstored::Impl::process(Connection& conn) {
    while (!conn.dead && !throttled(conn) && conn.input.size() >= kHeaderSize) {
        xsd_sockmsg header;
        std::memcpy(&header, conn.input.data(), kHeaderSize);
        // Like xenstored: an oversized message means the stream cannot be
        // trusted any more, so the client is dropped.
        if (header.len > XENSTORE_PAYLOAD_MAX) {
            conn.dead = true;
            break;
        }
        if (conn.input.size() < kHeaderSize + header.len) break;
        const std::string payload = conn.input.substr(kHeaderSize, header.len);
        conn.input.erase(0, kHeaderSize + header.len);
        handle(conn, header, payload);
    }
    update_events(conn);
}

void Xenstored::Impl::flush(Connection& conn) {
    while (!conn.dead && !conn.output.empty()) {
        const std::string& front = conn.output.front();
        const ssize_t n = ::send(conn.fd.get(), front.data() + conn.output_offset,
                                 front.size() - conn.output_offset, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) conn.dead = true;
            break;
        }
        conn.output_offset += static_cast<std::size_t>(n);
        if (conn.output_offset == front.size()) {
            conn.queued_bytes -= front.size();
            conn.output.pop_front();
            conn.output_offset = 0;
        }
    }
}

void Xenstored::Impl::update_events(Connection& conn) {
    if (conn.dead) {
        doomed.push_back(conn.fd.get());
        return;
    }
    std::uint32_t wanted = throttled(conn) ? 0u : static_cast<std::uint32_t>(EPOLLIN);
    if (!conn.output.empty()) wanted |= EPOLLOUT;
    if (wanted == conn.epoll_events) return;
    epoll_event ev{};
    ev.events = wanted;
    ev.data.fd = conn.fd.get();
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, conn.fd.get(), &ev) != 0) {
        conn.dead = true;
        doomed.push_back(conn.fd.get());
        return;
    }
    conn.epoll_events = wanted;
}

void Xenstored::Impl::close_connection(int fd) {
    const auto it = connections.find(fd);
    if (it == connections.end()) return;
    (void)::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
    connections.erase(it);
}

void Xenstored::Impl::send(Connection& conn, const xsd_sockmsg& request, std::uint32_t type,
                           std::string_view payload) {
    if (payload.size() > XENSTORE_PAYLOAD_MAX) {
        send_error(conn, request, E2BIG);
        return;
    }
    xsd_sockmsg header = request;
    header.type = type;
    header.len = static_cast<std::uint32_t>(payload.size());
    std::string message(kHeaderSize + payload.size(), '\0');
    std::memcpy(message.data(), &header, kHeaderSize);
    std::memcpy(message.data() + kHeaderSize, payload.data(), payload.size());
    conn.queued_bytes += message.size();
    conn.output.push_back(std::move(message));
    flush(conn);
    update_events(conn);
}

void Xenstored::Impl::send_error(Connection& conn, const xsd_sockmsg& request, int err) {
    const char* name = "EINVAL";
    for (const auto& entry : xsd_errors)
        if (entry.errnum == err) name = entry.errstring;
    send(conn, request, XS_ERROR, std::string_view(name, std::strlen(name) + 1));
}

void Xenstored::Impl::send_event(Connection& conn, const Watch& watch, std::string_view path) {
    if (watch.relative) {
        const std::string home = domain_home(conn.domid) + "/";
        if (path.starts_with(home)) path.remove_prefix(home.size());
    }
    std::string payload;
    payload.append(path).push_back('\0');
    payload.append(watch.token).push_back('\0');
    if (payload.size() > XENSTORE_PAYLOAD_MAX || throttled(conn)) return;
    xsd_sockmsg header{};
    send(conn, header, XS_WATCH_EVENT, payload);
}

void Xenstored::Impl::fire(const std::vector<StoreEvent>& events) {
    for (const auto& event : events) {
        for (auto& [_, conn] : connections) {
            if (conn->dead || !may_see(conn->domid, event)) continue;
            for (const auto& watch : conn->watches) {
                const bool match =
                    event.exact ? watch.path == event.path : is_child(event.path, watch.path);
                if (match && !watch.path.starts_with('@')) send_event(*conn, watch, event.path);
            }
        }
    }
}

// The special nodes have permissions like any node (dom0 only by default):
// a domain hears of domains coming and going if it may read them.
void Xenstored::Impl::fire_special(std::string_view name) {
    const auto perms = special_perms.find(name);
    for (auto& [_, conn] : connections) {
        if (conn->dead) continue;
        if (perms != special_perms.end() && (perm_for(conn->domid, perms->second) & kPermRead) == 0)
            continue;
        for (const auto& watch : conn->watches)
            if (watch.path == name) send_event(*conn, watch, name);
    }
}

Status Xenstored::Impl::introduce(DomId domid, std::uint64_t mfn, std::uint32_t port) {
    if (domains.contains(domid)) {
        domains[domid].mfn = mfn;
        domains[domid].port = port;
        return {};
    }
    if (auto made = make_dir(dir + "/domains"); !made) return made;
    if (auto made = make_dir(domain_dir(domid)); !made) return made;
    auto listener = listen_at(domain_socket(domid));
    if (!listener) return std::unexpected(listener.error());
    listeners.emplace(listener->get(), domid);
    domains.emplace(domid, IntroducedDomain{std::move(*listener), mfn, port});
    fire_special("@introduceDomain");
    if (on_introduce) on_introduce(domid);
    return {};
}

Status Xenstored::Impl::release(DomId domid) {
    const auto it = domains.find(domid);
    if (it == domains.end()) return fail(ENOENT);
    const int listener = it->second.listener.get();
    (void)::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, listener, nullptr);
    listeners.erase(listener);
    domains.erase(it);
    (void)::unlink(domain_socket(domid).c_str());
    (void)::rmdir(domain_dir(domid).c_str());
    std::vector<int> gone;
    for (const auto& [fd, conn] : connections)
        if (conn->domid == domid) gone.push_back(fd);
    for (const int fd : gone)
        close_connection(fd);
    fire_special("@releaseDomain");
    if (on_release) on_release(domid);
    return {};
}

Result<std::unique_ptr<Xenstored>> Xenstored::create(const std::string& dir,
                                                     XenstoredLimits limits) {
    if (auto made = make_dir(dir); !made) return std::unexpected(made.error());
    auto impl = std::make_unique<Impl>(dir, limits);
    impl->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!impl->epoll) return fail_errno();
    impl->wake.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!impl->wake) return fail_errno();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = impl->wake.get();
    if (::epoll_ctl(impl->epoll.get(), EPOLL_CTL_ADD, impl->wake.get(), &ev) != 0)
        return fail_errno();
    // What xen-init-dom0 writes at boot.
    std::vector<StoreEvent> ignored;
    (void)impl->store.write(0, nullptr, "/local/domain/0/name", "Domain-0", ignored);
    (void)impl->store.write(0, nullptr, "/local/domain/0/domid", "0", ignored);
    auto listener = impl->listen_at(dir + "/xenstored.sock");
    if (!listener) return std::unexpected(listener.error());
    impl->listeners.emplace(listener->get(), 0);
    impl->dom0_listener = std::move(*listener);
    return std::unique_ptr<Xenstored>(new Xenstored(std::move(impl)));
}

Xenstored::Xenstored(std::unique_ptr<Impl> impl) : impl_(std::move(impl)), dir_(impl_->dir) {}

Xenstored::~Xenstored() {
    std::vector<DomId> introduced;
    for (const auto& [domid, _] : impl_->domains)
        introduced.push_back(domid);
    for (const DomId domid : introduced) {
        (void)::unlink(domain_socket_path(domid).c_str());
        (void)::rmdir(impl_->domain_dir(domid).c_str());
    }
    (void)::rmdir((dir_ + "/domains").c_str());
    (void)::unlink(socket_path().c_str());
}

void Xenstored::on_introduce(DomainHook hook) {
    impl_->on_introduce = std::move(hook);
}

void Xenstored::on_release(DomainHook hook) {
    impl_->on_release = std::move(hook);
}

std::string Xenstored::socket_path() const {
    return dir_ + "/xenstored.sock";
}

std::string Xenstored::domain_socket_path(DomId domid) const {
    return impl_->domain_socket(domid);
}

void Xenstored::stop() {
    impl_->stopping = true;
    const std::uint64_t one = 1;
    (void)!::write(impl_->wake.get(), &one, sizeof(one));
}

Status Xenstored::run() {
    Impl& s = *impl_;
    std::array<epoll_event, 64> events;
    while (!s.stopping) {
        const int n = ::epoll_wait(s.epoll.get(), events.data(), events.size(), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno();
        }
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == s.wake.get()) continue;
            if (const auto l = s.listeners.find(fd); l != s.listeners.end()) {
                s.accept_from(fd, l->second);
                continue;
            }
            const auto c = s.connections.find(fd);
            if (c == s.connections.end()) continue;
            Connection& conn = *c->second;
            if (events[i].events & (EPOLLERR | EPOLLHUP)) conn.dead = true;
            if (!conn.dead && (events[i].events & EPOLLOUT)) {
                s.flush(conn);
                s.process(conn);
            }
            if (!conn.dead && (events[i].events & EPOLLIN)) s.readable(conn);
            s.update_events(conn);
            for (const int gone : std::exchange(s.doomed, {}))
                s.close_connection(gone);
        }
    }
    return {};
}

Result<std::unique_ptr<XenstoredThread>> XenstoredThread::start(
    const std::string& dir, XenstoredLimits limits, const std::function<void(Xenstored&)>& setup) {
    auto server = Xenstored::create(dir, limits);
    if (!server) return std::unexpected(server.error());
    if (setup) setup(**server);
    return std::unique_ptr<XenstoredThread>(new XenstoredThread(std::move(*server)));
}

XenstoredThread::XenstoredThread(std::unique_ptr<Xenstored> server)
    : server_(std::move(server)), thread_([this] { (void)server_->run(); }) {}

XenstoredThread::~XenstoredThread() {
    server_->stop();
    thread_.join();
}

}  // namespace xen9p::sim
