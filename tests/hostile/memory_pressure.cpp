#include "tests/hostile/memory_pressure.hpp"

#include <sys/socket.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "client/operations.hpp"
#include "p9proto/codec.hpp"
#include "p9proto/open_flags.hpp"

namespace xen9p::hostile {
namespace {

namespace p = xen9p::p9proto;

constexpr std::uint32_t kRoot = 0;
constexpr std::uint32_t kFile = 1;
constexpr std::uint32_t kFirstValueFid = 100;
constexpr std::size_t kValueSize = 64 * 1024;  // the largest xattr value Linux allows

// For the sender thread: no Boost.Test there.
std::vector<std::byte> encode(std::uint16_t tag, const p::RequestBody& body) {
    const p::Request request{tag, body};
    std::vector<std::byte> out(p::encoded_size(request));
    if (!p::encode(request, out)) std::abort();
    return out;
}

}  // namespace

MemoryPressure::MemoryPressure(std::unique_ptr<client::StreamTransport> transport,
                               const AttackContext& ctx, std::size_t max_values)
    : fd_(transport->fd()), client_(std::make_unique<client::Client>(std::move(transport))) {
    auto msize = client_->negotiate(ctx.msize);
    BOOST_REQUIRE(msize.has_value());
    msize_ = *msize;
    BOOST_REQUIRE(client::attach(*client_, kRoot, "root", "", 0).has_value());
    keep_values(max_values);
    fill_slots();
}

MemoryPressure::~MemoryPressure() {
    ::shutdown(fd_, SHUT_RDWR);
    if (sender_.joinable()) sender_.join();
}

void MemoryPressure::keep_values(std::size_t max_values) {
    const std::vector<std::byte> value(kValueSize - 1, std::byte{'v'});
    for (std::size_t i = 0; i < max_values; ++i) {
        const auto fid = static_cast<std::uint32_t>(kFirstValueFid + i);
        BOOST_REQUIRE(client::walk(*client_, kRoot, fid, {}).has_value());
        // One byte more than is written: the value stays pending until clunk.
        auto created = client_->call(p::Txattrcreate{fid, {"user.pinned"}, kValueSize, 0});
        BOOST_REQUIRE(created.has_value());
        if (auto r = client::expect<p::Rxattrcreate>(*created); !r) {
            refusal_ = r.error().value;
            return;
        }
        auto written = client_->call(p::Twrite{fid, 0, {value}});
        BOOST_REQUIRE(written.has_value());
        BOOST_REQUIRE(client::expect<p::Rwrite>(*written).has_value());
        ++values_kept_;
    }
}

void MemoryPressure::fill_slots() {
    BOOST_REQUIRE(client::walk(*client_, kRoot, kFile, {}).has_value());
    auto created = client_->call(
        p::Tlcreate{kFile, {"pressure" + std::to_string(fd_)}, p::dotl::kRdwr, 0644, 0});
    BOOST_REQUIRE(created.has_value());
    BOOST_REQUIRE(client::expect<p::Rlcreate>(*created).has_value());
    const std::uint32_t payload = msize_ - static_cast<std::uint32_t>(p::kIoHeaderSize);
    // Twrite fills request buffers, Tread reply buffers; nothing is ever read.
    sender_ = std::thread([this, payload] {
        const std::vector<std::byte> block(payload, std::byte{'w'});
        auto& t = client_->transport();
        for (std::uint32_t i = 0; i < 0xfff0; ++i) {
            const auto tag = static_cast<std::uint16_t>(i);
            const auto bytes = i % 2 == 0 ? encode(tag, p::Twrite{kFile, 0, {block}})
                                          : encode(tag, p::Tread{kFile, 0, payload});
            if (!t.send({tag, bytes})) return;
            sent_ = i + 1;
        }
    });
    // Until the sender has stalled: the daemon stopped reading.
    std::size_t last = 0;
    for (int quiet = 0; quiet < 20;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        const std::size_t now = sent_.load();
        quiet = now == last ? quiet + 1 : 0;
        last = now;
    }
}

}  // namespace xen9p::hostile
