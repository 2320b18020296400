// A scripted backend on in-process ring memory: a thread that reads requests
// from the out halves and lets the test answer them on any ring, in any order.
// Doorbells are eventfds, so the frontend's RingTransport runs unchanged.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.hpp"
#include "frontend/ring_transport.hpp"
#include "p9proto/codec.hpp"

namespace xen9p::frontend::test {

struct BackendRequest {
    std::size_t ring = 0;
    std::vector<std::byte> bytes;
    p9proto::Request request;
};

class RingBackend;
using RequestHandler = std::function<void(RingBackend&, BackendRequest)>;

// The backend's side of the notifications: wake the frontend, and a pollable
// fd that fires when the frontend notified (acknowledge() re-arms it).
class BackendBell {
  public:
    virtual ~BackendBell() = default;
    virtual Status notify(std::size_t ring) = 0;
    virtual int fd() const = 0;
    virtual Status acknowledge() = 0;
};

// Ring memory in this process with eventfd doorbells on both sides.
class LocalRings {
  public:
    LocalRings(std::size_t rings, unsigned order);
    ~LocalRings();
    std::vector<RingMemory> memory();
    Doorbell& frontend_doorbell() { return *frontend_doorbell_; }
    BackendBell& backend_bell() { return *backend_bell_; }

  private:
    ring::DataIntf* intf(std::size_t i) {
        return reinterpret_cast<ring::DataIntf*>(intf_pages_[i].data());
    }

    unsigned order_;
    std::vector<std::vector<std::byte>> intf_pages_;  // one ring::DataIntf each
    std::vector<std::vector<std::byte>> data_;
    UniqueFd to_backend_;
    UniqueFd to_frontend_;
    std::unique_ptr<Doorbell> frontend_doorbell_;
    std::unique_ptr<BackendBell> backend_bell_;
};

class RingBackend {
  public:
    // Serves `rings` (the backend's view of them), notifying through `bell`.
    RingBackend(std::vector<RingMemory> rings, BackendBell& bell);
    ~RingBackend();

    // Starts serving: `handler` runs on the backend thread for each request.
    void start(RequestHandler handler);
    // Stops and joins the backend thread.
    void stop();

    // Called from the handler: writes a reply (or raw bytes) on `ring`.
    void reply(std::size_t ring, const p9proto::Reply& reply);
    void send_raw(std::size_t ring, std::span<const std::byte> bytes);

    // Problems seen on the backend thread (checked by the test after stop()).
    std::vector<std::string> errors();
    void record_error(std::string error);

    // Request bytes the frontend had published on each wake-up, per ring.
    std::vector<std::vector<std::uint32_t>> observed_out_prod();

  private:
    void run(RequestHandler handler);

    std::vector<RingMemory> rings_;
    BackendBell& bell_;
    std::vector<ring::RingWriter> writers_;
    UniqueFd stop_fd_;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<std::string> errors_;
    std::vector<std::vector<std::uint32_t>> observed_out_prod_;
};

}  // namespace xen9p::frontend::test
