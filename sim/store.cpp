#include "sim/store.hpp"

#include <cerrno>
#include <cstdint>

#include <xen/io/xs_wire.h>

#include <algorithm>

#include "base/parse_number.hpp"

namespace xen9p::sim {
namespace {

constexpr std::uint8_t kPermAll = kPermRead | kPermWrite;

std::string parent_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == 0 || slash == std::string::npos) return "/";
    return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

std::string child_path(const std::string& parent, const std::string& name) {
    return parent == "/" ? "/" + name : parent + "/" + name;
}

bool privileged(DomId domid) {
    return domid == 0;
}

}  // namespace

std::uint8_t perm_for(DomId domid, const PermList& perms) {
    if (privileged(domid) || perms.empty() || perms[0].domid == domid) return kPermAll;
    for (std::size_t i = 1; i < perms.size(); ++i)
        if (perms[i].domid == domid) return perms[i].bits & kPermAll;
    return perms[0].bits & kPermAll;
}

bool valid_node_path(std::string_view path) {
    if (path.empty() || path.front() != '/') return false;
    if (path.size() > 1 && path.back() == '/') return false;
    if (path.find("//") != std::string_view::npos) return false;
    if (path.size() > XENSTORE_ABS_PATH_MAX) return false;
    return std::ranges::all_of(path, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '/' || c == '_' || c == '@';
    });
}

std::optional<NodePerm> parse_perm(std::string_view text) {
    if (text.size() < 2) return std::nullopt;
    NodePerm perm;
    switch (text[0]) {
        case 'n':
            perm.bits = 0;
            break;
        case 'r':
            perm.bits = kPermRead;
            break;
        case 'w':
            perm.bits = kPermWrite;
            break;
        case 'b':
            perm.bits = kPermAll;
            break;
        default:
            return std::nullopt;
    }
    const auto domid = parse_number<DomId>(text.substr(1));
    if (!domid) return std::nullopt;
    perm.domid = *domid;
    return perm;
}

std::string format_perm(const NodePerm& perm) {
    static constexpr char kLetters[] = {'n', 'r', 'w', 'b'};
    return kLetters[perm.bits & kPermAll] + std::to_string(perm.domid);
}

Store::Store(StoreLimits limits) : limits_(limits) {
    const PermList dom0_only{{0, 0}};
    for (const char* path : {"/", "/local", "/local/domain", "/tool", "/tool/xenstored"}) {
        Node node;
        node.perms = dom0_only;
        apply(path, std::move(node));
    }
    nodes_.at("/").children = {"local", "tool"};
    nodes_.at("/local").children = {"domain"};
    nodes_.at("/tool").children = {"xenstored"};
}

Store::~Store() = default;

const Store::Node* Store::lookup(Transaction* tx, const std::string& path) {
    const auto base = nodes_.find(path);
    const Node* committed = base == nodes_.end() ? nullptr : &base->second;
    if (tx == nullptr) return committed;
    if (const auto changed = tx->changes_.find(path); changed != tx->changes_.end())
        return changed->second ? &*changed->second : nullptr;
    tx->seen_.try_emplace(path, committed ? committed->generation : 0);
    return committed;
}

// xenstored hides whether a node exists from callers who may not see its
// nearest existing ancestor.
Status Store::check_access(DomId caller, Transaction* tx, const std::string& path, const Node* node,
                           std::uint8_t need) {
    int err = ENOENT;
    if (node != nullptr) {
        if ((perm_for(caller, node->perms) & need) == need) return {};
        err = EACCES;
    }
    std::string ancestor = path;
    const Node* found = nullptr;
    while (found == nullptr && ancestor != "/") {
        ancestor = parent_of(ancestor);
        found = lookup(tx, ancestor);
    }
    if (found != nullptr && (perm_for(caller, found->perms) & need) != 0) return fail(err);
    return fail(EACCES);
}

Result<const Store::Node*> Store::get(DomId caller, Transaction* tx, const std::string& path,
                                      std::uint8_t need) {
    if (!valid_node_path(path)) return fail(EINVAL);
    if (tx != nullptr && !privileged(caller) &&
        tx->seen_.size() + tx->changes_.size() > limits_.max_transaction_nodes)
        return fail(ENOSPC);
    const Node* node = lookup(tx, path);
    auto access = check_access(caller, tx, path, node, need);
    if (!access) return std::unexpected(access.error());
    return node;
}

std::size_t Store::node_size(const Node& node) const {
    std::size_t size = 3 * sizeof(std::uint32_t) + node.perms.size() * 8 + node.value.size();
    for (const auto& child : node.children)
        size += child.size() + 1;
    return size;
}

Status Store::put(DomId caller, Transaction* tx, const std::string& path, Node node) {
    if (!privileged(caller) && node_size(node) >= limits_.max_node_size) return fail(ENOSPC);
    if (tx != nullptr) {
        lookup(tx, path);
        tx->changes_[path] = std::move(node);
        return {};
    }
    apply(path, std::move(node));
    return {};
}

void Store::erase(Transaction* tx, const std::string& path) {
    if (tx != nullptr) {
        lookup(tx, path);
        tx->changes_[path] = std::nullopt;
        return;
    }
    apply(path, std::nullopt);
}

void Store::apply(const std::string& path, std::optional<Node> node) {
    if (const auto old = nodes_.find(path); old != nodes_.end()) {
        --owned_[old->second.perms.at(0).domid];
        nodes_.erase(old);
    }
    if (!node) return;
    node->generation = next_generation_++;
    ++owned_[node->perms.at(0).domid];
    nodes_.emplace(path, std::move(*node));
}

void Store::emit(Transaction* tx, std::vector<StoreEvent>& events, StoreEvent event) {
    if (tx != nullptr)
        tx->events_.push_back(std::move(event));
    else
        events.push_back(std::move(event));
}

Status Store::create(DomId caller, Transaction* tx, const std::string& path, std::string_view value,
                     std::vector<StoreEvent>& events) {
    std::vector<std::string> missing{path};
    std::string parent = parent_of(path);
    const Node* top = lookup(tx, parent);
    while (top == nullptr) {
        missing.push_back(parent);
        parent = parent_of(parent);
        top = lookup(tx, parent);
    }
    if (!privileged(caller)) {
        const std::size_t pending = tx != nullptr ? tx->created_ : 0;
        if (owned_[caller] + pending + missing.size() > limits_.max_nodes_per_domain)
            return fail(ENOSPC);
    }
    Node updated = *top;
    updated.children.push_back(base_of(missing.back()));
    const PermList top_perms = top->perms;
    if (auto done = put(caller, tx, parent, std::move(updated)); !done) return done;

    // Top-down: each new node inherits its parent's permissions, except that
    // an unprivileged domain owns what it creates.
    PermList perms = top_perms;
    PermList parent_perms = top_perms;
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        Node node;
        node.perms = parent_perms;
        if (!privileged(caller)) node.perms[0].domid = caller;
        if (std::next(it) != missing.rend())
            node.children.push_back(base_of(*std::next(it)));
        else
            node.value = value;
        perms = node.perms;
        if (auto done = put(caller, tx, *it, std::move(node)); !done) return done;
        if (tx != nullptr) ++tx->created_;
        if (std::next(it) != missing.rend()) parent_perms = perms;
    }
    emit(tx, events, {path, false, perms, parent_perms});
    return {};
}

Result<std::string> Store::read(DomId caller, Transaction* tx, const std::string& path) {
    auto node = get(caller, tx, path, kPermRead);
    if (!node) return std::unexpected(node.error());
    return (*node)->value;
}

Status Store::write(DomId caller, Transaction* tx, const std::string& path, std::string_view value,
                    std::vector<StoreEvent>& events) {
    auto node = get(caller, tx, path, kPermWrite);
    if (!node) {
        if (node.error().value != ENOENT) return std::unexpected(node.error());
        return create(caller, tx, path, value, events);
    }
    Node updated = **node;
    updated.value = value;
    const PermList perms = updated.perms;
    if (auto done = put(caller, tx, path, std::move(updated)); !done) return done;
    const Node* parent = path == "/" ? nullptr : lookup(tx, parent_of(path));
    emit(tx, events, {path, false, perms, parent ? parent->perms : PermList{}});
    return {};
}

Status Store::mkdir(DomId caller, Transaction* tx, const std::string& path,
                    std::vector<StoreEvent>& events) {
    auto node = get(caller, tx, path, kPermWrite);
    if (node) return {};
    if (node.error().value != ENOENT) return std::unexpected(node.error());
    return create(caller, tx, path, {}, events);
}

Status Store::remove(DomId caller, Transaction* tx, const std::string& path,
                     std::vector<StoreEvent>& events) {
    auto node = get(caller, tx, path, kPermWrite);
    if (!node) {
        // Removing what is already gone succeeds if its parent exists.
        if (node.error().value == ENOENT && lookup(tx, parent_of(path)) != nullptr) return {};
        return std::unexpected(node.error());
    }
    if (path == "/") return fail(EINVAL);
    const Node* parent = lookup(tx, parent_of(path));
    Node updated_parent = *parent;
    std::erase(updated_parent.children, base_of(path));
    emit(tx, events, {path, false, (*node)->perms, parent->perms});

    // Depth-first over the subtree; descendants fire only exact watches.
    std::vector<std::pair<std::string, PermList>> pending{{path, parent->perms}};
    std::vector<std::string> doomed;
    while (!pending.empty()) {
        auto [current, current_parent_perms] = std::move(pending.back());
        pending.pop_back();
        const Node* victim = lookup(tx, current);
        if (victim == nullptr) continue;
        if (current != path) emit(tx, events, {current, true, victim->perms, current_parent_perms});
        for (const auto& child : victim->children)
            pending.emplace_back(child_path(current, child), victim->perms);
        doomed.push_back(current);
    }
    for (const auto& victim : doomed)
        erase(tx, victim);
    return put(0, tx, parent_of(path), std::move(updated_parent));
}

Result<std::string> Store::directory(DomId caller, Transaction* tx, const std::string& path) {
    auto node = get(caller, tx, path, kPermRead);
    if (!node) return std::unexpected(node.error());
    std::string out;
    for (const auto& child : (*node)->children) {
        out += child;
        out.push_back('\0');
    }
    return out;
}

Result<std::string> Store::directory_part(DomId caller, Transaction* tx, const std::string& path,
                                          std::size_t offset, std::size_t max_len) {
    auto node = get(caller, tx, path, kPermRead);
    if (!node) return std::unexpected(node.error());
    std::string all;
    for (const auto& child : (*node)->children) {
        all += child;
        all.push_back('\0');
    }
    std::string out = std::to_string((*node)->generation);
    out.push_back('\0');
    if (offset >= all.size()) {
        out.push_back('\0');
        return out;
    }
    const std::size_t room = max_len > out.size() + 1 ? max_len - out.size() - 1 : 0;
    std::size_t len = 0;
    while (offset + len < all.size()) {
        const std::size_t entry = all.find('\0', offset + len) - (offset + len) + 1;
        if (len + entry > room) break;
        len += entry;
    }
    out.append(all, offset, len);
    if (offset + len == all.size()) out.push_back('\0');
    return out;
}

Result<PermList> Store::get_perms(DomId caller, Transaction* tx, const std::string& path) {
    auto node = get(caller, tx, path, kPermRead);
    if (!node) return std::unexpected(node.error());
    return (*node)->perms;
}

Status Store::set_perms(DomId caller, Transaction* tx, const std::string& path, PermList perms,
                        std::vector<StoreEvent>& events) {
    if (perms.empty()) return fail(EINVAL);
    auto node = get(caller, tx, path, kPermWrite);
    if (!node) return std::unexpected(node.error());
    if (!privileged(caller)) {
        if ((*node)->perms.at(0).domid != caller) return fail(EACCES);
        if (perms[0].domid != caller) return fail(EPERM);
        if (perms.size() > limits_.max_perms_per_node) return fail(ENOSPC);
    }
    Node updated = **node;
    updated.perms = perms;
    if (auto done = put(caller, tx, path, std::move(updated)); !done) return done;
    const Node* parent = path == "/" ? nullptr : lookup(tx, parent_of(path));
    emit(tx, events, {path, false, perms, parent ? parent->perms : PermList{}});
    return {};
}

std::unique_ptr<Store::Transaction> Store::begin(DomId caller) {
    return std::make_unique<Transaction>(caller);
}

Status Store::commit(Transaction& tx, std::vector<StoreEvent>& events) {
    for (const auto& [path, generation] : tx.seen_) {
        const auto current = nodes_.find(path);
        if ((current == nodes_.end() ? 0 : current->second.generation) != generation)
            return fail(EAGAIN);
    }
    for (auto& [path, node] : tx.changes_)
        apply(path, std::move(node));
    tx.changes_.clear();
    for (auto& event : tx.events_)
        events.push_back(std::move(event));
    tx.events_.clear();
    return {};
}

}  // namespace xen9p::sim
