// Shared helpers of the server tests: a temporary export served by a Server on
// its own thread and event loop behind a unix socket listener, and clients
// connected to it through the 9P client library.
#pragma once

#include <fcntl.h>
#include <ftw.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/server/server.hpp"
#include "backend/transport/listener.hpp"
#include "base/unique_fd.hpp"
#include "client/client.hpp"
#include "client/operations.hpp"
#include "client/stream_transport.hpp"

namespace xen9p::server::test {

// A directory removed (recursively) on destruction.
class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/xen9p_server_XXXXXX";
        BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
        path_ = tmpl;
    }
    ~TempDir() {
        ::nftw(
            path_.c_str(),
            [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 64,
            FTW_DEPTH | FTW_PHYS);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string operator/(std::string_view rel) const { return path_ + "/" + std::string(rel); }

  private:
    std::string path_;
};

template <class T>
T must(Result<T> r) {
    BOOST_REQUIRE_MESSAGE(r.has_value(), "unexpected error: " << r.error().value);
    return std::move(*r);
}
inline void must(Status s) {
    BOOST_REQUIRE_MESSAGE(s.has_value(), "unexpected error: " << s.error().value);
}
template <class T>
int err(const Result<T>& r) {
    return r.has_value() ? 0 : r.error().value;
}
inline int err(const Status& s) {
    return s.has_value() ? 0 : s.error().value;
}

inline void write_file(const std::string& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out << content;
    BOOST_REQUIRE(out.good());
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A Server on its own thread exporting top/export over top/sock.
class SocketServer {
  public:
    // Listens on top/sock, or on a free TCP port of 127.0.0.1 when `tcp`.
    explicit SocketServer(fs::ExportConfig export_config = {}, SessionConfig session = {},
                          bool tcp = false)
        : export_(top_ / "export"),
          socket_(top_ / "sock"),
          tcp_(tcp),
          stop_(::eventfd(0, EFD_CLOEXEC)) {
        BOOST_REQUIRE(stop_);
        BOOST_REQUIRE(::mkdir(export_.c_str(), 0755) == 0);
        session.aname = export_;
        std::promise<int> ready;
        auto started = ready.get_future();
        thread_ = std::thread(
            [this, export_config, session, &ready] { serve(export_config, session, ready); });
        int status = started.get();
        if (status != 0) thread_.join();
        BOOST_REQUIRE_MESSAGE(status == 0, "server did not start: errno " << status);
    }

    ~SocketServer() { stop(); }

    // Stops the server thread (after its sessions end); idempotent.
    void stop() {
        if (!thread_.joinable()) return;
        std::uint64_t one = 1;
        if (::write(stop_.get(), &one, sizeof one) != sizeof one) std::abort();
        thread_.join();
    }
    SocketServer(const SocketServer&) = delete;
    SocketServer& operator=(const SocketServer&) = delete;

    const std::string& root() const { return export_; }
    std::string operator/(std::string_view rel) const { return export_ + "/" + std::string(rel); }
    const std::string& socket_path() const { return socket_; }
    const std::string& aname() const { return export_; }
    // Most requests one session held at once (valid after stop()).
    std::size_t max_in_flight() const { return max_in_flight_.load(); }

    std::unique_ptr<client::Client> connect(std::uint32_t msize = client::kDefaultMsize,
                                            std::string_view version = p9proto::kVersion9P2000L) {
        auto transport = tcp_ ? must(client::StreamTransport::connect_tcp("127.0.0.1", port_))
                              : must(client::StreamTransport::connect_unix(socket_));
        auto c = std::make_unique<client::Client>(
            std::make_unique<client::StreamTransport>(std::move(transport)));
        must(c->negotiate(msize, version));
        return c;
    }

    // A client attached as `fid` 1 (with the server's own uid).
    std::unique_ptr<client::Client> attached(std::uint32_t msize = client::kDefaultMsize,
                                             std::string_view version = p9proto::kVersion9P2000L,
                                             std::uint32_t uid = ::getuid()) {
        auto c = connect(msize, version);
        must(client::attach(*c, 1, "", export_, uid));
        return c;
    }

  private:
    void serve(fs::ExportConfig export_config, SessionConfig session, std::promise<int>& ready) {
        auto ex = fs::Export::open(export_, export_config);
        if (!ex) return ready.set_value(ex.error().value);
        auto loop = io::EventLoop::create();
        if (!loop) return ready.set_value(loop.error().value);
        Server server(*loop, *ex, session);
        auto address =
            transport::ListenAddress::parse(tcp_ ? "tcp:127.0.0.1:0" : "unix:" + socket_);
        if (!address) return ready.set_value(address.error().value);
        auto listener = transport::Listener::open(
            *loop, *address, 1024 * 1024 + 24,
            [&server](std::unique_ptr<Transport> transport) { server.add(std::move(transport)); },
            std::make_shared<log::RateLimiter>());
        if (!listener) return ready.set_value(listener.error().value);
        port_ = (*listener)->port();
        ready.set_value(0);
        auto ran = server.run(stop_.get());
        max_in_flight_ = server.max_in_flight();
        if (!ran) std::abort();
    }

    TempDir top_;
    std::string export_;
    std::string socket_;
    bool tcp_ = false;
    std::uint16_t port_ = 0;
    UniqueFd stop_;
    std::atomic<std::size_t> max_in_flight_{0};
    std::thread thread_;
};

// Walks `names` from fid 1 to `newfid`.
inline Result<std::vector<p9proto::Qid>> walk(client::Client& c, std::uint32_t newfid,
                                              std::vector<std::string_view> names,
                                              std::uint32_t from = 1) {
    return client::walk(c, from, newfid, names);
}

// Sends `body` and returns its reply as R (Rlerror as its errno).
template <class R>
Result<R> call(client::Client& c, const p9proto::RequestBody& body) {
    auto reply = c.call(body);
    if (!reply) return std::unexpected(reply.error());
    auto r = client::expect<R>(*reply);
    if (!r) return std::unexpected(r.error());
    return **r;
}

}  // namespace xen9p::server::test
