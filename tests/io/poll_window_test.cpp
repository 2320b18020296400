// The self-tuning poll window: it grows only while waits end soon after they
// begin, never past its bound, and an idle peer soon takes it back to zero.
#define BOOST_TEST_MODULE io
#include <boost/test/unit_test.hpp>

#include "backend/io/poll_window.hpp"

namespace xen9p::io::test {

using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(short_waits_grow_the_window_up_to_its_bound) {
    PollWindow window(50us);
    BOOST_TEST(window.current().count() == 0);
    window.waited(10us);
    BOOST_TEST((window.current() == PollWindow::kStart));
    for (int i = 0; i < 20; ++i)
        window.waited(40us);
    BOOST_TEST((window.current() == 50us));
    // A wait the window covered changes nothing.
    window.waited(3us);
    BOOST_TEST((window.current() == 50us));
}

BOOST_AUTO_TEST_CASE(long_waits_shrink_the_window_to_zero) {
    PollWindow window(50us);
    for (int i = 0; i < 20; ++i)
        window.waited(40us);
    int long_waits = 0;
    while (window.current() > 0us) {
        window.waited(5ms);
        ++long_waits;
        BOOST_REQUIRE(long_waits < 10);
    }
    BOOST_TEST(long_waits <= 4);
}

BOOST_AUTO_TEST_CASE(a_window_of_zero_never_polls) {
    PollWindow window;
    for (std::chrono::nanoseconds waited : {1us, 2us, 100us, 1000us})
        window.waited(waited);
    BOOST_TEST(window.current().count() == 0);
}

}  // namespace xen9p::io::test
