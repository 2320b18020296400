// Writes the seed corpus of fuzz_server: typical client sessions (the
// project's 9P client, as a mount would drive it) recorded as the fuzzer's
// frames while they run against a real Session on a temporary export.
// Usage: make_server_corpus <corpus directory>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/fs/export.hpp"
#include "backend/io/event_loop.hpp"
#include "backend/log/log.hpp"
#include "client/client.hpp"
#include "client/operations.hpp"
#include "p9proto/open_flags.hpp"
#include "p9proto/u_stat.hpp"
#include "tests/fuzz/fuzz_export.hpp"
#include "tests/fuzz/loopback_session.hpp"

namespace {

using namespace xen9p;
namespace p = xen9p::p9proto;

constexpr std::uint32_t kMsize = 8192;  // frames stay below the 64 KiB of len[2]

// Client side of the loopback session; appends every request as a frame.
class RecordingTransport final : public client::ClientTransport {
  public:
    RecordingTransport(fuzz::LoopbackSession& session, std::vector<std::byte>& record)
        : session_(session), record_(record) {}

    Status send(const client::OutgoingMessage& message) override {
        const std::size_t n = message.bytes.size();
        record_.push_back(static_cast<std::byte>(n & 0xff));
        record_.push_back(static_cast<std::byte>(n >> 8));
        record_.push_back(std::byte{1});
        record_.insert(record_.end(), message.bytes.begin(), message.bytes.end());
        if (!session_.deliver(message.bytes)) return fail(ECONNRESET);
        session_.drain();
        return {};
    }

    Result<std::vector<std::byte>> receive(std::size_t) override {
        auto& replies = session_.replies();
        if (replies.empty()) return fail(ECONNRESET);
        auto bytes = std::move(replies.front().bytes);
        replies.pop_front();
        return bytes;
    }

    std::uint32_t max_msize() const override { return kMsize; }

  private:
    fuzz::LoopbackSession& session_;
    std::vector<std::byte>& record_;
};

using Scenario = std::function<void(client::Client&)>;

// The aname is "" (the export), as the temporary path differs per run.
// Each step's result is ignored: the recording is the point, and errors
// (ENOENT, EBADF) are traffic the fuzzer should see too.
void attach(client::Client& c) {
    (void)client::attach(c, 1, "root", "", 0);
}

std::vector<std::string_view> names(std::initializer_list<std::string_view> list) {
    return list;
}

void read_file(client::Client& c) {
    attach(c);
    (void)c.call(p::Tgetattr{1, p::getattr::kBasic});
    (void)client::walk(c, 1, 2, names({"file"}));
    (void)client::lopen(c, 2, p::dotl::kRdonly);
    (void)client::read_all(c, 2);
    (void)client::clunk(c, 2);
    (void)c.call(p::Tstatfs{1});
}

void write_file(client::Client& c) {
    attach(c);
    (void)client::walk(c, 1, 2, names({"dir"}));
    (void)c.call(p::Tlcreate{2, {"new"}, p::dotl::kRdwr | p::dotl::kCreate, 0644, 0});
    const std::string text = "some bytes for the new file";
    (void)client::write_all(c, 2, 0, std::as_bytes(std::span(text)));
    (void)c.call(p::Tfsync{2, 0});
    (void)c.call(p::Tread{2, 0, 64});
    p::Tsetattr truncate{};
    truncate.fid = 2;
    truncate.valid = p::setattr::kSize | p::setattr::kMode;
    truncate.size = 4;
    truncate.mode = 0600;
    (void)c.call(truncate);
    (void)client::clunk(c, 2);
}

void list_dirs(client::Client& c) {
    attach(c);
    (void)client::walk(c, 1, 2, names({}));
    (void)client::lopen(c, 2, p::dotl::kRdonly | p::dotl::kDirectory);
    (void)client::readdir_all(c, 2);
    (void)c.call(p::Treaddir{2, 0, 40});
    (void)client::clunk(c, 2);
    (void)client::walk(c, 1, 3, names({"dir", "sub"}));
    (void)client::lopen(c, 3, p::dotl::kRdonly | p::dotl::kDirectory);
    (void)client::readdir_all(c, 3, 64);
    (void)client::clunk(c, 3);
}

void change_names(client::Client& c) {
    attach(c);
    (void)c.call(p::Tmkdir{1, {"made"}, 0755, 0});
    (void)c.call(p::Tsymlink{1, {"sym"}, {"made"}, 0});
    (void)client::walk(c, 1, 2, names({"sym"}));
    (void)c.call(p::Treadlink{2});
    (void)client::walk(c, 1, 3, names({"file"}));
    (void)c.call(p::Tlink{1, 3, {"hard"}});
    (void)c.call(p::Trenameat{1, {"hard"}, 1, {"moved"}});
    (void)client::walk(c, 1, 4, names({"moved"}));
    (void)c.call(p::Trename{4, 1, {"again"}});
    (void)c.call(p::Tmknod{1, {"fifo"}, S_IFIFO | 0644, 0, 0, 0});
    (void)c.call(p::Tunlinkat{1, {"made"}, p::kAtRemoveDir});
    (void)c.call(p::Tremove{4});
    (void)client::clunk(c, 2);
    (void)client::clunk(c, 3);
}

void xattrs(client::Client& c) {
    attach(c);
    (void)client::walk(c, 1, 2, names({"file"}));
    (void)c.call(p::Txattrcreate{2, {"user.seed"}, 5, 0});
    const std::string value = "value";
    (void)c.call(p::Twrite{2, 0, {std::as_bytes(std::span(value))}});
    (void)client::clunk(c, 2);
    (void)c.call(p::Txattrwalk{1, 3, {""}});
    (void)c.call(p::Tread{3, 0, 256});
    (void)client::clunk(c, 3);
    (void)client::walk(c, 1, 4, names({"file"}));
    (void)c.call(p::Txattrwalk{4, 5, {"user.seed"}});
    (void)c.call(p::Tread{5, 0, 64});
    (void)client::clunk(c, 5);
    (void)client::clunk(c, 4);
}

void locks(client::Client& c) {
    attach(c);
    (void)client::walk(c, 1, 2, names({"file"}));
    (void)client::lopen(c, 2, p::dotl::kRdwr);
    (void)c.call(p::Tlock{2, p::lock::kWriteLock, 0, 0, 10, 42, {"guest"}});
    (void)c.call(p::Tgetlock{2, p::lock::kReadLock, 0, 0, 7, {"other"}});
    (void)c.call(p::Tlock{2, p::lock::kUnlock, 0, 0, 10, 42, {"guest"}});
    (void)client::clunk(c, 2);
}

void walks(client::Client& c) {
    attach(c);
    (void)client::walk(c, 1, 2, names({"..", "..", "dir"}));
    (void)client::walk(c, 1, 3, names({"escape"}));
    (void)client::walk(c, 1, 4, names({"link"}));
    (void)client::lopen(c, 4, p::dotl::kRdonly);
    (void)client::walk(c, 1, 5, names({"dir", "sub", "deep"}));
    (void)client::walk(c, 1, 6, names({"dir", ".", "sub", "..", "sub", "deep", "missing"}));
    (void)client::walk(c, 1, 7,
                       names({"dir", "sub", "..", "sub", "..", "sub", "..", "sub", "..", "sub",
                              "..", "sub", "..", "sub", "..", "sub"}));
    (void)client::walk(c, 9, 10, names({"dir"}));
    (void)client::clunk(c, 9);
    (void)client::clunk(c, 1);
    (void)client::clunk(c, 1);
}

// 9P2000.u sessions (the scenario's name ends in "-u": negotiated as .u).
void u_files(client::Client& c) {
    attach(c);
    (void)c.call(p::Tstat{1});
    (void)client::walk(c, 1, 2, names({"file"}));
    (void)c.call(p::Topen{2, p::omode::kRdwr});
    const std::string text = "u bytes";
    (void)client::write_all(c, 2, 0, std::as_bytes(std::span(text)));
    (void)c.call(p::Tread{2, 0, 64});
    (void)c.call(p::Twstat{2, {p::blank_wstat()}});
    (void)client::clunk(c, 2);
    (void)client::walk(c, 1, 3, names({"dir"}));
    (void)c.call(p::Tcreate{3, {"new"}, 0644, p::omode::kRdwr | p::omode::kTrunc, {""}});
    (void)c.call(p::Tstat{3});
    p::UStat change = p::blank_wstat();
    change.mode = 0600;
    change.length = 2;
    change.mtime = 1000;
    change.name = p::Text{"renamed"};
    (void)c.call(p::Twstat{3, {change}});
    (void)c.call(p::Tremove{3});
    (void)client::walk(c, 1, 4, names({}));
    (void)c.call(p::Topen{4, p::omode::kRead});
    (void)c.call(p::Tread{4, 0, 300});
    (void)c.call(p::Tread{4, 0, 8192});
    (void)client::clunk(c, 4);
}

void u_entries(client::Client& c) {
    attach(c);
    (void)client::walk(c, 1, 2, names({}));
    (void)c.call(p::Tcreate{2, {"made"}, p::dm::kDir | 0755, p::omode::kRead, {""}});
    (void)c.call(p::Tread{2, 0, 1024});
    (void)client::walk(c, 1, 3, names({}));
    (void)c.call(p::Tcreate{3, {"sym"}, p::dm::kSymlink | 0777, 0, {"made"}});
    (void)c.call(p::Tstat{3});
    (void)client::walk(c, 1, 4, names({"file"}));
    (void)client::walk(c, 1, 5, names({}));
    (void)c.call(p::Tcreate{5, {"hard"}, p::dm::kLink, 0, {"4\n"}});
    (void)client::walk(c, 1, 6, names({}));
    (void)c.call(p::Tcreate{6, {"dev"}, p::dm::kDevice | 0600, 0, {"c 1 3"}});
    (void)client::walk(c, 1, 7, names({}));
    (void)c.call(p::Tcreate{7, {"fifo"}, p::dm::kNamedPipe | 0600, 0, {""}});
    (void)client::walk(c, 1, 8, names({}));
    (void)c.call(p::Tcreate{8, {"tmp"}, 0600, p::omode::kRdwr | p::omode::kRclose, {""}});
    (void)client::clunk(c, 8);
    (void)c.call(p::Tgetattr{1, p::getattr::kBasic});
}

void flush(client::Client& c) {
    attach(c);
    (void)client::walk(c, 1, 2, names({"file"}));
    (void)client::lopen(c, 2, p::dotl::kRdonly);
    auto tag = c.send(p::Tread{2, 0, 4096});
    if (tag) (void)c.flush(*tag);
    (void)c.call(p::Tflush{77});
    (void)client::clunk(c, 2);
}

bool record(const std::filesystem::path& file, std::uint8_t config_byte, const Scenario& run) {
    fuzz::FuzzExport tree;
    fs::ExportConfig config;
    constexpr fs::SecurityModel kModels[] = {
        fs::SecurityModel::kNone, fs::SecurityModel::kPassthrough, fs::SecurityModel::kMappedXattr};
    config.model = kModels[config_byte % 3];
    config.read_only = (config_byte & 4) != 0;
    auto ex = fs::Export::open(tree.path(), config);
    auto loop = io::EventLoop::create(64);
    if (!ex || !loop) return false;
    std::vector<std::byte> bytes{std::byte{config_byte}};
    {
        fuzz::LoopbackSession session(*loop, *ex, {.aname = tree.path()}, 65536 + 24);
        client::Client c(std::make_unique<RecordingTransport>(session, bytes));
        const bool dotu = file.filename().string().find("-u-") != std::string::npos;
        if (!c.negotiate(kMsize, dotu ? p::kVersion9P2000u : p::kVersion9P2000L)) return false;
        run(c);
    }
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
        return 2;
    }
    log::set_level(log::Level::kError);
    const std::filesystem::path dir = argv[1];
    const std::pair<const char*, Scenario> scenarios[] = {
        {"read-file", read_file}, {"write-file", write_file},
        {"list-dirs", list_dirs}, {"change-names", change_names},
        {"xattrs", xattrs},       {"locks", locks},
        {"walks", walks},         {"flush", flush},
        {"files-u", u_files},     {"entries-u", u_entries},
    };
    const std::pair<const char*, std::uint8_t> configs[] = {
        {"none", 0}, {"passthrough", 1}, {"mapped", 2}, {"readonly", 4}};
    for (const auto& [name, run] : scenarios) {
        for (const auto& [config_name, byte] : configs) {
            if (!record(dir / (std::string(name) + "-" + config_name), byte, run)) {
                std::fprintf(stderr, "recording %s-%s failed\n", name, config_name);
                return 1;
            }
        }
    }
    return 0;
}
