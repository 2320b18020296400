// Runs an xen9pd subcommand in this process with its stdout and stderr
// captured.
#pragma once

#include <iostream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace xen9p::test {

struct CommandResult {
    int status = -1;
    std::string out;
    std::string err;
};

template <class Command>
CommandResult run_command(Command command, const std::vector<std::string>& args) {
    std::ostringstream out;
    std::ostringstream err;
    auto* old_out = std::cout.rdbuf(out.rdbuf());
    auto* old_err = std::cerr.rdbuf(err.rdbuf());
    const int status = command(std::span<const std::string>(args));
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    return {status, out.str(), err.str()};
}

}  // namespace xen9p::test
