#include "backend/cli/command_error.hpp"

#include <iostream>
#include <utility>

namespace xen9p::cli {

std::unexpected<CommandError> usage_error(std::string message) {
    return std::unexpected(CommandError{kExitUsage, std::move(message)});
}

std::unexpected<CommandError> state_error(std::string message) {
    return std::unexpected(CommandError{kExitState, std::move(message)});
}

int report(std::string_view command, const CommandError& error) {
    std::cerr << "xen9pd " << command << ": " << error.message << "\n";
    return error.status;
}

}  // namespace xen9p::cli
