#include "bench/driver/workloads.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "base/unique_fd.hpp"
#include "bench/driver/random.hpp"

namespace xen9p::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::uint32_t kBlock = 4096;
constexpr double kMiB = 1024.0 * 1024.0;

double since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// What one workload did: the caller turns it into a rate.
struct Sample {
    std::uint64_t ops = 0;
    std::uint64_t bytes = 0;
    double seconds = 0;
};

// 1..16 KiB, fixed per file index.
std::uint32_t small_file_size(unsigned index) {
    return 1024 + static_cast<std::uint32_t>(Random(index + 1).next() % (15 * 1024 + 1));
}

std::vector<std::byte> pattern_buffer(std::size_t size) {
    std::vector<std::byte> buffer(size);
    for (std::size_t i = 0; i < size; ++i)
        buffer[i] = static_cast<std::byte>(i * 31 + 7);
    return buffer;
}

Status write_fully(int fd, std::span<const std::byte> data, off_t offset) {
    while (!data.empty()) {
        ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
        if (n <= 0) return n < 0 ? fail_errno() : fail(EIO);
        data = data.subspan(static_cast<std::size_t>(n));
        offset += n;
    }
    return {};
}

struct Context {
    const WorkloadConfig& config;
    std::string scratch;  // relative to the export root, private to one target
};

Result<Sample> sequential(Fs& fs, const WorkloadConfig& config, IoKind kind) {
    auto file = fs.open(kBigFile, kind == IoKind::kRead ? O_RDONLY : O_WRONLY);
    if (!file) return std::unexpected(file.error());
    // msize-sized requests: what this server agreed to, at most the configured chunk.
    std::uint32_t chunk = std::min(config.chunk, fs.max_io());
    auto buffer = pattern_buffer(chunk);
    std::uint64_t offset = 0;
    std::uint64_t ops = 0;
    NextOp next = [&](IoOp& op) {
        if (offset >= config.big_file_size) return false;
        op.offset = offset;
        op.length = static_cast<std::uint32_t>(
            std::min<std::uint64_t>(chunk, config.big_file_size - offset));
        offset += op.length;
        ++ops;
        return true;
    };
    auto start = Clock::now();
    auto moved = fs.io(*file, kind, next, config.seq_depth, buffer);
    double seconds = since(start);
    (void)fs.close(*file);
    if (!moved) return std::unexpected(moved.error());
    return Sample{ops, *moved, seconds};
}

Result<Sample> random_io(Fs& fs, const WorkloadConfig& config, IoKind kind, unsigned depth) {
    auto file = fs.open(kBigFile, kind == IoKind::kRead ? O_RDONLY : O_WRONLY);
    if (!file) return std::unexpected(file.error());
    auto buffer = pattern_buffer(kBlock);
    Random random(depth * 2 + (kind == IoKind::kRead ? 0 : 1));
    std::uint64_t blocks = config.big_file_size / kBlock;
    std::uint64_t ops = 0;
    auto start = Clock::now();
    NextOp next = [&](IoOp& op) {
        if (since(start) >= config.seconds) return false;
        op.offset = (random.next() % blocks) * kBlock;
        op.length = kBlock;
        ++ops;
        return true;
    };
    auto moved = fs.io(*file, kind, next, depth, buffer);
    double seconds = since(start);
    (void)fs.close(*file);
    if (!moved) return std::unexpected(moved.error());
    return Sample{ops, *moved, seconds};
}

Result<Sample> create_files(Fs& fs, const Context& ctx) {
    auto dir = fs.walk(ctx.scratch);
    if (!dir) return std::unexpected(dir.error());
    Sample sample;
    auto start = Clock::now();
    for (unsigned i = 0; i < ctx.config.metadata_files; ++i) {
        auto file = fs.create(*dir, "f" + std::to_string(i), O_WRONLY | O_EXCL, 0644);
        if (!file) return std::unexpected(file.error());
        if (auto closed = fs.close(*file); !closed) return std::unexpected(closed.error());
        ++sample.ops;
    }
    sample.seconds = since(start);
    (void)fs.close(*dir);
    return sample;
}

Result<Sample> unlink_files(Fs& fs, const Context& ctx) {
    auto dir = fs.walk(ctx.scratch);
    if (!dir) return std::unexpected(dir.error());
    Sample sample;
    auto start = Clock::now();
    for (unsigned i = 0; i < ctx.config.metadata_files; ++i) {
        if (auto gone = fs.unlink(*dir, "f" + std::to_string(i)); !gone) {
            return std::unexpected(gone.error());
        }
        ++sample.ops;
    }
    sample.seconds = since(start);
    (void)fs.close(*dir);
    return sample;
}

Result<Sample> getattr_loop(Fs& fs, const WorkloadConfig& config) {
    auto file = fs.walk(kBigFile);
    if (!file) return std::unexpected(file.error());
    Sample sample;
    auto start = Clock::now();
    while (since(start) < config.seconds) {
        if (auto attr = fs.getattr(*file); !attr) return std::unexpected(attr.error());
        ++sample.ops;
    }
    sample.seconds = since(start);
    (void)fs.close(*file);
    return sample;
}

// Bursts of getattrs at queue depth 1, each after a pause long enough for a
// polling server to stop polling (an interactive guest): what each op costs
// the server in CPU when it must wake for every burst. Only the bursts count
// as time.
Result<Sample> getattr_bursts_loop(Fs& fs, const WorkloadConfig& config) {
    constexpr int kBurst = 100;
    constexpr auto kPause = std::chrono::milliseconds(10);
    auto file = fs.walk(kBigFile);
    if (!file) return std::unexpected(file.error());
    Sample sample;
    auto start = Clock::now();
    while (since(start) < config.seconds) {
        std::this_thread::sleep_for(kPause);
        auto burst = Clock::now();
        for (int i = 0; i < kBurst; ++i) {
            if (auto attr = fs.getattr(*file); !attr) return std::unexpected(attr.error());
        }
        sample.ops += kBurst;
        sample.seconds += since(burst);
    }
    (void)fs.close(*file);
    return sample;
}

// Whole listings (open, read every entry, close) of `path` until the time is
// up; at least one. EIO when a listing has fewer than `at_least` entries.
Result<Sample> list_loop(Fs& fs, const std::string& path, std::uint64_t at_least, double seconds) {
    Sample sample;
    auto start = Clock::now();
    do {
        auto dir = fs.open(path, O_RDONLY | O_DIRECTORY);
        if (!dir) return std::unexpected(dir.error());
        auto entries = fs.readdir(*dir);
        (void)fs.close(*dir);
        if (!entries) return std::unexpected(entries.error());
        if (*entries < at_least) return fail(EIO);
        sample.ops += *entries;
    } while (since(start) < seconds);
    sample.seconds = since(start);
    return sample;
}

// Walks (and releases) the paths `next` yields until the time is up; at least one.
Result<Sample> walk_loop_of(Fs& fs, const std::function<std::string()>& next, double seconds) {
    Sample sample;
    auto start = Clock::now();
    do {
        auto handle = fs.walk(next());
        if (!handle) return std::unexpected(handle.error());
        if (auto closed = fs.close(*handle); !closed) return std::unexpected(closed.error());
        ++sample.ops;
    } while (since(start) < seconds);
    sample.seconds = since(start);
    return sample;
}

Result<Sample> small_files_write(Fs& fs, const Context& ctx) {
    auto dir = fs.walk(ctx.scratch);
    if (!dir) return std::unexpected(dir.error());
    auto buffer = pattern_buffer(16 * 1024);
    Sample sample;
    auto start = Clock::now();
    for (unsigned i = 0; i < ctx.config.small_files; ++i) {
        auto file = fs.create(*dir, "s" + std::to_string(i), O_WRONLY | O_EXCL, 0644);
        if (!file) return std::unexpected(file.error());
        std::uint32_t size = small_file_size(i);
        bool issued = false;
        NextOp one = [&](IoOp& op) {
            if (issued) return false;
            op = {0, size};
            issued = true;
            return true;
        };
        auto moved = fs.io(*file, IoKind::kWrite, one, 1, buffer);
        if (!moved) return std::unexpected(moved.error());
        if (auto closed = fs.close(*file); !closed) return std::unexpected(closed.error());
        sample.bytes += *moved;
        ++sample.ops;
    }
    sample.seconds = since(start);
    (void)fs.close(*dir);
    return sample;
}

Result<Sample> small_files_read(Fs& fs, const Context& ctx) {
    auto buffer = pattern_buffer(16 * 1024);
    Sample sample;
    auto start = Clock::now();
    for (unsigned i = 0; i < ctx.config.small_files; ++i) {
        auto file = fs.open(ctx.scratch + "/s" + std::to_string(i), O_RDONLY);
        if (!file) return std::unexpected(file.error());
        std::uint32_t size = small_file_size(i);
        bool issued = false;
        NextOp one = [&](IoOp& op) {
            if (issued) return false;
            op = {0, size};
            issued = true;
            return true;
        };
        auto moved = fs.io(*file, IoKind::kRead, one, 1, buffer);
        if (!moved) return std::unexpected(moved.error());
        if (auto closed = fs.close(*file); !closed) return std::unexpected(closed.error());
        sample.bytes += *moved;
        ++sample.ops;
    }
    sample.seconds = since(start);
    return sample;
}

// `guests` sessions at once, each reading the big file sequentially (wrapping
// around, its own starting point) for the time budget; the sum of their bytes.
Result<Sample> parallel_read(Target& target, const WorkloadConfig& config, unsigned guests) {
    std::vector<std::unique_ptr<Fs>> sessions;
    std::vector<Handle> files;
    for (unsigned i = 0; i < guests; ++i) {
        auto fs = target.connect(i);
        if (!fs) return std::unexpected(fs.error());
        auto file = (*fs)->open(kBigFile, O_RDONLY);
        if (!file) return std::unexpected(file.error());
        sessions.push_back(std::move(*fs));
        files.push_back(*file);
    }
    std::vector<Result<std::uint64_t>> results(guests, 0);
    std::vector<std::uint64_t> ops(guests, 0);
    std::atomic<bool> go{false};
    auto start = Clock::now();
    {
        std::vector<std::jthread> threads;
        for (unsigned i = 0; i < guests; ++i) {
            threads.emplace_back([&, i] {
                while (!go.load(std::memory_order_acquire))
                    std::this_thread::yield();
                std::uint32_t chunk = std::min(config.chunk, sessions[i]->max_io());
                auto buffer = pattern_buffer(chunk);
                std::uint64_t span = config.big_file_size / chunk * chunk;
                std::uint64_t offset = span / guests * i / chunk * chunk;
                NextOp next = [&](IoOp& op) {
                    if (since(start) >= config.seconds) return false;
                    op = {offset, chunk};
                    offset = (offset + chunk) % span;
                    ++ops[i];
                    return true;
                };
                results[i] =
                    sessions[i]->io(files[i], IoKind::kRead, next, config.seq_depth, buffer);
            });
        }
        start = Clock::now();
        go.store(true, std::memory_order_release);
    }
    Sample sample;
    sample.seconds = since(start);
    for (unsigned i = 0; i < guests; ++i) {
        if (!results[i]) return std::unexpected(results[i].error());
        sample.bytes += *results[i];
        sample.ops += ops[i];
        (void)sessions[i]->close(files[i]);
    }
    return sample;
}

Measurement measure(const std::string& workload, const std::string& target, const std::string& unit,
                    const std::function<Result<Sample>()>& body) {
    Measurement m;
    m.workload = workload;
    m.target = target;
    m.unit = unit;
    auto sample = body();
    if (!sample) {
        m.error = sample.error().message();
        return m;
    }
    m.ops = sample->ops;
    m.bytes = sample->bytes;
    m.seconds = sample->seconds;
    if (m.seconds > 0) {
        m.value = unit == "MiB/s" ? static_cast<double>(m.bytes) / kMiB / m.seconds
                                  : static_cast<double>(m.ops) / m.seconds;
    }
    return m;
}

// Creates (and closes) `count` files in `dir`, timed, then removes them.
Result<Sample> create_in(Fs& fs, const std::string& dir, const std::string& prefix,
                         unsigned count) {
    auto parent = fs.walk(dir);
    if (!parent) return std::unexpected(parent.error());
    Sample sample;
    Status status;
    auto start = Clock::now();
    for (unsigned i = 0; i < count && status; ++i) {
        auto file = fs.create(*parent, prefix + std::to_string(i), O_WRONLY | O_EXCL, 0644);
        status = file ? fs.close(*file) : Status(std::unexpected(file.error()));
        if (status) ++sample.ops;
    }
    sample.seconds = since(start);
    for (unsigned i = 0; i < sample.ops; ++i)
        (void)fs.unlink(*parent, prefix + std::to_string(i));
    (void)fs.close(*parent);
    if (!status) return std::unexpected(status.error());
    return sample;
}

std::string deep_path(unsigned depth) {
    std::string path = kDeepChain;
    for (unsigned i = 1; i < depth; ++i)
        path += "/d";
    return path;
}

}  // namespace

std::string size_name(unsigned size) {
    unsigned power = 0;
    unsigned rest = size;
    while (rest >= 10 && rest % 10 == 0) {
        rest /= 10;
        ++power;
    }
    return rest == 1 && power > 0 ? "1e" + std::to_string(power) : std::to_string(size);
}

std::string scaling_dir(unsigned entries) {
    return "scale-" + std::to_string(entries);
}

Status setup_export(const std::string& dir, const WorkloadConfig& config) {
    std::error_code ec;
    std::filesystem::create_directories(dir + "/" + kDeepPath, ec);
    if (ec) return fail(ec.value());
    std::filesystem::create_directories(dir + "/" + kBigDir, ec);
    if (ec) return fail(ec.value());

    UniqueFd big(::open((dir + "/" + kBigFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!big) return fail_errno();
    if (::ftruncate(big.get(), static_cast<off_t>(config.big_file_size)) != 0) return fail_errno();
    auto block = pattern_buffer(1 << 20);
    std::vector<std::byte> sink(block.size());
    for (std::uint64_t off = 0; off < config.big_file_size; off += block.size()) {
        auto n = std::min<std::uint64_t>(block.size(), config.big_file_size - off);
        if (auto ok = write_fully(big.get(), std::span(block).first(n), static_cast<off_t>(off));
            !ok) {
            return ok;
        }
        if (::pread(big.get(), sink.data(), n, static_cast<off_t>(off)) < 0) return fail_errno();
    }

    UniqueFd bigdir(::open((dir + "/" + kBigDir).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!bigdir) return fail_errno();
    for (unsigned i = 0; i < config.readdir_entries; ++i) {
        auto name = "entry-" + std::to_string(i);
        UniqueFd fd(::openat(bigdir.get(), name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        if (!fd) return fail_errno();
    }

    for (unsigned entries : config.scaling_entries) {
        std::filesystem::create_directories(dir + "/" + scaling_dir(entries), ec);
        if (ec) return fail(ec.value());
        UniqueFd scale(
            ::open((dir + "/" + scaling_dir(entries)).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!scale) return fail_errno();
        for (unsigned i = 0; i < entries; ++i) {
            auto name = "e" + std::to_string(i);
            UniqueFd fd(::openat(scale.get(), name.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
            if (!fd) return fail_errno();
        }
    }
    if (!config.scaling_depths.empty()) {
        const unsigned deepest =
            *std::max_element(config.scaling_depths.begin(), config.scaling_depths.end());
        std::filesystem::create_directories(dir + "/" + deep_path(deepest), ec);
        if (ec) return fail(ec.value());
    }
    return {};
}

Status open_to_all(const std::string& dir) {
    namespace fsys = std::filesystem;
    std::error_code ec;
    fsys::permissions(dir, fsys::perms::all, ec);
    for (auto it = fsys::recursive_directory_iterator(dir, ec);
         !ec && it != fsys::recursive_directory_iterator(); it.increment(ec)) {
        auto mode = it->is_directory() ? fsys::perms::all
                                       : fsys::perms::owner_read | fsys::perms::owner_write |
                                             fsys::perms::group_read | fsys::perms::group_write |
                                             fsys::perms::others_read | fsys::perms::others_write;
        fsys::permissions(it->path(), mode, ec);
    }
    if (ec) return fail(ec.value());
    return {};
}

std::string scratch_dir(const Target& target) {
    return "scratch-" + target.name();
}

Status make_scratch(const std::string& export_dir, const Target& target) {
    const std::string dir = export_dir + "/" + scratch_dir(target);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directory(dir, ec);
    // Writable by the ring's unprivileged workers too.
    if (!ec) std::filesystem::permissions(dir, std::filesystem::perms::all, ec);
    if (ec) return fail(ec.value());
    return {};
}

void remove_scratch(const std::string& export_dir, const Target& target) {
    std::error_code ec;
    std::filesystem::remove_all(export_dir + "/" + scratch_dir(target), ec);
}

std::vector<Workload> workloads(const WorkloadConfig& config) {
    std::vector<Workload> out;
    using Body = std::function<Result<Sample>(Fs&, const Context&)>;
    // One session of the target (a guest's device, a connection) for the body.
    auto add = [&](std::string name, std::string unit, Body body) {
        const auto& only = config.only;
        if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) return;
        out.push_back(
            {name, unit, [&config, name, unit, body](Target& target) -> std::optional<Measurement> {
                 return measure(name, target.name(), unit, [&]() -> Result<Sample> {
                     auto fs = target.connect(0);
                     if (!fs) return std::unexpected(fs.error());
                     return body(**fs, Context{config, scratch_dir(target)});
                 });
             }});
    };

    add("seq_write", "MiB/s",
        [](Fs& fs, const Context& ctx) { return sequential(fs, ctx.config, IoKind::kWrite); });
    add("seq_read", "MiB/s",
        [](Fs& fs, const Context& ctx) { return sequential(fs, ctx.config, IoKind::kRead); });
    for (unsigned depth : {1u, 32u}) {
        auto qd = "_qd" + std::to_string(depth);
        add("rand_read_4k" + qd, "ops/s", [depth](Fs& fs, const Context& ctx) {
            return random_io(fs, ctx.config, IoKind::kRead, depth);
        });
        add("rand_write_4k" + qd, "ops/s", [depth](Fs& fs, const Context& ctx) {
            return random_io(fs, ctx.config, IoKind::kWrite, depth);
        });
    }
    add("create_close", "ops/s", create_files);
    add("getattr", "ops/s",
        [](Fs& fs, const Context& ctx) { return getattr_loop(fs, ctx.config); });
    add("getattr_bursts", "ops/s",
        [](Fs& fs, const Context& ctx) { return getattr_bursts_loop(fs, ctx.config); });
    add("unlink", "ops/s", unlink_files);
    add("walk_5_levels", "ops/s", [](Fs& fs, const Context& ctx) {
        return walk_loop_of(
            fs, [] { return std::string(kDeepPath); }, ctx.config.seconds);
    });
    add("readdir", "entries/s", [](Fs& fs, const Context& ctx) {
        return list_loop(fs, kBigDir, ctx.config.readdir_entries, ctx.config.seconds);
    });
    add("small_files_write", "files/s", small_files_write);
    add("small_files_read", "files/s", small_files_read);
    for (unsigned entries : config.scaling_entries) {
        const auto dir = scaling_dir(entries);
        add("readdir_" + size_name(entries), "entries/s",
            [dir, entries](Fs& fs, const Context& ctx) {
                return list_loop(fs, dir, entries, ctx.config.seconds);
            });
        add("walk_in_" + size_name(entries), "ops/s", [dir, entries](Fs& fs, const Context& ctx) {
            Random random(entries);
            return walk_loop_of(
                fs, [&] { return dir + "/e" + std::to_string(random.next() % entries); },
                ctx.config.seconds);
        });
        add("create_in_" + size_name(entries), "ops/s", [dir](Fs& fs, const Context& ctx) {
            return create_in(fs, dir, ctx.scratch + "-", ctx.config.scaling_creates);
        });
    }
    for (unsigned depth : config.scaling_depths) {
        add("walk_depth_" + std::to_string(depth), "ops/s", [depth](Fs& fs, const Context& ctx) {
            const auto path = deep_path(depth);
            return walk_loop_of(
                fs, [&] { return path; }, ctx.config.seconds);
        });
    }
    for (unsigned guests : config.guests) {
        auto name = "parallel_read_x" + std::to_string(guests);
        const auto& only = config.only;
        if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
        out.push_back(
            {name, "MiB/s", [&config, name, guests](Target& target) -> std::optional<Measurement> {
                 if (guests > target.max_sessions()) return std::nullopt;
                 return measure(name, target.name(), "MiB/s",
                                [&] { return parallel_read(target, config, guests); });
             }});
    }
    return out;
}

std::vector<Measurement> measure_memcpy(const WorkloadConfig& config) {
    std::vector<Measurement> out;
    // 64 MiB goes through DRAM; one request's worth stays in the caches, as the
    // page-cache-to-buffer copy of a pread or a 9P server does.
    for (std::size_t size : {std::size_t{64} << 20, std::size_t{config.chunk}}) {
        std::vector<std::byte> from = pattern_buffer(size);
        std::vector<std::byte> to(size);
        auto name = size == (std::size_t{64} << 20) ? std::string("memcpy_64m")
                                                    : "memcpy_" + std::to_string(size >> 10) + "k";
        out.push_back(measure(name, "memcpy", "MiB/s", [&]() -> Result<Sample> {
            Sample sample;
            std::memcpy(to.data(), from.data(), size);  // fault the pages in before timing
            auto start = Clock::now();
            while (since(start) < config.seconds) {
                for (int i = 0; i < 16; ++i) {
                    std::memcpy(to.data(), from.data(), size);
                    // Keep each copy observable so none can be dropped.
                    from[sample.ops % size] = to[(sample.ops * 7) % size];
                    sample.bytes += size;
                    ++sample.ops;
                }
            }
            sample.seconds = since(start);
            return sample;
        }));
    }
    return out;
}

}  // namespace xen9p::bench
