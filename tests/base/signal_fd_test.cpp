// Signals as an fd: what block_and_watch promises its callers (the daemon,
// serve and the worker read their stop signals this way).
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "base/signal_fd.hpp"

namespace xen9p::test {
namespace {

// Restores the thread's signal mask when the test ends, so that a test's
// blocked signal stays its own.
class SavedMask {
  public:
    SavedMask() { ::sigprocmask(SIG_SETMASK, nullptr, &saved_); }
    ~SavedMask() { ::sigprocmask(SIG_SETMASK, &saved_, nullptr); }
    SavedMask(const SavedMask&) = delete;
    SavedMask& operator=(const SavedMask&) = delete;

  private:
    sigset_t saved_{};
};

bool is_blocked(int signal) {
    sigset_t mask;
    ::sigprocmask(SIG_SETMASK, nullptr, &mask);
    return sigismember(&mask, signal) == 1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_watched_signal_is_read_from_the_fd_and_does_not_kill) {
    const SavedMask saved;
    auto fd = block_and_watch({SIGUSR1, SIGUSR2}, SFD_CLOEXEC | SFD_NONBLOCK);
    BOOST_REQUIRE(fd.has_value());
    signalfd_siginfo info{};
    // Nothing pending yet: the fd does not block the loop that polls it.
    BOOST_TEST(::read(fd->get(), &info, sizeof info) == -1);
    BOOST_TEST(errno == EAGAIN);
    // SIGUSR1's default action would end this process.
    BOOST_REQUIRE(::kill(::getpid(), SIGUSR1) == 0);
    BOOST_REQUIRE(::read(fd->get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info));
    BOOST_TEST(info.ssi_signo == static_cast<unsigned>(SIGUSR1));
    BOOST_TEST(is_blocked(SIGUSR1));
    BOOST_TEST(is_blocked(SIGUSR2));
}

BOOST_AUTO_TEST_CASE(the_fd_has_exactly_the_flags_asked_for) {
    const SavedMask saved;
    auto both = block_and_watch({SIGUSR1}, SFD_CLOEXEC | SFD_NONBLOCK);
    BOOST_REQUIRE(both.has_value());
    BOOST_TEST((::fcntl(both->get(), F_GETFD) & FD_CLOEXEC) != 0);
    BOOST_TEST((::fcntl(both->get(), F_GETFL) & O_NONBLOCK) != 0);
    auto blocking = block_and_watch({SIGUSR1}, SFD_CLOEXEC);
    BOOST_REQUIRE(blocking.has_value());
    BOOST_TEST((::fcntl(blocking->get(), F_GETFD) & FD_CLOEXEC) != 0);
    BOOST_TEST((::fcntl(blocking->get(), F_GETFL) & O_NONBLOCK) == 0);
}

BOOST_AUTO_TEST_CASE(block_signals_blocks_them_and_returns_the_set) {
    const SavedMask saved;
    BOOST_REQUIRE(!is_blocked(SIGUSR2));
    auto set = block_signals({SIGUSR2});
    BOOST_REQUIRE(set.has_value());
    BOOST_TEST(sigismember(&*set, SIGUSR2) == 1);
    BOOST_TEST(sigismember(&*set, SIGUSR1) == 0);
    BOOST_TEST(is_blocked(SIGUSR2));
}

BOOST_AUTO_TEST_CASE(bad_flags_are_an_error_value) {
    const SavedMask saved;
    auto fd = block_and_watch({SIGUSR1}, 0x7fffffff);
    BOOST_TEST(!fd.has_value());
    BOOST_TEST(fd.error().value == EINVAL);
}

}  // namespace xen9p::test
