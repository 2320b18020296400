#include "bench/driver/socket_targets.hpp"

#include <chrono>
#include <thread>

#include "bench/driver/child_process.hpp"
#include "bench/driver/direct_fs.hpp"
#include "bench/driver/ninep_fs.hpp"
#include "client/stream_transport.hpp"

namespace xen9p::bench {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr unsigned kMaxSessions = 16;

class SocketServerTarget final : public Target {
  public:
    SocketServerTarget(std::string name, ChildProcess server, std::string socket, std::string aname,
                       std::uint32_t msize)
        : name_(std::move(name)),
          server_(std::move(server)),
          socket_(std::move(socket)),
          aname_(std::move(aname)),
          msize_(msize) {}

    std::string name() const override { return name_; }
    unsigned max_sessions() const override { return kMaxSessions; }
    int server_pid() const override { return server_.pid(); }

    Result<std::unique_ptr<Fs>> connect(unsigned /*index*/) override {
        auto stream = client::StreamTransport::connect_unix(socket_);
        if (!stream) return std::unexpected(stream.error());
        auto fs = NinepFs::connect(std::make_unique<client::StreamTransport>(std::move(*stream)),
                                   msize_, aname_);
        if (!fs) return std::unexpected(fs.error());
        return std::unique_ptr<Fs>(std::move(*fs));
    }

    // Waits until the server accepts a session (or dies, or the timeout passes).
    Status wait_ready() {
        auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
        for (;;) {
            auto fs = connect(0);
            if (fs) return {};
            if (!server_.running()) return fail(ECHILD);
            if (std::chrono::steady_clock::now() > deadline) return std::unexpected(fs.error());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

  private:
    std::string name_;
    ChildProcess server_;
    std::string socket_;
    std::string aname_;
    std::uint32_t msize_;
};

Result<std::unique_ptr<Target>> start_server(std::string name, const std::vector<std::string>& argv,
                                             const std::string& socket,
                                             const SocketServerConfig& config) {
    auto server = ChildProcess::spawn(argv, config.work_dir + "/" + name + ".log");
    if (!server) return std::unexpected(server.error());
    auto target = std::make_unique<SocketServerTarget>(std::move(name), std::move(*server), socket,
                                                       config.export_dir, config.msize);
    if (auto ready = target->wait_ready(); !ready) return std::unexpected(ready.error());
    return std::unique_ptr<Target>(std::move(target));
}

class DirectTarget final : public Target {
  public:
    explicit DirectTarget(std::string dir) : dir_(std::move(dir)) {}

    std::string name() const override { return "direct"; }
    unsigned max_sessions() const override { return kMaxSessions; }
    Result<std::unique_ptr<Fs>> connect(unsigned /*index*/) override {
        auto fs = DirectFs::open_root(dir_);
        if (!fs) return std::unexpected(fs.error());
        return std::unique_ptr<Fs>(std::move(*fs));
    }

  private:
    std::string dir_;
};

}  // namespace

Result<std::unique_ptr<Target>> start_xen9pd_unix(const SocketServerConfig& config) {
    std::string socket = config.work_dir + "/xen9pd.sock";
    return start_server("xen9pd-unix",
                        // Unconfined, as the diod it is compared with.
                        {config.binary, "serve", "--no-sandbox", "--export", config.export_dir,
                         "--listen", "unix:" + socket, "--log-level", "warning"},
                        socket, config);
}

Result<std::unique_ptr<Target>> start_diod_unix(const SocketServerConfig& config) {
    std::string socket = config.work_dir + "/diod.sock";
    return start_server(
        "diod-unix",
        {config.binary, "-f", "-n", "-l", socket, "-e", config.export_dir, "-L", "stderr"}, socket,
        config);
}

std::unique_ptr<Target> direct_target(const std::string& export_dir) {
    return std::make_unique<DirectTarget>(export_dir);
}

}  // namespace xen9p::bench
