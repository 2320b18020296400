// One client connection of the simulated xenstored: its domain, buffered
// input and output, watches and open transactions. Internal to xenstored.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "sim/store.hpp"

namespace xen9p::sim {

struct Watch {
    // Absolute node path, or a special path starting with '@'.
    std::string path;
    std::string token;
    // Registered with a path relative to the domain's home: events are
    // reported relative too.
    bool relative = false;
};

struct Connection {
    UniqueFd fd;
    DomId domid = 0;
    std::string input;
    std::deque<std::string> output;
    std::size_t output_offset = 0;
    std::size_t queued_bytes = 0;
    std::uint32_t epoll_events = 0;
    bool dead = false;
    std::vector<Watch> watches;
    std::map<std::uint32_t, std::unique_ptr<Store::Transaction>> transactions;
    std::uint32_t next_transaction = 1;
};

}  // namespace xen9p::sim
