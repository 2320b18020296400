// Targets the bench starts itself: xen9pd and diod over a unix socket, and the
// direct-syscall limit on the same directory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench/driver/target.hpp"

namespace xen9p::bench {

struct SocketServerConfig {
    std::string binary;  // xen9pd or diod
    std::string export_dir;
    std::string work_dir;  // socket and server log go here
    std::uint32_t msize = 0;
};

// `xen9pd serve --export DIR --listen unix:PATH`.
Result<std::unique_ptr<Target>> start_xen9pd_unix(const SocketServerConfig& config);
// `diod -f -n -l PATH -e DIR` (no auth, as tests/realclient runs it).
Result<std::unique_ptr<Target>> start_diod_unix(const SocketServerConfig& config);
// The bench process's own syscalls on `export_dir`.
std::unique_ptr<Target> direct_target(const std::string& export_dir);

}  // namespace xen9p::bench
