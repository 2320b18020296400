#include "backend/supervisor/handover.hpp"

#include <algorithm>
#include <limits>

#include "base/parse_number.hpp"

namespace xen9p::supervisor {
namespace {

// Bumped whenever the text changes: a supervisor refuses a handover it
// cannot read rather than guess.
constexpr std::string_view kHeader = "xen9pd-handover 1";
constexpr auto kLastState = static_cast<std::uint64_t>(xenstore::XenbusState::kReconfigured);

std::string flag(bool value) {
    return value ? "1" : "0";
}

std::string state_text(std::optional<xenstore::XenbusState> state) {
    return state ? std::to_string(static_cast<int>(*state)) : "-";
}

// A block of any bytes: its length, then the bytes and a newline.
void put_block(std::string& out, std::string_view key, std::string_view bytes) {
    out += std::string(key) + " " + std::to_string(bytes.size()) + "\n";
    out += bytes;
    out += "\n";
}

void put_worker(std::string& out, std::string_view key, const WorkerDescriptors& w) {
    out += std::string(key) + " " + std::to_string(w.pid) + " " + std::to_string(w.exit_fd) + " " +
           std::to_string(w.control_fd) + " " + std::to_string(w.output_fd) + " " + flag(w.ready) +
           " " + flag(w.stopping) + "\n";
}

// Reads the text line by line; blocks by their announced length.
class Reader {
  public:
    explicit Reader(std::string_view text) : rest_(text) {}
    bool done() const { return rest_.empty(); }
    std::optional<std::string_view> line() {
        const auto nl = rest_.find('\n');
        if (nl == std::string_view::npos) return std::nullopt;
        auto line = rest_.substr(0, nl);
        rest_.remove_prefix(nl + 1);
        return line;
    }
    std::optional<std::string_view> block(std::size_t size) {
        if (rest_.size() < size + 1 || rest_[size] != '\n') return std::nullopt;
        auto bytes = rest_.substr(0, size);
        rest_.remove_prefix(size + 1);
        return bytes;
    }

  private:
    std::string_view rest_;
};

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    while (!line.empty()) {
        const auto space = line.find(' ');
        out.push_back(line.substr(0, space));
        if (space == std::string_view::npos) break;
        line.remove_prefix(space + 1);
    }
    return out;
}

std::optional<bool> parse_flag(std::string_view text) {
    if (text == "0") return false;
    if (text == "1") return true;
    return std::nullopt;
}

std::optional<xenstore::XenbusState> parse_state(std::string_view text) {
    const auto value = parse_decimal(text, kLastState);
    if (!value) return std::nullopt;
    return static_cast<xenstore::XenbusState>(*value);
}

// A descriptor number, or -1 for none.
std::optional<int> parse_fd(std::string_view text) {
    if (text == "-1") return -1;
    const auto value = parse_decimal(text, std::numeric_limits<int>::max());
    if (!value) return std::nullopt;
    return static_cast<int>(*value);
}

std::optional<WorkerDescriptors> parse_worker(const std::vector<std::string_view>& w) {
    if (w.size() != 7) return std::nullopt;
    const auto pid = parse_decimal(w[1], std::numeric_limits<pid_t>::max());
    const auto exit_fd = parse_fd(w[2]);
    const auto control = parse_fd(w[3]);
    const auto output = parse_fd(w[4]);
    const auto ready = parse_flag(w[5]);
    const auto stopping = parse_flag(w[6]);
    if (!pid || *pid == 0 || !exit_fd || *exit_fd < 0 || !control || !output || !ready || !stopping)
        return std::nullopt;
    return WorkerDescriptors{
        static_cast<pid_t>(*pid), *exit_fd, *control, *output, *ready, *stopping};
}

std::optional<DeviceHandover> parse_device(const std::vector<std::string_view>& w) {
    if (w.size() != 8 || w[1].empty()) return std::nullopt;
    const auto domid = parse_decimal(w[2], 0x7fef);
    const auto devid = parse_decimal(w[3], std::numeric_limits<std::uint32_t>::max());
    const auto state = parse_state(w[4]);
    std::optional<xenstore::XenbusState> after;
    if (w[5] != "-" && !(after = parse_state(w[5]))) return std::nullopt;
    const auto watching = parse_flag(w[6]);
    const auto lost = parse_flag(w[7]);
    if (!domid || !devid || !state || !watching || !lost) return std::nullopt;
    DeviceHandover device;
    device.id = {std::string(w[1]), static_cast<std::uint16_t>(*domid),
                 static_cast<std::uint32_t>(*devid)};
    device.state = *state;
    device.state_after_worker = after;
    device.watching_frontend = *watching;
    device.worker_lost = *lost;
    return device;
}

}  // namespace

std::string serialize(const Handover& handover) {
    std::string out(kHeader);
    out += "\nreply " + std::to_string(handover.reply_fd) + "\n";
    for (const auto& device : handover.devices) {
        out += "device " + device.id.kind + " " + std::to_string(device.id.domid) + " " +
               std::to_string(device.id.devid) + " " + state_text(device.state) + " " +
               state_text(device.state_after_worker) + " " + flag(device.watching_frontend) + " " +
               flag(device.worker_lost) + "\n";
        if (!device.last_error.empty()) put_block(out, "error", device.last_error);
        if (device.params) put_block(out, "params", worker_channel::serialize(*device.params));
        if (device.worker) put_worker(out, "worker", *device.worker);
    }
    for (const auto& worker : handover.retiring)
        put_worker(out, "retiring", worker);
    out += "end\n";
    return out;
}

Result<Handover> parse_handover(std::string_view text) {
    Reader reader(text);
    if (reader.line() != kHeader) return fail(EINVAL);
    const auto reply = reader.line();
    if (!reply || !reply->starts_with("reply ")) return fail(EINVAL);
    Handover handover;
    const auto reply_fd = parse_fd(reply->substr(6));
    if (!reply_fd) return fail(EINVAL);
    handover.reply_fd = *reply_fd;
    for (;;) {
        const auto line = reader.line();
        if (!line) return fail(EINVAL);
        const auto w = words(*line);
        if (w.empty()) return fail(EINVAL);
        DeviceHandover* device = handover.devices.empty() ? nullptr : &handover.devices.back();
        if (w[0] == "end" && w.size() == 1) break;
        if (w[0] == "device") {
            auto parsed = parse_device(w);
            if (!parsed) return fail(EINVAL);
            handover.devices.push_back(std::move(*parsed));
        } else if ((w[0] == "error" || w[0] == "params") && w.size() == 2 && device &&
                   !device->worker) {
            const auto size = parse_decimal(w[1], text.size());
            const auto bytes = size ? reader.block(*size) : std::nullopt;
            if (!bytes) return fail(EINVAL);
            if (w[0] == "error") {
                if (!device->last_error.empty() || bytes->empty()) return fail(EINVAL);
                device->last_error = std::string(*bytes);
            } else {
                if (device->params) return fail(EINVAL);
                auto params = worker_channel::parse_worker_params(*bytes);
                if (!params) return std::unexpected(params.error());
                device->params = std::move(*params);
            }
        } else if (w[0] == "worker" && device && !device->worker) {
            device->worker = parse_worker(w);
            if (!device->worker) return fail(EINVAL);
        } else if (w[0] == "retiring") {
            auto worker = parse_worker(w);
            if (!worker) return fail(EINVAL);
            handover.retiring.push_back(*worker);
        } else {
            return fail(EINVAL);
        }
    }
    if (!reader.done()) return fail(EINVAL);
    for (std::size_t i = 1; i < handover.devices.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j)
            if (handover.devices[i].id == handover.devices[j].id) return fail(EINVAL);
    }
    // Each descriptor belongs to one owner: a number named twice would be
    // closed twice.
    auto fds = descriptors_of(handover);
    std::size_t named = handover.reply_fd >= 0 ? 1 : 0;
    auto count = [](const WorkerDescriptors& w) {
        return std::size_t{1} + (w.control_fd >= 0) + (w.output_fd >= 0);
    };
    for (const auto& device : handover.devices)
        if (device.worker) named += count(*device.worker);
    for (const auto& worker : handover.retiring)
        named += count(worker);
    if (fds.size() != named) return fail(EINVAL);
    return handover;
}

std::vector<int> descriptors_of(const Handover& handover) {
    std::vector<int> fds;
    auto add = [&fds](int fd) {
        if (fd >= 0) fds.push_back(fd);
    };
    auto add_worker = [&add](const WorkerDescriptors& w) {
        add(w.exit_fd);
        add(w.control_fd);
        add(w.output_fd);
    };
    add(handover.reply_fd);
    for (const auto& device : handover.devices)
        if (device.worker) add_worker(*device.worker);
    for (const auto& worker : handover.retiring)
        add_worker(worker);
    std::sort(fds.begin(), fds.end());
    fds.erase(std::unique(fds.begin(), fds.end()), fds.end());
    return fds;
}

}  // namespace xen9p::supervisor
