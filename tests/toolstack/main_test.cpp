#define BOOST_TEST_MODULE toolstack
#include <boost/test/unit_test.hpp>
