#define BOOST_TEST_MODULE sandbox_worker
#include <boost/test/unit_test.hpp>
