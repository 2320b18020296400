// xen9p-sim: the simulated Xen platform as a process.
//   xen9p-sim run --dir DIR          (xenstored + grant table + event channels)
//   xen9p-sim toolstack --dir DIR create-domain N [--name NAME]
//                                 add-9pfs N --tag T --path P [--kind 9pfs|xen_9pfs]
//                                          [--devid D] [--security-model M]
//                                 remove-9pfs N [--devid D] [--timeout SECONDS]
//                                 destroy-domain N [--timeout SECONDS]
//                                 ls [PATH]
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/parse_number.hpp"
#include "sim/sim_hypervisor.hpp"
#include "sim/toolstack.hpp"
#include "sim/xenstored.hpp"
#include "xenring/xenstore/xenstore.hpp"

namespace {

using namespace xen9p;

int usage() {
    std::fprintf(stderr,
                 "usage: xen9p-sim run --dir DIR\n"
                 "       xen9p-sim toolstack --dir DIR create-domain N [--name NAME]\n"
                 "       xen9p-sim toolstack --dir DIR add-9pfs N --tag T --path P "
                 "[--kind 9pfs|xen_9pfs] [--devid D] [--security-model M]\n"
                 "       xen9p-sim toolstack --dir DIR remove-9pfs N [--devid D] "
                 "[--timeout SECONDS]\n"
                 "       xen9p-sim toolstack --dir DIR destroy-domain N [--timeout SECONDS]\n"
                 "       xen9p-sim toolstack --dir DIR ls [PATH]\n");
    return 2;
}

// "--key value" options and the remaining positional words.
struct Args {
    std::map<std::string, std::string> options;
    std::vector<std::string> words;
};

std::optional<Args> parse(int argc, char** argv, int first) {
    Args args;
    for (int i = first; i < argc; ++i) {
        const std::string word = argv[i];
        if (word.starts_with("--")) {
            if (i + 1 >= argc) return std::nullopt;
            args.options[word.substr(2)] = argv[++i];
        } else {
            args.words.push_back(word);
        }
    }
    return args;
}

// Up to nine digits, leading zeros allowed: any such number fits.
std::optional<unsigned> number(const std::string& text) {
    if (text.size() > 9) return std::nullopt;
    return parse_number<unsigned>(text);
}

int report(const Status& status, const char* what) {
    if (status) return 0;
    std::fprintf(stderr, "xen9p-sim: %s: %s\n", what, std::strerror(status.error().value));
    return 1;
}

sim::Xenstored* running = nullptr;

void on_signal(int) {
    if (running != nullptr) running->stop();
}

// The xenstored and the hypervisor in one process: a domain exists in the
// hypervisor from its XS_INTRODUCE to its XS_RELEASE.
int run(const Args& args) {
    if (!args.options.contains("dir")) return usage();
    const std::string dir = args.options.at("dir");
    auto hypervisor = sim::SimHypervisor::create(dir);
    if (!hypervisor) return report(std::unexpected(hypervisor.error()), "start hypervisor");
    auto server = sim::Xenstored::create(dir);
    if (!server) return report(std::unexpected(server.error()), "start xenstored");
    sim::SimHypervisor& hv = **hypervisor;
    (*server)->on_introduce(
        [&hv](DomId domid) { (void)report(hv.create_domain(domid), "hypervisor create_domain"); });
    (*server)->on_release([&hv](DomId domid) {
        (void)report(hv.destroy_domain(domid), "hypervisor destroy_domain");
    });
    hv.start_thread();
    running = server->get();
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    std::printf("ready %s\n", (*server)->socket_path().c_str());
    std::fflush(stdout);
    const Status served = (*server)->run();
    running = nullptr;
    hv.stop();
    return report(served, "xenstored");
}

void list(xenstore::Xenstore& xs, const std::string& path, int depth) {
    auto children = xs.directory(path);
    if (!children) return;
    for (const auto& child : *children) {
        const std::string full = path == "/" ? "/" + child : path + "/" + child;
        const auto value = xs.read(full);
        std::string perms;
        if (auto list = xs.permissions(full))
            for (const auto& p : *list)
                perms +=
                    (perms.empty() ? "" : ",") + std::string(1, p.access) + std::to_string(p.domid);
        std::printf("%*s%s = \"%s\" (%s)\n", depth * 2, "", child.c_str(),
                    value ? value->c_str() : "", perms.c_str());
        list(xs, full, depth + 1);
    }
}

int toolstack_command(const Args& args) {
    if (!args.options.contains("dir") || args.words.empty()) return usage();
    auto xs = xenstore::Xenstore::open_socket(args.options.at("dir") + "/xenstored.sock");
    if (!xs) return report(std::unexpected(xs.error()), "connect to xenstored");
    auto waiter = xenstore::Xenstore::open_socket(args.options.at("dir") + "/xenstored.sock");
    if (!waiter) return report(std::unexpected(waiter.error()), "connect to xenstored");
    sim::Toolstack tools(*xs, std::move(*waiter));
    const std::string& command = args.words[0];
    if (command == "ls") {
        list(*xs, args.words.size() > 1 ? args.words[1] : "/", 0);
        return 0;
    }
    if (args.words.size() != 2) return usage();
    const auto domid = number(args.words[1]);
    if (!domid || *domid == 0 || *domid >= 0x7FF0) return usage();
    const auto option = [&](const char* key, const char* fallback) {
        return args.options.contains(key) ? args.options.at(key) : std::string(fallback);
    };
    const auto devid = number(option("devid", "0"));
    const auto timeout = number(option("timeout", "10"));
    if (!devid || !timeout) return usage();
    const std::chrono::milliseconds wait(*timeout * 1000LL);
    const auto dom = static_cast<DomId>(*domid);
    if (command == "create-domain")
        return report(
            tools.create_domain(dom, option("name", ("guest" + std::to_string(dom)).c_str())),
            "create-domain");
    if (command == "add-9pfs") {
        sim::P9Device device;
        device.domid = dom;
        device.devid = *devid;
        device.tag = option("tag", "");
        device.path = option("path", "");
        device.security_model = option("security-model", "none");
        const auto kind = xen9p::toolstack::parse_kind(option("kind", "9pfs"));
        if (device.tag.empty() || device.path.empty() || !kind) return usage();
        device.kind = *kind;
        return report(tools.add_9pfs(device), "add-9pfs");
    }
    if (command == "remove-9pfs")
        return report(tools.remove_9pfs(dom, *devid, wait), "remove-9pfs");
    if (command == "destroy-domain")
        return report(tools.destroy_domain(dom, wait), "destroy-domain");
    return usage();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    const auto args = parse(argc, argv, 2);
    if (!args) return usage();
    const std::string mode = argv[1];
    if (mode == "run") return run(*args);
    if (mode == "toolstack") return toolstack_command(*args);
    return usage();
}
