// The sim platform: grant mapping, grant sharing and event channels as clients
// of the simulated hypervisor (sim/). The socket connected to
// decides which domain we are. Each object is used from one thread at a time,
// like the libxengnttab/libxenevtchn handles it stands in for.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "base/unique_fd.hpp"
#include "xenring/platform/event_channel.hpp"
#include "xenring/platform/grant_mapper.hpp"
#include "xenring/platform/sim_protocol.hpp"

namespace xen9p::platform {

// One request/reply connection to the simulated hypervisor.
class SimConnection {
  public:
    // Connects and opens `device` on the connection.
    static Result<SimConnection> connect(const std::filesystem::path& socket,
                                         sim_protocol::Device device);

    struct Answer {
        std::unique_ptr<sim_protocol::Reply> reply;
        std::vector<UniqueFd> fds;
    };
    // EPIPE/ECONNRESET once the hypervisor dropped us (e.g. domain destroyed).
    Result<Answer> call(const sim_protocol::Request& request, std::span<const int> fds = {});

  private:
    explicit SimConnection(UniqueFd sock) : sock_(std::move(sock)) {}
    UniqueFd sock_;
};

// The socket a domain talks to: dom0 at <dir>/hypervisor.sock, others under domains/<N>/.
std::filesystem::path sim_socket(const std::filesystem::path& dir, DomId self);

class SimGrantMapper final : public GrantMapper {
  public:
    static Result<std::unique_ptr<SimGrantMapper>> open(const std::filesystem::path& socket);
    // Closes the handle (the hypervisor maps nothing more for it); the
    // connection lives on with the mappings, which unmap through it.
    ~SimGrantMapper() override;
    Result<GrantMapping> map(DomId domid, std::span<const GrantRef> refs, bool writable) override;

  private:
    explicit SimGrantMapper(SimConnection conn)
        : conn_(std::make_shared<SimConnection>(std::move(conn))) {}
    // Shared with the mappings' release functions.
    std::shared_ptr<SimConnection> conn_;
};

class SimEventChannel final : public EventChannel {
  public:
    static Result<std::unique_ptr<SimEventChannel>> open(const std::filesystem::path& socket);

    int fd() const override { return epoll_.get(); }
    Result<BoundPort> bind_interdomain(DomId domid, Port remote_port) override;
    Result<BoundPort> bind_unbound(DomId remote) override;
    Status notify(Port port) override;
    Result<std::optional<Port>> pending() override;
    Status unmask(Port port) override;
    Status unbind(Port port) override;
    Status restrict_to(DomId domid) override;

  private:
    struct Local {
        UniqueFd own;   // we wait on this eventfd
        UniqueFd peer;  // we write this one to notify
    };
    SimEventChannel(SimConnection conn, UniqueFd epoll)
        : conn_(std::move(conn)), epoll_(std::move(epoll)) {}
    Result<BoundPort> adopt(SimConnection::Answer answer);
    // Sets what the epoll set waits for on a port's eventfd (0: masked).
    Status watch(Port port, int fd, std::uint32_t events);

    SimConnection conn_;
    UniqueFd epoll_;
    std::map<Port, Local> ports_;
};

}  // namespace xen9p::platform
