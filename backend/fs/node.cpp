#include "backend/fs/node.hpp"

#include "backend/fs/space_limits.hpp"

namespace xen9p::fs {
namespace {

// What a node and its clones share: the fd and its pin, released (first, the
// fd still open) when the last of them goes, so exactly once.
struct PinnedFd {
    PinnedFd(UniqueFd owned, SpaceLimits* limits) : fd(std::move(owned)), pin(limits, fd.get()) {}
    UniqueFd fd;
    InodePin pin;
};

}  // namespace

std::shared_ptr<const UniqueFd> Node::share(UniqueFd fd, SpaceLimits* limits) {
    auto held = std::make_shared<PinnedFd>(std::move(fd), limits);
    return std::shared_ptr<const UniqueFd>(held, &held->fd);
}

Node::Node(UniqueFd fd, SpaceLimits* limits) : fd_(share(std::move(fd), limits)) {}

Node::Node(UniqueFd fd, SpaceLimits* limits, std::shared_ptr<const UniqueFd> parent,
           std::string name)
    : fd_(share(std::move(fd), limits)), parent_(std::move(parent)), name_(std::move(name)) {}

Node Node::clone() const {
    Node copy;
    copy.fd_ = fd_;
    copy.parent_ = parent_;
    copy.name_ = name_;
    return copy;
}

Node Node::parent() const {
    Node up;
    up.fd_ = parent_;
    return up;
}

void Node::moved(const Node& new_parent, std::string_view new_name) {
    parent_ = new_parent.fd_;
    name_ = std::string(new_name);
}

}  // namespace xen9p::fs
