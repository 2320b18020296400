// The README's demo: starts `xen9pd serve` on a temporary export and lets a
// guest-side 9P client (the same client library the simulated Xen frontend
// uses) do real work on the share, checking every result.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "p9proto/constants.hpp"
#include "p9proto/open_flags.hpp"
#include "xenring/client/client.hpp"
#include "xenring/client/operations.hpp"
#include "xenring/client/owned_reply.hpp"
#include "xenring/client/stream_transport.hpp"

namespace fs = std::filesystem;
namespace proto = xen9p::proto;
using namespace xen9p::client;

namespace {

[[noreturn]] void die(const std::string& what, const xen9p::Errno& e) {
    std::cerr << "demo: " << what << ": " << e.message() << "\n";
    std::exit(1);
}

template <class T>
T check(xen9p::Result<T> r, const std::string& what) {
    if (!r) die(what, r.error());
    return std::move(*r);
}

void check(const xen9p::Status& r, const std::string& what) {
    if (!r) die(what, r.error());
}

template <class R>
R call(Client& c, const proto::RequestBody& body, const std::string& what) {
    auto reply = check(c.call(body), what);
    return *check(expect<R>(reply), what);
}

std::uint32_t fnv1a(std::span<const std::byte> data) {
    std::uint32_t h = 2166136261u;
    for (auto b : data)
        h = (h ^ static_cast<std::uint32_t>(b)) * 16777619u;
    return h;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string daemon = argc > 1 ? argv[1] : XEN9PD_BINARY;
    std::string templ = (fs::temp_directory_path() / "xen9p-demo-XXXXXX").string();
    if (!::mkdtemp(templ.data())) return 1;
    const fs::path dir = templ;
    const fs::path share = dir / "share";
    const fs::path socket = dir / "9p.sock";
    fs::create_directory(share);

    std::cout << "== xen9pd serve --export " << share.string()
              << " --listen unix:" << socket.string() << "\n";
    const pid_t server = ::fork();
    if (server == 0) {
        ::execl(daemon.c_str(), daemon.c_str(), "serve", "--export", share.c_str(), "--listen",
                ("unix:" + socket.string()).c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    for (int i = 0; i < 500 && !fs::exists(socket); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));

    Client c(std::make_unique<StreamTransport>(
        check(StreamTransport::connect_unix(socket.string()), "connect")));
    const auto msize = check(c.negotiate(512 * 1024), "Tversion");
    std::cout << "guest: Tversion 9P2000.L, msize " << msize << "\n";
    check(attach(c, 0, "root", "", 0), "Tattach");
    std::cout << "guest: attached to the share as uid 0\n";

    // A small tree: src/lib with files of odd sizes, written and read back.
    call<proto::Rmkdir>(c, proto::Tmkdir{0, {"src"}, 0755, 0}, "mkdir src");
    std::string_view src[] = {"src"};
    check(walk(c, 0, 1, src), "walk src");
    call<proto::Rmkdir>(c, proto::Tmkdir{1, {"lib"}, 0755, 0}, "mkdir src/lib");
    std::uint32_t total = 0;
    for (int i = 0; i < 8; ++i) {
        const std::string name = "file" + std::to_string(i) + ".c";
        std::vector<std::byte> data(1000 + i * 37777);
        for (std::size_t j = 0; j < data.size(); ++j)
            data[j] = static_cast<std::byte>((j * 131 + i) & 0xff);
        check(walk(c, 1, 2, {}), "clone");
        call<proto::Rlcreate>(c, proto::Tlcreate{2, {name}, proto::dotl::kRdwr, 0644, 0}, "create");
        check(write_all(c, 2, 0, data), "write " + name);
        check(clunk(c, 2), "clunk");
        std::string_view path[] = {name};
        check(walk(c, 1, 3, path), "walk " + name);
        check(lopen(c, 3, proto::dotl::kRdonly), "open " + name);
        auto back = check(read_all(c, 3), "read " + name);
        check(clunk(c, 3), "clunk");
        if (fnv1a(back) != fnv1a(data) || back.size() != data.size()) {
            std::cerr << "demo: " << name << " read back differs\n";
            return 1;
        }
        total += static_cast<std::uint32_t>(data.size());
        std::cout << "guest: wrote and read back src/" << name << " (" << data.size()
                  << " bytes, fnv1a " << std::hex << fnv1a(data) << std::dec << ")\n";
    }
    call<proto::Rrenameat>(c, proto::Trenameat{1, {"file0.c"}, 1, {"main.c"}}, "rename");
    std::cout << "guest: renamed src/file0.c to src/main.c\n";

    check(walk(c, 1, 4, {}), "clone");
    check(lopen(c, 4, proto::dotl::kRdonly | proto::dotl::kDirectory), "opendir");
    auto entries = check(readdir_all(c, 4), "readdir");
    std::cout << "guest: ls src:";
    for (const auto& e : entries)
        std::cout << " " << e.name;
    std::cout << "\n";
    check(clunk(c, 4), "clunk");

    std::string_view main_c[] = {"main.c"};
    check(walk(c, 1, 5, main_c), "walk main.c");
    auto attr = call<proto::Rgetattr>(c, proto::Tgetattr{5, proto::getattr::kAll}, "getattr");
    std::cout << "guest: stat src/main.c: size " << attr.size << " mode " << std::oct
              << (attr.mode & 07777) << std::dec << " nlink " << attr.nlink << "\n";
    check(lopen(c, 5, proto::dotl::kRdwr), "open main.c");
    auto lock = call<proto::Rlock>(
        c, proto::Tlock{5, proto::lock::kWriteLock, 0, 0, 0, 42, {"demo-guest"}}, "lock");
    std::cout << "guest: fcntl write lock on src/main.c: "
              << (lock.status == proto::lock::kStatusSuccess ? "granted" : "not granted") << "\n";
    check(clunk(c, 5), "clunk");

    std::cout << "== on the host, " << share.string() << "/src:\n";
    std::uint64_t host_total = 0;
    for (const auto& e : fs::directory_iterator(share / "src")) {
        std::cout << "   " << e.path().filename().string();
        if (e.is_regular_file()) {
            std::cout << " " << e.file_size();
            host_total += e.file_size();
        }
        std::cout << "\n";
    }
    ::kill(server, SIGTERM);
    int status = 0;
    ::waitpid(server, &status, 0);
    fs::remove_all(dir);
    if (host_total != total) {
        std::cerr << "demo: host sees " << host_total << " bytes, guest wrote " << total << "\n";
        return 1;
    }
    std::cout << "demo: OK (" << total << " bytes written by the guest are on the host)\n";
    return 0;
}
