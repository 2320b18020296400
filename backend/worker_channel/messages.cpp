#include "backend/worker_channel/messages.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <string>

namespace xen9p::worker_channel {

Status send_params(int control_fd, const WorkerParams& params) {
    const auto text = serialize(params);
    if (text.size() > kMaxParamsSize) return fail(E2BIG);
    if (::send(control_fd, text.data(), text.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(text.size()))
        return fail_errno();
    return {};
}

Result<WorkerParams> receive_params(int control_fd) {
    std::string buf(kMaxParamsSize, '\0');
    ssize_t n;
    do {
        n = ::recv(control_fd, buf.data(), buf.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail_errno();
    if (n == 0) return fail(ECONNRESET);
    buf.resize(static_cast<std::size_t>(n));
    return parse_worker_params(buf);
}

Status report_ready(int control_fd) {
    if (::send(control_fd, kReadyMessage.data(), kReadyMessage.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(kReadyMessage.size()))
        return fail_errno();
    return {};
}

bool report_stats(int control_fd, const stats::StatsReport& report) {
    const std::string message = std::string(kStatsPrefix) + stats::format_stats(report);
    return ::send(control_fd, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
           static_cast<ssize_t>(message.size());
}

bool is_ready_message(std::string_view message) {
    return message == kReadyMessage;
}

std::optional<stats::StatsReport> parse_stats_message(std::string_view message) {
    if (!message.starts_with(kStatsPrefix)) return std::nullopt;
    return stats::parse_stats(message.substr(kStatsPrefix.size()));
}

}  // namespace xen9p::worker_channel
