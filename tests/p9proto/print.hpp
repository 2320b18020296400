// How Boost.Test prints codec values in failure messages.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>

#include "p9proto/codec.hpp"

namespace xen9p::p9proto {
inline std::ostream& boost_test_print_type(std::ostream& os, DecodeFailure f) {
    return os << to_string(f);
}
inline std::ostream& boost_test_print_type(std::ostream& os, EncodeFailure f) {
    return os << to_string(f);
}
}  // namespace xen9p::p9proto

namespace boost::test_tools::tt_detail {
template <class T>
struct print_log_value<std::optional<T>> {
    void operator()(std::ostream& os, const std::optional<T>& v) {
        if (v) {
            os << *v;
        } else {
            os << "none";
        }
    }
};
template <>
struct print_log_value<std::byte> {
    void operator()(std::ostream& os, std::byte b) { os << static_cast<int>(b); }
};
}  // namespace boost::test_tools::tt_detail
