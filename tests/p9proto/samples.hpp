// One sample of every 9P2000.L message with its expected bytes, written from
// the wire table (reference §6.2-6.4) with the independent Wire builder.
#pragma once

#include <string>
#include <vector>

#include "p9proto/messages.hpp"
#include "tests/p9proto/wire.hpp"

namespace xen9p::p9proto::test {

struct RequestSample {
    std::string name;
    Request message;
    Bytes bytes;
};

struct ReplySample {
    std::string name;
    Reply message;
    Bytes bytes;
};

std::vector<RequestSample> request_samples();
std::vector<ReplySample> reply_samples();

}  // namespace xen9p::p9proto::test
