#include "backend/fs/node.hpp"

namespace xen9p::fs {

Node Node::clone() const {
    Node copy;
    copy.fd_ = fd_;
    copy.parent_ = parent_;
    copy.name_ = name_;
    return copy;
}

void Node::moved(const Node& new_parent, std::string_view new_name) {
    parent_ = new_parent.fd_;
    name_ = std::string(new_name);
}

}  // namespace xen9p::fs
