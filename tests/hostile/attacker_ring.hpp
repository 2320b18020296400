// A malicious guest's side of a Xen 9pfs device: the rings a trans_xen-like
// Frontend set up, driven by a transport of its own. Unlike Linux (and the
// frontend's RingTransport), sending never consumes replies: a guest that does
// not read them leaves them in the ring, and its sends block once the backend
// stops taking requests. One thread may send while another receives, as the
// attacks do over sockets. The backend closing the device fails what waits.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/unique_fd.hpp"
#include "client/transport.hpp"
#include "frontend/frontend.hpp"
#include "xenring/ring/ring_reader.hpp"
#include "xenring/ring/ring_writer.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace xen9p::hostile {

class AttackerRing final : public client::ClientTransport {
  public:
    // `watcher`: a xenstore connection of the guest, to hear the backend close.
    static Result<std::unique_ptr<AttackerRing>> start(std::unique_ptr<frontend::Frontend> fe,
                                                       xenstore::Xenstore watcher);
    // Stops listening, then closes the device as the guest would.
    ~AttackerRing() override;
    AttackerRing(const AttackerRing&) = delete;
    AttackerRing& operator=(const AttackerRing&) = delete;

    // Waits for room in ring tag % n (never reading replies meanwhile).
    Status send(const client::OutgoingMessage& message) override;
    // The next reply on any ring, whatever its tag.
    Result<std::vector<std::byte>> receive(std::size_t max_size) override;
    std::uint32_t max_msize() const override { return fe_->max_msize(); }

    // Fails every call from now on (EPIPE), waking those that wait. The
    // device stays open until destruction.
    void cut();

  private:
    struct Ring {
        ring::RingWriter writer;
        ring::RingReader reader;
    };

    AttackerRing(std::unique_ptr<frontend::Frontend> fe, xenstore::Xenstore watcher, UniqueFd stop);
    // Thread: takes events and backend state changes, wakes the waiting calls.
    void listen();
    // Whether the backend left Connected (read on the watcher).
    bool backend_closing();
    // Blocks until listen() saw something after `seen`, or the ring is cut or closed.
    void wait_after(std::unique_lock<std::mutex>& lock, std::uint64_t seen);

    std::unique_ptr<frontend::Frontend> fe_;
    xenstore::Xenstore watcher_;
    UniqueFd stop_;  // eventfd: listen() returns
    std::vector<Ring> rings_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::uint64_t generation_ = 0;  // bumped by listen() on every wake-up
    bool cut_ = false;
    bool closed_ = false;  // the backend closed the device
    std::thread listener_;
};

}  // namespace xen9p::hostile
