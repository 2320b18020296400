// How `xen9pd attach` and `xen9pd detach` fail: one line for the operator on
// stderr and an exit status that says whose mistake it was.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace xen9p::cli {

// Exit statuses: a wrong command line or configuration, and a refusal or
// failure because of the state of the system.
inline constexpr int kExitUsage = 2;
inline constexpr int kExitState = 1;

// Why a command stopped, carried as a value up to the command's entry point.
struct CommandError {
    int status = kExitState;
    std::string message;
};

// The command line or configuration is wrong: kExitUsage.
std::unexpected<CommandError> usage_error(std::string message);
// The system refuses or fails what was asked: kExitState.
std::unexpected<CommandError> state_error(std::string message);

// Prints "xen9pd COMMAND: MESSAGE" on stderr; returns the error's exit status.
int report(std::string_view command, const CommandError& error);

}  // namespace xen9p::cli
