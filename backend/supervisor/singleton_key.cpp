#include "backend/supervisor/singleton_key.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <optional>

#include "backend/log/log.hpp"
#include "base/parse_number.hpp"

namespace xen9p::supervisor {

namespace {

constexpr std::string_view kComponent = "supervisor";

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
    struct stat sa {};
    struct stat sb {};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

// argv[1] of `pid` ("" when it has none or cannot be read).
std::string first_argument(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    const std::string cmdline{std::istreambuf_iterator<char>(in), {}};
    const auto end_of_argv0 = cmdline.find('\0');
    if (end_of_argv0 == std::string::npos) return {};
    const auto rest = cmdline.substr(end_of_argv0 + 1);
    return rest.substr(0, rest.find('\0'));
}

}  // namespace

bool is_nine_pfs_daemon(pid_t pid, const std::filesystem::path& own_executable) {
    if (pid <= 0) return false;
    if (::kill(pid, 0) != 0 && errno != EPERM) return false;
    const auto proc = "/proc/" + std::to_string(pid);
    std::error_code ec;
    const auto executable = std::filesystem::read_symlink(proc + "/exe", ec);
    if (ec) return ec != std::errc::no_such_file_or_directory;
    // A worker re-executes xen9pd with "worker": it serves one device, it is
    // not the daemon that owns the key.
    if (same_file(proc + "/exe", own_executable)) return first_argument(pid) != "worker";
    // The stock daemon, also when diverted to xen-9pfsd.distrib.
    return executable.filename().string().starts_with("xen-9pfsd");
}

SingletonKey::SingletonKey(DomId self_domid)
    : base_("/local/domain/" + std::to_string(self_domid) + "/libxl/xen-9pfs") {}

Result<ClaimOutcome> SingletonKey::claim(xenstore::Xenstore& xs) const {
    const auto own_pid = ::getpid();
    std::optional<std::string> stale_pid;
    bool other_running = false;
    auto claimed = xenstore::in_transaction(xs, [&](xenstore::Xenstore::Transaction t) -> Status {
        stale_pid.reset();
        other_running = false;
        auto state = xs.try_read(base_ + "/state", t);
        if (!state) return std::unexpected(state.error());
        auto pid = xs.try_read(base_ + "/pid", t);
        if (!pid) return std::unexpected(pid.error());
        if (*state) {
            const auto other = *pid ? parse_decimal(**pid, 0x7fffffff) : std::nullopt;
            const auto other_pid = other ? static_cast<pid_t>(*other) : pid_t{0};
            if (other_pid != own_pid && is_nine_pfs_daemon(other_pid, "/proc/self/exe")) {
                other_running = true;
                return {};
            }
            // Our own after `xen9pd upgrade`: this process claimed it before exec.
            if (other_pid != own_pid) stale_pid = pid->value_or("");
        }
        if (auto w = xs.write(base_ + "/state", "running", t); !w) return w;
        return xs.write(base_ + "/pid", std::to_string(own_pid), t);
    });
    if (!claimed) return std::unexpected(claimed.error());
    if (other_running) return ClaimOutcome::kOtherDaemonRunning;
    if (stale_pid)
        log::warning(kComponent, "", "took over a stale key: its daemon is gone",
                     {{"key", base_}, {"stale_pid", *stale_pid}});
    return ClaimOutcome::kClaimed;
}

void SingletonKey::release(xenstore::Xenstore& xs) const {
    (void)xenstore::in_transaction(xs, [&](xenstore::Xenstore::Transaction t) -> Status {
        auto pid = xs.try_read(base_ + "/pid", t);
        if (!pid) return std::unexpected(pid.error());
        if (*pid != std::to_string(::getpid())) return {};
        return xs.remove(base_, t);
    });
}

}  // namespace xen9p::supervisor
