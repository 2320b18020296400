#define BOOST_TEST_MODULE xenring_frontend
#include <boost/test/unit_test.hpp>
