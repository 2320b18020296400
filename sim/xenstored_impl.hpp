// Internals of the simulated xenstored shared by its loop (xenstored.cpp)
// and its request handlers (xenstored_ops.cpp).
#pragma once

#include <cerrno>
#include <cstdint>

// xs_wire.h uses uint32_t and errno names without including their headers.
#include <xen/io/xs_wire.h>

#include <atomic>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sim/connection.hpp"
#include "sim/xenstored.hpp"

namespace xen9p::sim {

struct IntroducedDomain {
    UniqueFd listener;
    std::uint64_t mfn = 0;
    std::uint32_t port = 0;
};

struct Xenstored::Impl {
    std::string dir;
    XenstoredLimits limits;
    Store store;
    UniqueFd epoll;
    UniqueFd wake;
    UniqueFd dom0_listener;
    std::unordered_map<int, DomId> listeners;
    std::unordered_map<int, std::unique_ptr<Connection>> connections;
    std::map<DomId, IntroducedDomain> domains;
    std::vector<int> doomed;
    // Permissions of @introduceDomain and @releaseDomain: who hears of them.
    std::map<std::string, PermList, std::less<>> special_perms{{"@introduceDomain", {{0, 0}}},
                                                               {"@releaseDomain", {{0, 0}}}};
    DomainHook on_introduce;
    DomainHook on_release;
    std::atomic<bool> stopping{false};

    Impl(std::string d, XenstoredLimits l) : dir(std::move(d)), limits(l), store(l.store) {}

    // Loop (xenstored.cpp).
    Result<UniqueFd> listen_at(const std::string& path);
    std::string domain_dir(DomId domid) const;
    std::string domain_socket(DomId domid) const;
    void accept_from(int listener, DomId domid);
    void readable(Connection& conn);
    void process(Connection& conn);
    void flush(Connection& conn);
    void update_events(Connection& conn);
    void close_connection(int fd);
    bool throttled(const Connection& conn) const;
    void send(Connection& conn, const xsd_sockmsg& request, std::uint32_t type,
              std::string_view payload);
    void send_error(Connection& conn, const xsd_sockmsg& request, int err);
    void fire(const std::vector<StoreEvent>& events);
    void fire_special(std::string_view name);
    void send_event(Connection& conn, const Watch& watch, std::string_view path);
    Status introduce(DomId domid, std::uint64_t mfn, std::uint32_t port);
    Status release(DomId domid);

    // Requests (xenstored_ops.cpp).
    void handle(Connection& conn, const xsd_sockmsg& header, std::string_view payload);
    Status handle_node_op(Connection& conn, const xsd_sockmsg& header, std::string_view payload);
    Status handle_special_perms(Connection& conn, const xsd_sockmsg& header,
                                std::string_view payload);
    Status handle_watch(Connection& conn, const xsd_sockmsg& header, std::string_view payload);
    Status handle_unwatch(Connection& conn, const xsd_sockmsg& header, std::string_view payload);
    Status handle_transaction_start(Connection& conn, const xsd_sockmsg& header);
    Status handle_transaction_end(Connection& conn, const xsd_sockmsg& header,
                                  std::string_view payload);
    Status handle_domain_op(Connection& conn, const xsd_sockmsg& header, std::string_view payload);
};

// "/local/domain/<domid>": the home that relative paths resolve against.
std::string domain_home(DomId domid);

}  // namespace xen9p::sim
