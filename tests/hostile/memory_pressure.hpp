// The memory one connection can make xen9pd hold, pressed to its limit and
// held there until destroyed, so that several connections can press at once:
// fids that keep xattr values (Txattrcreate, values written but never
// committed), then every slot filled with max-size Twrite and Tread requests
// whose replies are never read.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>

#include "client/client.hpp"
#include "client/stream_transport.hpp"
#include "tests/hostile/attacks.hpp"

namespace xen9p::hostile {

class MemoryPressure {
  public:
    // Attaches on `transport` with ctx.msize, keeps up to `max_values` 64 KiB
    // values (stopping at the first refusal), then sends requests from a
    // thread until the daemon stops reading them. Call from the test's thread.
    MemoryPressure(std::unique_ptr<client::StreamTransport> transport, const AttackContext& ctx,
                   std::size_t max_values);
    // Cuts the connection and joins the sender.
    ~MemoryPressure();
    MemoryPressure(const MemoryPressure&) = delete;
    MemoryPressure& operator=(const MemoryPressure&) = delete;

    std::size_t values_kept() const { return values_kept_; }
    // The errno of the value refused; 0 when all max_values were kept.
    int refusal() const { return refusal_; }
    std::size_t requests_sent() const { return sent_.load(); }

  private:
    void keep_values(std::size_t max_values);
    void fill_slots();

    int fd_;
    std::unique_ptr<client::Client> client_;
    std::uint32_t msize_ = 0;
    std::size_t values_kept_ = 0;
    int refusal_ = 0;
    std::atomic<std::size_t> sent_{0};
    std::thread sender_;
};

}  // namespace xen9p::hostile
