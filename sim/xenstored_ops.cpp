// Request handlers of the simulated xenstored: argument parsing and replies
// as the C xenstored does them.
#include <cstring>
#include <optional>

#include "base/parse_number.hpp"
#include "sim/xenstored_impl.hpp"

namespace xen9p::sim {
namespace {

constexpr std::string_view kOk{"OK", 3};
constexpr DomId kFirstReservedDomid = 0x7FF0;

// The NUL-terminated strings of a payload; bytes after the last NUL are not
// a string (xenstored's get_strings).
std::vector<std::string_view> strings_of(std::string_view payload) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (std::size_t nul = payload.find('\0'); nul != std::string_view::npos;
         nul = payload.find('\0', start)) {
        out.push_back(payload.substr(start, nul - start));
        start = nul + 1;
    }
    return out;
}

// xenstored's onearg: exactly one NUL, at the very end.
std::optional<std::string_view> one_arg(std::string_view payload) {
    if (payload.empty() || payload.find('\0') != payload.size() - 1) return std::nullopt;
    return payload.substr(0, payload.size() - 1);
}

std::string canonical(const Connection& conn, std::string_view path) {
    if (path.starts_with('/') || path.starts_with('@')) return std::string(path);
    return domain_home(conn.domid) + "/" + std::string(path);
}

bool valid_special_path(std::string_view path) {
    return path.size() > 1 && path.size() <= XENSTORE_REL_PATH_MAX &&
           valid_node_path("/" + std::string(path.substr(1)));
}

}  // namespace

void Xenstored::Impl::handle(Connection& conn, const xsd_sockmsg& header,
                             std::string_view payload) {
    Status done;
    switch (header.type) {
        case XS_READ:
        case XS_WRITE:
        case XS_MKDIR:
        case XS_RM:
        case XS_DIRECTORY:
        case XS_DIRECTORY_PART:
        case XS_GET_PERMS:
        case XS_SET_PERMS:
            done = payload.starts_with('@') ? handle_special_perms(conn, header, payload)
                                            : handle_node_op(conn, header, payload);
            break;
        case XS_WATCH:
            done = handle_watch(conn, header, payload);
            break;
        case XS_UNWATCH:
            done = handle_unwatch(conn, header, payload);
            break;
        case XS_TRANSACTION_START:
            done = handle_transaction_start(conn, header);
            break;
        case XS_TRANSACTION_END:
            done = handle_transaction_end(conn, header, payload);
            break;
        case XS_INTRODUCE:
        case XS_RELEASE:
        case XS_IS_DOMAIN_INTRODUCED:
        case XS_GET_DOMAIN_PATH:
            done = handle_domain_op(conn, header, payload);
            break;
        case XS_RESET_WATCHES:
            conn.watches.clear();
            conn.transactions.clear();
            send(conn, header, XS_RESET_WATCHES, kOk);
            break;
        default:
            done = fail(ENOSYS);
            break;
    }
    if (!done) send_error(conn, header, done.error().value);
}

Status Xenstored::Impl::handle_node_op(Connection& conn, const xsd_sockmsg& header,
                                       std::string_view payload) {
    Store::Transaction* tx = nullptr;
    if (header.tx_id != 0) {
        const auto it = conn.transactions.find(header.tx_id);
        if (it == conn.transactions.end()) return fail(ENOENT);
        tx = it->second.get();
    }
    const DomId caller = conn.domid;
    std::vector<StoreEvent> events;
    const auto arg = one_arg(payload);
    switch (header.type) {
        case XS_READ: {
            if (!arg) return fail(EINVAL);
            auto value = store.read(caller, tx, canonical(conn, *arg));
            if (!value) return std::unexpected(value.error());
            send(conn, header, XS_READ, *value);
            return {};
        }
        case XS_WRITE: {
            const auto nul = payload.find('\0');
            if (nul == std::string_view::npos) return fail(EINVAL);
            auto done = store.write(caller, tx, canonical(conn, payload.substr(0, nul)),
                                    payload.substr(nul + 1), events);
            if (!done) return done;
            break;
        }
        case XS_MKDIR:
        case XS_RM: {
            if (!arg) return fail(EINVAL);
            const std::string path = canonical(conn, *arg);
            auto done = header.type == XS_MKDIR ? store.mkdir(caller, tx, path, events)
                                                : store.remove(caller, tx, path, events);
            if (!done) return done;
            break;
        }
        case XS_DIRECTORY: {
            if (!arg) return fail(EINVAL);
            auto children = store.directory(caller, tx, canonical(conn, *arg));
            if (!children) return std::unexpected(children.error());
            send(conn, header, XS_DIRECTORY, *children);
            return {};
        }
        case XS_DIRECTORY_PART: {
            const auto args = strings_of(payload);
            if (args.size() != 2) return fail(EINVAL);
            const auto offset = parse_number<std::size_t>(args[1]);
            if (!offset) return fail(EINVAL);
            auto part = store.directory_part(caller, tx, canonical(conn, args[0]), *offset,
                                             XENSTORE_PAYLOAD_MAX);
            if (!part) return std::unexpected(part.error());
            send(conn, header, XS_DIRECTORY_PART, *part);
            return {};
        }
        case XS_GET_PERMS: {
            if (!arg) return fail(EINVAL);
            auto perms = store.get_perms(caller, tx, canonical(conn, *arg));
            if (!perms) return std::unexpected(perms.error());
            std::string out;
            for (const auto& perm : *perms)
                out.append(format_perm(perm)).push_back('\0');
            send(conn, header, XS_GET_PERMS, out);
            return {};
        }
        case XS_SET_PERMS: {
            const auto args = strings_of(payload);
            if (args.size() < 2) return fail(EINVAL);
            PermList perms;
            for (std::size_t i = 1; i < args.size(); ++i) {
                const auto perm = parse_perm(args[i]);
                if (!perm) return fail(EINVAL);
                perms.push_back(*perm);
            }
            auto done =
                store.set_perms(caller, tx, canonical(conn, args[0]), std::move(perms), events);
            if (!done) return done;
            break;
        }
        default:
            return fail(ENOSYS);
    }
    send(conn, header, header.type, kOk);
    fire(events);
    return {};
}

// GET_PERMS / SET_PERMS on @introduceDomain and @releaseDomain; only dom0
// may change them.
Status Xenstored::Impl::handle_special_perms(Connection& conn, const xsd_sockmsg& header,
                                             std::string_view payload) {
    const auto args = strings_of(payload);
    if (args.empty()) return fail(EINVAL);
    const auto node = special_perms.find(args[0]);
    if (node == special_perms.end()) return fail(ENOENT);
    if (header.type == XS_GET_PERMS) {
        if (args.size() != 1 || !one_arg(payload)) return fail(EINVAL);
        if ((perm_for(conn.domid, node->second) & kPermRead) == 0) return fail(EACCES);
        std::string out;
        for (const auto& perm : node->second)
            out.append(format_perm(perm)).push_back('\0');
        send(conn, header, XS_GET_PERMS, out);
        return {};
    }
    if (conn.domid != 0) return fail(EACCES);
    if (args.size() < 2) return fail(EINVAL);
    PermList perms;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const auto perm = parse_perm(args[i]);
        if (!perm) return fail(EINVAL);
        perms.push_back(*perm);
    }
    node->second = std::move(perms);
    send(conn, header, XS_SET_PERMS, kOk);
    return {};
}

Status Xenstored::Impl::handle_watch(Connection& conn, const xsd_sockmsg& header,
                                     std::string_view payload) {
    const auto args = strings_of(payload);
    if (args.size() != 2) return fail(EINVAL);
    Watch watch;
    watch.path = canonical(conn, args[0]);
    watch.token = std::string(args[1]);
    watch.relative = !args[0].starts_with('/') && !args[0].starts_with('@');
    const bool special = watch.path.starts_with('@');
    if (special ? !valid_special_path(watch.path) : !valid_node_path(watch.path))
        return fail(EINVAL);
    for (const auto& existing : conn.watches)
        if (existing.path == watch.path && existing.token == watch.token) return fail(EEXIST);
    if (conn.domid != 0 && conn.watches.size() >= limits.max_watches_per_domain) return fail(E2BIG);
    conn.watches.push_back(watch);
    send(conn, header, XS_WATCH, kOk);
    // Fired once up front, as xenstored does, so clients need no special case.
    send_event(conn, watch, watch.path);
    return {};
}

Status Xenstored::Impl::handle_unwatch(Connection& conn, const xsd_sockmsg& header,
                                       std::string_view payload) {
    const auto args = strings_of(payload);
    if (args.size() != 2) return fail(EINVAL);
    const std::string path = canonical(conn, args[0]);
    for (auto it = conn.watches.begin(); it != conn.watches.end(); ++it) {
        if (it->path == path && it->token == args[1]) {
            conn.watches.erase(it);
            send(conn, header, XS_UNWATCH, kOk);
            return {};
        }
    }
    return fail(ENOENT);
}

Status Xenstored::Impl::handle_transaction_start(Connection& conn, const xsd_sockmsg& header) {
    if (header.tx_id != 0) return fail(EBUSY);
    if (conn.domid != 0 && conn.transactions.size() >= limits.max_transactions_per_connection)
        return fail(ENOSPC);
    std::uint32_t id = conn.next_transaction;
    while (id == 0 || conn.transactions.contains(id))
        ++id;
    conn.next_transaction = id + 1;
    conn.transactions.emplace(id, store.begin(conn.domid));
    const std::string reply = std::to_string(id);
    send(conn, header, XS_TRANSACTION_START, std::string_view(reply.c_str(), reply.size() + 1));
    return {};
}

Status Xenstored::Impl::handle_transaction_end(Connection& conn, const xsd_sockmsg& header,
                                               std::string_view payload) {
    const auto arg = one_arg(payload);
    if (!arg || (*arg != "T" && *arg != "F")) return fail(EINVAL);
    const auto it = conn.transactions.find(header.tx_id);
    if (header.tx_id == 0 || it == conn.transactions.end()) return fail(ENOENT);
    auto tx = std::move(it->second);
    conn.transactions.erase(it);
    std::vector<StoreEvent> events;
    if (*arg == "T") {
        if (auto committed = store.commit(*tx, events); !committed) return committed;
    }
    send(conn, header, XS_TRANSACTION_END, kOk);
    fire(events);
    return {};
}

Status Xenstored::Impl::handle_domain_op(Connection& conn, const xsd_sockmsg& header,
                                         std::string_view payload) {
    if (header.type == XS_GET_DOMAIN_PATH) {
        const auto arg = one_arg(payload);
        const auto domid = arg ? parse_number<DomId>(*arg) : std::nullopt;
        if (!domid) return fail(EINVAL);
        const std::string home = domain_home(*domid);
        send(conn, header, XS_GET_DOMAIN_PATH, std::string_view(home.c_str(), home.size() + 1));
        return {};
    }
    if (conn.domid != 0) return fail(EACCES);
    if (header.type == XS_INTRODUCE) {
        const auto args = strings_of(payload);
        if (args.size() < 3) return fail(EINVAL);
        const auto domid = parse_number<DomId>(args[0]);
        const auto mfn = parse_number<std::uint64_t>(args[1]);
        const auto port = parse_number<std::uint32_t>(args[2]);
        if (!domid || !mfn || !port || *domid == 0 || *domid >= kFirstReservedDomid)
            return fail(EINVAL);
        if (auto done = introduce(*domid, *mfn, *port); !done) return done;
        send(conn, header, XS_INTRODUCE, kOk);
        return {};
    }
    const auto arg = one_arg(payload);
    const auto domid = arg ? parse_number<DomId>(*arg) : std::nullopt;
    if (!domid) return fail(EINVAL);
    if (header.type == XS_IS_DOMAIN_INTRODUCED) {
        const bool known = *domid == 0 || domains.contains(*domid);
        send(conn, header, XS_IS_DOMAIN_INTRODUCED,
             known ? std::string_view("T", 2) : std::string_view("F", 2));
        return {};
    }
    if (*domid == 0) return fail(EINVAL);
    if (auto done = release(*domid); !done) return done;
    send(conn, header, XS_RELEASE, kOk);
    return {};
}

}  // namespace xen9p::sim
