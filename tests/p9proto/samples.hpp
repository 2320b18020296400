// One sample of every 9P2000.L and 9P2000.u message with its expected bytes, written from
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

// Messages of both dialects and of 9P2000.L only.
std::vector<RequestSample> request_samples();
std::vector<ReplySample> reply_samples();

// Messages of 9P2000.u only, as the Linux client (net/9p/client.c) encodes
// them under version=9p2000.u.
std::vector<RequestSample> u_request_samples();
std::vector<ReplySample> u_reply_samples();

// A stat record as Linux's p9pdu_writef "S" writes it: a symlink "ln" -> "t".
UStat sample_stat();
Bytes sample_stat_record();

}  // namespace xen9p::p9proto::test
