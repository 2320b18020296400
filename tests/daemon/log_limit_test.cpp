// The rate limiter for log lines a guest or a socket peer can cause: a token
// bucket, and limited() writing a summary of what it dropped.
#define BOOST_TEST_MODULE log_limit
#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/log/log.hpp"

namespace xen9p::log {
namespace {

using namespace std::chrono_literals;

// Sends stderr to a file for the life of the object.
class CapturedStderr {
  public:
    CapturedStderr() : path_("/tmp/xen9p_log_limit_" + std::to_string(::getpid())) {
        saved_ = ::dup(STDERR_FILENO);
        const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        BOOST_REQUIRE(saved_ >= 0 && fd >= 0);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
    }
    ~CapturedStderr() {
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        ::unlink(path_.c_str());
    }
    std::vector<std::string> lines() const {
        std::ifstream in(path_);
        std::vector<std::string> out;
        for (std::string l; std::getline(in, l);)
            out.push_back(l);
        return out;
    }

  private:
    std::string path_;
    int saved_ = -1;
};

BOOST_AUTO_TEST_CASE(bucket_allows_the_burst_then_the_rate_and_counts_refusals) {
    const auto t0 = RateLimiter::Clock::now();
    RateLimiter limiter(2.0, 3.0, t0);
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(limiter.allow(t0));
    BOOST_TEST(!limiter.allow(t0));
    BOOST_TEST(!limiter.allow(t0 + 100ms));
    BOOST_TEST(limiter.allow(t0 + 500ms));  // one token back after 0.5 s at 2/s
    BOOST_TEST(!limiter.allow(t0 + 600ms));
    BOOST_TEST(limiter.take_suppressed() == 3u);
    BOOST_TEST(limiter.take_suppressed() == 0u);
    BOOST_TEST(limiter.suppressed_total() == 3u);
    // Never more than the burst, however long it was quiet; time going
    // backwards refills nothing.
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(limiter.allow(t0 + 3600s));
    BOOST_TEST(!limiter.allow(t0 + 3600s));
    BOOST_TEST(!limiter.allow(t0));
}

BOOST_AUTO_TEST_CASE(limited_writes_the_burst_then_one_summary_of_the_dropped_lines) {
    set_level(Level::kInfo);
    RateLimiter limiter(20.0, 5.0);
    std::vector<std::string> lines;
    {
        CapturedStderr captured;
        for (int i = 0; i < 1000; ++i)
            limited(limiter, Level::kWarning, "test", "dev", "guest-caused line");
        // Below the level: neither written nor counted.
        limited(limiter, Level::kDebug, "test", "dev", "debug line");
        std::this_thread::sleep_for(200ms);  // tokens come back (20/s)
        limited(limiter, Level::kWarning, "test", "dev", "guest-caused line");
        lines = captured.lines();
    }
    std::size_t written = 0;
    std::size_t summaries = 0;
    std::size_t dropped = 0;
    for (const auto& l : lines) {
        if (l.find("guest-caused line") != std::string::npos) ++written;
        if (auto at = l.find("dropped="); at != std::string::npos) {
            ++summaries;
            dropped += std::stoul(l.substr(at + 8));
        }
    }
    BOOST_TEST_MESSAGE("written " << written << ", dropped " << dropped);
    // The burst, plus what the rate gave back while the loop ran.
    BOOST_TEST(written >= 6u);
    BOOST_TEST(written < 100u);
    BOOST_TEST(summaries >= 1u);
    BOOST_TEST(written + dropped == 1001u);
    BOOST_TEST(lines.size() == written + summaries);
}

}  // namespace
}  // namespace xen9p::log
