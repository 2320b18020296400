// One file of the export as a fid sees it: an O_PATH|O_NOFOLLOW fd, plus where it
// was found (the parent directory's fd, shared, and the entry name) so that
// Tremove can unlink it without any path string. Move-only; clone() for Twalk
// with no names. The fd is shared by clones and by the children found through
// it (as their parent fd); while any of them lives it pins its inode with the
// export's quota accounting (an InodePin), so that an inode unlinked while a fid
// still reaches it stays counted until the last of them goes.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/errno.hpp"
#include "base/unique_fd.hpp"

namespace xen9p::fs {

class SpaceLimits;

class Node {
  public:
    Node() = default;
    // A node with no known parent (the export root, a ".."). With `limits`,
    // the fd pins its inode there (nothing happens unless usage is counted).
    explicit Node(UniqueFd fd, SpaceLimits* limits = nullptr);
    Node(UniqueFd fd, SpaceLimits* limits, std::shared_ptr<const UniqueFd> parent,
         std::string name);
    // From descriptors already shared (pinned by share()): how a server that
    // replaces a dead one rebuilds the nodes it left.
    Node(std::shared_ptr<const UniqueFd> fd, std::shared_ptr<const UniqueFd> parent,
         std::string name)
        : fd_(std::move(fd)), parent_(std::move(parent)), name_(std::move(name)) {}
    // `fd`, to be shared by nodes, pinning its inode in `limits` as a walk does.
    static std::shared_ptr<const UniqueFd> share(UniqueFd fd, SpaceLimits* limits);

    Node(Node&&) noexcept = default;
    Node& operator=(Node&&) noexcept = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    explicit operator bool() const { return fd_ && *fd_; }
    int fd() const { return fd_ ? fd_->get() : -1; }

    // Another node for the same file and origin (shares the fd).
    Node clone() const;

    // The parent directory fd and name this node was reached through; -1 and ""
    // for the root. May be stale after a rename by someone else: users verify.
    int parent_fd() const { return parent_ ? parent_->get() : -1; }
    std::string_view name() const { return name_; }
    const std::shared_ptr<const UniqueFd>& shared_fd() const { return fd_; }

    // The directory this node was reached through, as a node of its own that
    // shares its fd (its own origin unknown); an empty node for the root.
    Node parent() const;

    // After this node was renamed to (new_parent, new_name).
    void moved(const Node& new_parent, std::string_view new_name);

  private:
    std::shared_ptr<const UniqueFd> fd_;
    std::shared_ptr<const UniqueFd> parent_;
    std::string name_;
};

}  // namespace xen9p::fs
