// xen9p-restart-stall: the pause a guest sees when its device's server is
// killed under load (issue 17). On the simulated Xen, each guest in turn
// keeps `depth` requests in flight (4 KiB reads and writes of one file,
// getattrs), every reply checked, while its server is killed (SIGKILL) a few
// times; the stall of a kill is the longest wait between two replies after
// it. The baseline is the same measure over the same load without a kill,
// taken in the same run before the first kill of each guest. A device
// closes after 5 deaths within 60 s, so the kills are spread over guests.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "base/parse_number.hpp"
#include "client/client.hpp"
#include "client/operations.hpp"
#include "p9proto/open_flags.hpp"
#include "tests/simxen/sim_xen.hpp"

namespace xen9p::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;

struct Options {
    unsigned guests = 13;
    unsigned kills_per_guest = 4;  // below the crash-loop bound of 5 per 60 s
    unsigned depth = 16;
    Millis baseline{1000};
    Millis between_kills{300};
};

constexpr std::size_t kFileSize = 1 << 20;
constexpr std::uint32_t kBlock = 4096;

std::byte pattern(std::size_t offset) {
    return static_cast<std::byte>((offset * 7) % 251);
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "xen9p-restart-stall: %s\n", what.c_str());
    std::exit(1);
}

template <class T>
T must(Result<T> r, const char* what) {
    if (!r) die(std::string(what) + ": " + r.error().message());
    return std::move(*r);
}

void must(const Status& s, const char* what) {
    if (!s) die(std::string(what) + ": " + s.error().message());
}

// The device's server: the worker's child.
std::optional<pid_t> server_of(simxen::SimXen& sim, DomId domid) {
    auto status = sim.daemon_status();
    if (!status) return std::nullopt;
    auto worker = simxen::worker_pid(*status, domid);
    if (!worker) return std::nullopt;
    const auto w = std::to_string(*worker);
    std::ifstream children("/proc/" + w + "/task/" + w + "/children");
    pid_t pid = 0;
    if (!(children >> pid) || simxen::proc_status_field(pid, "Seccomp") != "2") return std::nullopt;
    return pid;
}

// One guest's load: requests kept in flight, replies checked and timed.
class Load {
  public:
    Load(client::Client& c, unsigned depth) : c_(c), depth_(depth) { block_.resize(kBlock); }

    // Runs until `until`, calling `tick` after each reply.
    template <class F>
    void run(Clock::time_point until, F&& tick) {
        while (Clock::now() < until) {
            while (in_flight_.size() < depth_)
                send_next();
            auto [tag, kind, offset] = in_flight_.front();
            in_flight_.pop_front();
            auto reply = must(c_.await(tag), "reply");
            check(reply, kind, offset);
            replies_.push_back(Clock::now());
            tick();
        }
    }
    // Answers what is still in flight.
    void drain() {
        while (!in_flight_.empty()) {
            auto [tag, kind, offset] = in_flight_.front();
            in_flight_.pop_front();
            check(must(c_.await(tag), "reply"), kind, offset);
        }
    }
    // The longest wait between two replies within [from, to).
    Millis longest_gap(Clock::time_point from, Clock::time_point to) const {
        Millis longest{0};
        Clock::time_point last = from;
        for (const auto t : replies_) {
            if (t < from) continue;
            if (t >= to) break;
            longest = std::max(longest, Millis(t - last));
            last = t;
        }
        return longest;
    }

  private:
    enum class Kind { kRead, kWrite, kGetattr };
    struct Pending {
        std::uint16_t tag;
        Kind kind;
        std::uint64_t offset;
    };

    void send_next() {
        const std::uint64_t offset = (next_ * kBlock) % kFileSize;
        const auto kind = static_cast<Kind>(next_ % 3);
        ++next_;
        std::uint16_t tag = 0;
        if (kind == Kind::kRead) {
            tag = must(c_.send(p9proto::Tread{1, offset, kBlock}), "send");
        } else if (kind == Kind::kWrite) {
            for (std::size_t i = 0; i < kBlock; ++i)
                block_[i] = pattern(offset + i);
            tag = must(c_.send(p9proto::Twrite{1, offset, {block_}}), "send");
        } else {
            tag = must(c_.send(p9proto::Tgetattr{1, p9proto::getattr::kBasic}), "send");
        }
        in_flight_.push_back({tag, kind, offset});
    }

    void check(const client::OwnedReply& reply, Kind kind, std::uint64_t offset) {
        if (kind == Kind::kRead) {
            const auto* read = must(client::expect<p9proto::Rread>(reply), "read");
            if (read->data.bytes.size() != kBlock) die("short read");
            for (std::size_t i = 0; i < kBlock; ++i)
                if (read->data.bytes[i] != pattern(offset + i)) die("read wrong data");
        } else if (kind == Kind::kWrite) {
            if (must(client::expect<p9proto::Rwrite>(reply), "write")->count != kBlock)
                die("short write");
        } else if (must(client::expect<p9proto::Rgetattr>(reply), "getattr")->size != kFileSize) {
            die("getattr: wrong size");
        }
    }

    client::Client& c_;
    unsigned depth_;
    std::vector<std::byte> block_;
    std::deque<Pending> in_flight_;
    std::uint64_t next_ = 0;
    std::vector<Clock::time_point> replies_;
};

Millis percentile(std::vector<Millis> values, double p) {
    std::sort(values.begin(), values.end());
    const auto at = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
    return values[at];
}

int run(const Options& o) {
    auto sim = must(simxen::SimXen::start({XEN9P_BENCH_SIM, XEN9P_BENCH_XEN9PD}), "xen9p-sim");
    must(sim->start_daemon({"--log-level", "warning"}), "xen9pd");
    std::vector<Millis> stalls;
    std::vector<Millis> baselines;
    for (DomId domid = 1; domid <= o.guests; ++domid) {
        must(sim->toolstack().create_domain(domid, "guest" + std::to_string(domid)), "domain");
        const auto share = must(sim->make_export("share" + std::to_string(domid), domid), "export");
        {
            std::vector<std::byte> content(kFileSize);
            for (std::size_t i = 0; i < kFileSize; ++i)
                content[i] = pattern(i);
            std::ofstream f(share / "f", std::ios::binary);
            f.write(reinterpret_cast<const char*>(content.data()), kFileSize);
        }
        if (::chown((share / "f").c_str(), simxen::kUidRangeBase + domid,
                    simxen::kUidRangeBase + domid) != 0)
            die("chown: " + std::string(std::strerror(errno)));
        sim::P9Device device;
        device.domid = domid;
        device.tag = "share";
        device.path = share.string();
        must(sim->toolstack().add_9pfs(device), "device");
        client::Client c(must(sim->connect(domid, 0), "connect"));
        must(c.negotiate(), "version");
        must(client::attach(c, 0, "root", "", 0), "attach");
        std::string_view f[] = {"f"};
        must(client::walk(c, 0, 1, f), "walk");
        must(client::lopen(c, 1, p9proto::dotl::kRdwr), "open");

        Load load(c, o.depth);
        const auto start = Clock::now();
        load.run(start + std::chrono::duration_cast<Clock::duration>(o.baseline), [] {});
        baselines.push_back(
            load.longest_gap(start + std::chrono::milliseconds(100),
                             start + std::chrono::duration_cast<Clock::duration>(o.baseline)));
        std::optional<pid_t> killed;
        for (unsigned k = 0; k < o.kills_per_guest; ++k) {
            std::optional<pid_t> server;
            // Under load, the next server is up once it answers again.
            const auto deadline = Clock::now() + std::chrono::seconds(10);
            while (!(server = server_of(*sim, domid)) || server == killed) {
                if (Clock::now() > deadline) die("no server to kill");
                load.run(Clock::now() + std::chrono::milliseconds(5), [] {});
            }
            const auto at = Clock::now();
            if (::kill(*server, SIGKILL) != 0) die("kill: " + std::string(std::strerror(errno)));
            killed = server;
            const auto window = at + std::chrono::duration_cast<Clock::duration>(o.between_kills);
            load.run(window, [] {});
            stalls.push_back(load.longest_gap(at, window));
        }
        load.drain();
    }
    const Millis base = percentile(baselines, 0.99);
    const Millis p50 = percentile(stalls, 0.5);
    const Millis p99 = percentile(stalls, 0.99);
    const Millis worst = *std::max_element(stalls.begin(), stalls.end());
    std::printf(
        "| kills | depth | stall p50 | stall p99 | stall max | baseline longest gap p99 | "
        "p99 / baseline |\n|---:|---:|---:|---:|---:|---:|---:|\n");
    std::printf("| %zu | %u | %.1f ms | %.1f ms | %.1f ms | %.2f ms | %.0f |\n", stalls.size(),
                o.depth, p50.count(), p99.count(), worst.count(), base.count(),
                p99.count() / std::max(base.count(), 0.001));
    return 0;
}

}  // namespace
}  // namespace xen9p::bench

int main(int argc, char** argv) {
    xen9p::bench::Options o;
    for (int i = 1; i < argc; i += 2) {
        const std::string flag = argv[i];
        const auto value = i + 1 < argc ? xen9p::parse_number<unsigned>(argv[i + 1]) : std::nullopt;
        if (!value || *value == 0) {
            std::fprintf(stderr, "xen9p-restart-stall: %s needs a positive number\n", argv[i]);
            return 2;
        }
        if (flag == "--guests") {
            o.guests = *value;
        } else if (flag == "--kills-per-guest" && *value <= 4) {
            o.kills_per_guest = *value;
        } else if (flag == "--depth") {
            o.depth = *value;
        } else {
            std::fprintf(stderr,
                         "usage: xen9p-restart-stall [--guests N] [--kills-per-guest 1..4] "
                         "[--depth D]\n");
            return 2;
        }
    }
    return xen9p::bench::run(o);
}
