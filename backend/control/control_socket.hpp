// The supervisor's local control socket: `xen9pd status` connects, sends one
// command line and reads the answer until EOF. Root-only (mode 0600).
// `xen9pd upgrade` is answered by the re-executed daemon: its connection is
// handed on across exec.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::control {

struct ControlRequest {
    UniqueFd client;
    std::string command;
};

// Writes `answer` to the client (blocking) and closes the connection.
void reply(UniqueFd client, std::string_view answer);

class ControlServer {
  public:
    static Result<ControlServer> listen(const std::filesystem::path& path);
    ~ControlServer();
    ControlServer(ControlServer&&) = default;
    ControlServer& operator=(ControlServer&&) = default;

    int fd() const { return listener_.get(); }
    // Accepts one pending client and reads its command line; nullopt when
    // there is none, or it sent nothing within a second.
    std::optional<ControlRequest> accept_request();

  private:
    ControlServer(UniqueFd listener, std::filesystem::path path)
        : listener_(std::move(listener)), path_(std::move(path)) {}
    UniqueFd listener_;
    std::filesystem::path path_;
};

// Client side: sends `command` and returns the whole answer; ETIMEDOUT when
// the daemon says nothing for `answer_wait`.
Result<std::string> control_query(const std::filesystem::path& path, std::string_view command,
                                  std::chrono::seconds answer_wait = std::chrono::seconds(10));

}  // namespace xen9p::control
