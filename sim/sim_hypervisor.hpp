// The simulated hypervisor: grant table and event channels for processes that
// play dom0 and guests, served on unix sockets. Which socket a client connects
// to is its domain: <dir>/hypervisor.sock is dom0, <dir>/domains/<N>/hypervisor.sock
// is domain N (present between create_domain(N) and destroy_domain(N)).
// Memory is shared as memfds and event notifications as eventfds passed over
// SCM_RIGHTS, so the data path never goes through this service. What Linux
// and Xen enforce on a backend's handles holds here too: a closed mapper maps
// nothing more, a restricted event channel binds only its domain's ports.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "base/domid.hpp"
#include "base/errno.hpp"
#include "base/unique_fd.hpp"
#include "sim/wire.hpp"

namespace xen9p::sim {

class SimHypervisor {
  public:
    // Creates `dir` if needed and listens on <dir>/hypervisor.sock as dom0.
    static Result<std::unique_ptr<SimHypervisor>> create(std::filesystem::path dir);

    SimHypervisor(const SimHypervisor&) = delete;
    SimHypervisor& operator=(const SimHypervisor&) = delete;
    ~SimHypervisor();

    // Opens <dir>/domains/<domid>/hypervisor.sock. EEXIST if it exists.
    Status create_domain(DomId domid);
    // Removes the domain's socket, closes its connections and event-channel
    // ports and revokes its grants; pages already mapped stay mapped (as in
    // Xen) until their mappers unmap them. ENOENT if unknown.
    Status destroy_domain(DomId domid);

    // Serves until stop(). Thread-safe against create/destroy_domain and stop.
    void run();
    void stop();
    // run() in a thread owned by this object; joined by stop() or the destructor.
    void start_thread();

    const std::filesystem::path& dir() const { return dir_; }

  private:
    struct Connection;
    struct Grant;
    struct Mapping;
    struct Port;
    using GrantKey = std::pair<DomId, std::uint32_t>;
    using PortKey = std::pair<DomId, std::uint32_t>;

    SimHypervisor(std::filesystem::path dir, UniqueFd dom0_listener, UniqueFd wake);

    void wake();
    void accept_on(int listener, DomId domid);
    // Returns false when the connection is to be closed.
    bool serve(Connection& conn);
    void close_connection(std::uint64_t id);
    void drop_domain_state(DomId domid);

    Reply handle(Connection& conn, const Request& req, std::size_t size,
                 std::vector<UniqueFd>& in_fds, std::vector<int>& out_fds);
    Reply do_grant(Connection& conn, const Request& req);
    Reply do_revoke(Connection& conn, const Request& req);
    Reply do_map(Connection& conn, const Request& req, std::size_t size, std::vector<int>& out_fds);
    Reply do_unmap(Connection& conn, const Request& req);
    Reply do_alloc_unbound(Connection& conn, const Request& req, std::vector<int>& out_fds);
    Reply do_bind(Connection& conn, const Request& req, std::vector<int>& out_fds);
    Reply do_close_port(Connection& conn, const Request& req);
    Reply do_restrict(Connection& conn, const Request& req);

    std::filesystem::path dir_;
    UniqueFd wake_;  // eventfd: state changed or stop requested
    std::mutex mutex_;
    bool stopping_ = false;
    std::map<DomId, UniqueFd> listeners_;  // domid 0 included
    std::vector<UniqueFd> retired_;        // closed by the loop, never under its poll
    std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
    std::uint64_t next_connection_ = 1;
    std::map<GrantKey, Grant> grants_;
    std::map<DomId, std::uint32_t> next_ref_;
    std::map<std::uint32_t, Mapping> mappings_;
    std::uint32_t next_mapping_ = 1;
    std::map<PortKey, Port> ports_;
    std::map<DomId, std::uint32_t> next_port_;
    std::thread thread_;
};

}  // namespace xen9p::sim
