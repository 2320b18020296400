// Two processes on one shared ring: the child is the frontend (requests out,
// replies in), the parent the backend (echoes every request as its reply).
// Both sides check every byte of every message.
#include <boost/test/unit_test.hpp>

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "tests/xenring_ring/ring_fixture.hpp"
#include "xenring/ring/ring_reader.hpp"
#include "xenring/ring/ring_writer.hpp"

using namespace xen9p;
using namespace xen9p::ring;
using xen9p::ring::test::SharedRing;

namespace {

constexpr unsigned kOrder = 5;  // 64 KiB per direction: wraps every ~250 messages
constexpr std::size_t kMsize = 512;
constexpr std::uint32_t kMessages = 1'000'000;

// Kills and reaps the child however the test ends.
class Child {
  public:
    explicit Child(pid_t pid) : pid_(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    bool exited() {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
        pid_ = -1;
        status_ = status;
        return true;
    }
    int wait() {
        int status = 0;
        if (::waitpid(pid_, &status, 0) == pid_) pid_ = -1;
        return status;
    }
    int status() const { return status_; }

  private:
    pid_t pid_;
    int status_ = 0;
};

// The frontend: keeps requests flowing while checking replies in order.
int run_frontend(SharedRing& shared) {
    auto writer = RingWriter::frontend(shared.intf(), shared.data(), kOrder);
    auto reader = RingReader::frontend(shared.intf(), shared.data(), kOrder, kMsize);
    std::mt19937 rng(42);
    std::uniform_int_distribution<std::size_t> size_of(kHeaderSize, kMsize);
    std::vector<std::byte> out(kMsize);
    std::vector<std::byte> in(kMsize);
    std::uint32_t sent = 0;
    std::uint32_t received = 0;
    bool pending = false;
    while (received < kMessages) {
        bool progress = false;
        while (sent < kMessages) {
            if (!pending) {
                out.resize(size_of(rng));
                test::fill_message(out, sent);
                pending = true;
            }
            auto st = writer.write_and_publish(out);
            if (st) {
                ++sent;
                pending = false;
                progress = true;
            } else if (st.error() != Errno{EAGAIN}) {
                return 2;
            } else {
                break;
            }
        }
        for (;;) {
            auto got = reader.read(in);
            if (!got) return 3;
            if (*got == 0) break;
            if (!test::check_message(std::span(in).first(*got), received)) return 4;
            ++received;
            progress = true;
        }
        if (!progress) ::sched_yield();
    }
    return 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_million_random_size_messages_cross_processes_intact) {
    SharedRing shared(kOrder);
    shared.set_indices(0xFFFF0000u);  // the indices overflow 2^32 during the run
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(run_frontend(shared));
    Child child(pid);

    auto reader = RingReader::backend(shared.intf(), shared.data(), kOrder, kMsize);
    auto writer = RingWriter::backend(shared.intf(), shared.data(), kOrder);
    std::vector<std::byte> buf(kMsize);
    std::uint64_t bytes = 0;
    std::size_t held = 0;  // a request read but whose echo did not fit yet
    std::uint32_t done = 0;
    bool ok = true;
    while (done < kMessages && ok) {
        // One pass: echo every queued request, then publish the batch once.
        bool progress = false;
        while (ok) {
            if (held == 0) {
                auto got = reader.read(buf);
                if (!got) {
                    ok = false;
                    break;
                }
                held = *got;
                if (held == 0) break;
                ok = test::check_message(std::span(buf).first(held), done);
            }
            auto st = writer.write(std::span(buf).first(held));
            if (!st) {
                ok = st.error() == Errno{EAGAIN};
                break;
            }
            bytes += held;
            held = 0;
            ++done;
            progress = true;
        }
        writer.publish();
        if (!progress) {
            if (child.exited()) break;
            ::sched_yield();
        }
    }
    BOOST_REQUIRE(ok);
    BOOST_REQUIRE_EQUAL(done, kMessages);
    const int status = child.wait();
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST_MESSAGE("ring stress: " << kMessages << " round trips, " << bytes
                                       << " bytes each way, " << kMessages / secs << " messages/s, "
                                       << 2.0 * bytes / secs / 1e9 << " GB/s (both directions)");
}
