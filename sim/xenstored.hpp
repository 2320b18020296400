// The simulated xenstored: the xenstore wire protocol of xen/io/xs_wire.h on
// unix sockets, so the real libxenstore (XENSTORED_PATH) talks to it
// unchanged. The socket a client connects to is its identity:
// <dir>/xenstored.sock is dom0; <dir>/domains/<N>/xenstored.sock is domain N
// and exists from XS_INTRODUCE of N until XS_RELEASE of N.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/errno.hpp"
#include "sim/store.hpp"

namespace xen9p::sim {

struct XenstoredLimits {
    StoreLimits store;
    std::size_t max_watches_per_domain = 128;
    std::size_t max_transactions_per_connection = 10;
    std::size_t max_connections_per_domain = 8;
    // A guest that stops reading: past this many queued bytes its requests
    // wait and its watch events are dropped (as xenstored's quotas do).
    std::size_t max_queued_bytes = 256 * 1024;
};

class Xenstored {
  public:
    using DomainHook = std::function<void(DomId)>;

    // Creates `dir` if needed and listens on <dir>/xenstored.sock.
    static Result<std::unique_ptr<Xenstored>> create(const std::string& dir,
                                                     XenstoredLimits limits = {});
    ~Xenstored();
    Xenstored(const Xenstored&) = delete;
    Xenstored& operator=(const Xenstored&) = delete;

    // Called on the loop thread after a domain's socket appears / after its
    // connections are gone. Set before run().
    void on_introduce(DomainHook hook);
    void on_release(DomainHook hook);

    // Serves until stop(); single-threaded epoll loop.
    Status run();
    // Safe from any thread and from signal handlers.
    void stop();

    const std::string& dir() const { return dir_; }
    std::string socket_path() const;
    std::string domain_socket_path(DomId domid) const;

    struct Impl;

  private:
    explicit Xenstored(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    std::string dir_;
};

// A Xenstored serving on its own thread for in-process tests; stops and joins
// on destruction. `setup` runs before the thread starts (to set hooks).
class XenstoredThread {
  public:
    static Result<std::unique_ptr<XenstoredThread>> start(
        const std::string& dir, XenstoredLimits limits = {},
        const std::function<void(Xenstored&)>& setup = {});
    ~XenstoredThread();
    Xenstored& server() { return *server_; }

  private:
    explicit XenstoredThread(std::unique_ptr<Xenstored> server);
    std::unique_ptr<Xenstored> server_;
    std::thread thread_;
};

}  // namespace xen9p::sim
