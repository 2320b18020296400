// The supervisor's local control socket: `xen9pd status` connects, sends one
// command line and reads the answer until EOF. Root-only (mode 0600).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::control {

class ControlServer {
  public:
    static Result<ControlServer> listen(const std::filesystem::path& path);
    ~ControlServer();
    ControlServer(ControlServer&&) = default;
    ControlServer& operator=(ControlServer&&) = default;

    int fd() const { return listener_.get(); }
    // Accepts one pending client, reads its command, writes answer(command).
    // A client that sends nothing within a second is dropped.
    void serve_one(const std::function<std::string(std::string_view command)>& answer);

  private:
    ControlServer(UniqueFd listener, std::filesystem::path path)
        : listener_(std::move(listener)), path_(std::move(path)) {}
    UniqueFd listener_;
    std::filesystem::path path_;
};

// Client side: sends `command` and returns the whole answer.
Result<std::string> control_query(const std::filesystem::path& path, std::string_view command);

}  // namespace xen9p::control
