// libFuzzer target: sequences of T-messages against a real server::Session on
// a fresh temporary export. Input: one configuration byte (security model,
// read-only), then frames of len[2] flags[1] bytes[len]; size[4] of each
// frame is set to its length (the transport's framing), flag bit 0 runs the
// session until idle before the next frame. Checked after every input: every
// reply decodes (in 9P2000.L or 9P2000.u) and fits the msize in force, the session ends, no fd is
// left open, and nothing next to the export changed.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/log/log.hpp"
#include "p9proto/codec.hpp"
#include "tests/fuzz/fuzz_export.hpp"
#include "tests/fuzz/loopback_session.hpp"

namespace {

using namespace xen9p;

constexpr std::uint32_t kMaxMsize = 65536 + 24;

void require(bool condition, const char* what) {
    if (condition) return;
    std::fprintf(stderr, "server_fuzz: invariant broken: %s\n", what);
    std::abort();
}

// The open fds and what they are, one per line. Anonymous pipes are left
// out: the sanitizer's symbolizer process (started when libFuzzer first prints
// a function) talks over them; the server never opens one.
std::string open_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    require(d != nullptr, "cannot list /proc/self/fd");
    std::vector<std::string> lines;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.' || std::atoi(e->d_name) == ::dirfd(d)) continue;
        char target[512] = {};
        const std::string link = std::string("/proc/self/fd/") + e->d_name;
        const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
        if (std::string_view(target).starts_with("pipe:")) continue;
        lines.push_back(std::string(e->d_name) + " -> " + (n > 0 ? target : "?"));
    }
    ::closedir(d);
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (const auto& line : lines)
        out += line + "\n";
    return out;
}

struct World {
    fuzz::FuzzExport tree;
    io::EventLoop loop;
    std::string fds;
};

io::EventLoop make_loop() {
    log::set_level(log::Level::kError);
    auto loop = io::EventLoop::create(64);
    require(loop.has_value(), "io_uring unavailable");
    return std::move(*loop);
}

// A static object, so that a run that ends normally removes the export.
World& world() {
    // Members are initialised in order: the fd baseline includes the loop's ring.
    static World w{fuzz::FuzzExport(), make_loop(), open_fds()};
    return w;
}

void check_replies(fuzz::LoopbackSession& session) {
    for (const auto& reply : session.replies()) {
        require(reply.bytes.size() <= reply.limit, "reply above msize");
        // In the dialect the session agreed (the harness does not track it).
        require(p9proto::decode_reply(reply.bytes, reply.limit).has_value() ||
                    p9proto::decode_reply(reply.bytes, reply.limit, p9proto::Dialect::k9P2000u)
                        .has_value(),
                "reply does not decode");
    }
    session.replies().clear();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    World& w = world();
    w.tree.reset();
    fs::ExportConfig config;
    constexpr fs::SecurityModel kModels[] = {
        fs::SecurityModel::kNone, fs::SecurityModel::kPassthrough, fs::SecurityModel::kMappedXattr};
    config.model = kModels[data[0] % 3];
    config.read_only = (data[0] & 4) != 0;
    {
        auto ex = fs::Export::open(w.tree.path(), config);
        require(ex.has_value(), "cannot open the export");
        server::SessionConfig limits{.aname = w.tree.path(), .max_fids = 64, .max_in_flight = 8};
        fuzz::LoopbackSession session(w.loop, *ex, limits, kMaxMsize);
        std::vector<std::byte> frame;
        for (std::size_t at = 1; at + 3 <= size;) {
            const std::size_t len =
                std::min<std::size_t>(data[at] | data[at + 1] << 8, size - at - 3);
            const bool drain = (data[at + 2] & 1) != 0;
            at += 3;
            frame.assign(reinterpret_cast<const std::byte*>(data + at),
                         reinterpret_cast<const std::byte*>(data + at + len));
            at += len;
            for (std::size_t i = 0; i < 4 && i < len; ++i)
                frame[i] = static_cast<std::byte>(len >> (8 * i));
            if (!session.deliver(frame)) break;
            if (drain) session.drain();
            check_replies(session);
        }
        session.drain();
        check_replies(session);
        require(session.finish(), "session did not finish");
    }
    if (const std::string fds = open_fds(); fds != w.fds) {
        std::fprintf(stderr, "fds before:\n%safter:\n%s", w.fds.c_str(), fds.c_str());
        require(false, "fd leaked");
    }
    const std::string changed = w.tree.outside_changes();
    if (!changed.empty()) std::fprintf(stderr, "%s", changed.c_str());
    require(changed.empty(), "something outside the export changed");
    return 0;
}
