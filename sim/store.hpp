// The node tree of the simulated xenstored: values, permission lists,
// per-node generations and transactions, with the access rules and errno
// answers of the C xenstored. Pure data structure; the wire lives in xenstored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/domid.hpp"
#include "base/errno.hpp"

namespace xen9p::sim {

// XS_PERM_READ / XS_PERM_WRITE bits of xenstore.h.
inline constexpr std::uint8_t kPermRead = 1;
inline constexpr std::uint8_t kPermWrite = 2;

// One entry of a permission list. The first entry names the owner and the
// access of every domain not listed.
struct NodePerm {
    DomId domid = 0;
    std::uint8_t bits = 0;
    friend bool operator==(const NodePerm&, const NodePerm&) = default;
};
using PermList = std::vector<NodePerm>;

// Resource limits for unprivileged domains (defaults of C xenstored 4.17).
struct StoreLimits {
    std::size_t max_nodes_per_domain = 1000;
    std::size_t max_node_size = 2048;
    std::size_t max_perms_per_node = 5;
    std::size_t max_transaction_nodes = 1024;
};

// A change watchers may hear about: `exact` events only reach watches on
// exactly `path` (descendants of a removed subtree). The permissions decide
// who may see it.
struct StoreEvent {
    std::string path;
    bool exact = false;
    PermList perms;
    PermList parent_perms;
};

// Access of `domid` to a node with `perms`; dom0 and the owner get all.
std::uint8_t perm_for(DomId domid, const PermList& perms);

// Absolute path rules of xenstored: starts with '/', no "//", no trailing '/',
// at most XENSTORE_ABS_PATH_MAX, characters [A-Za-z0-9-/_@].
bool valid_node_path(std::string_view path);

// Parses "r5" etc. as xenstore-chmod writes them; nullopt if malformed.
std::optional<NodePerm> parse_perm(std::string_view text);
std::string format_perm(const NodePerm& perm);

class Store {
  public:
    class Transaction;

    explicit Store(StoreLimits limits = {});
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Every call takes the caller's domid and an optional transaction, and
    // appends the watch events it causes to `events` (queued in the
    // transaction until it commits).
    Result<std::string> read(DomId caller, Transaction* tx, const std::string& path);
    Status write(DomId caller, Transaction* tx, const std::string& path, std::string_view value,
                 std::vector<StoreEvent>& events);
    Status mkdir(DomId caller, Transaction* tx, const std::string& path,
                 std::vector<StoreEvent>& events);
    Status remove(DomId caller, Transaction* tx, const std::string& path,
                  std::vector<StoreEvent>& events);
    // Child names, each followed by a NUL, in creation order.
    Result<std::string> directory(DomId caller, Transaction* tx, const std::string& path);
    // XS_DIRECTORY_PART reply: generation, NUL, children from `offset` that
    // fit in `max_len`, and one more NUL once the list is complete.
    Result<std::string> directory_part(DomId caller, Transaction* tx, const std::string& path,
                                       std::size_t offset, std::size_t max_len);
    Result<PermList> get_perms(DomId caller, Transaction* tx, const std::string& path);
    Status set_perms(DomId caller, Transaction* tx, const std::string& path, PermList perms,
                     std::vector<StoreEvent>& events);

    std::unique_ptr<Transaction> begin(DomId caller);
    // EAGAIN when a node the transaction touched changed meanwhile.
    Status commit(Transaction& tx, std::vector<StoreEvent>& events);

    std::size_t node_count() const { return nodes_.size(); }

  private:
    struct Node {
        std::string value;
        PermList perms;
        std::vector<std::string> children;
        std::uint64_t generation = 0;
    };

    const Node* lookup(Transaction* tx, const std::string& path);
    Status check_access(DomId caller, Transaction* tx, const std::string& path, const Node* node,
                        std::uint8_t need);
    Result<const Node*> get(DomId caller, Transaction* tx, const std::string& path,
                            std::uint8_t need);
    Status put(DomId caller, Transaction* tx, const std::string& path, Node node);
    void erase(Transaction* tx, const std::string& path);
    Status create(DomId caller, Transaction* tx, const std::string& path, std::string_view value,
                  std::vector<StoreEvent>& events);
    void emit(Transaction* tx, std::vector<StoreEvent>& events, StoreEvent event);
    void apply(const std::string& path, std::optional<Node> node);
    std::size_t node_size(const Node& node) const;

    StoreLimits limits_;
    std::map<std::string, Node, std::less<>> nodes_;
    std::unordered_map<DomId, std::size_t> owned_;
    std::uint64_t next_generation_ = 1;
};

class Store::Transaction {
  public:
    explicit Transaction(DomId caller) : caller_(caller) {}
    DomId caller() const { return caller_; }

  private:
    friend class Store;
    DomId caller_;
    // What the transaction wrote (nullopt = removed), seen only by itself.
    std::map<std::string, std::optional<Node>, std::less<>> changes_;
    // Generation of every committed node it looked at (0 = absent).
    std::unordered_map<std::string, std::uint64_t> seen_;
    std::vector<StoreEvent> events_;
    std::size_t created_ = 0;
};

}  // namespace xen9p::sim
