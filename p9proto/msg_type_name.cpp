#include "p9proto/msg_type_name.hpp"

#include <array>
#include <utility>

namespace xen9p::p9proto {
namespace {

constexpr std::array<std::pair<MsgType, std::string_view>, 32> kRequests{{
    {MsgType::Tstatfs, "statfs"},
    {MsgType::Tlopen, "lopen"},
    {MsgType::Tlcreate, "lcreate"},
    {MsgType::Tsymlink, "symlink"},
    {MsgType::Tmknod, "mknod"},
    {MsgType::Trename, "rename"},
    {MsgType::Treadlink, "readlink"},
    {MsgType::Tgetattr, "getattr"},
    {MsgType::Tsetattr, "setattr"},
    {MsgType::Txattrwalk, "xattrwalk"},
    {MsgType::Txattrcreate, "xattrcreate"},
    {MsgType::Treaddir, "readdir"},
    {MsgType::Tfsync, "fsync"},
    {MsgType::Tlock, "lock"},
    {MsgType::Tgetlock, "getlock"},
    {MsgType::Tlink, "link"},
    {MsgType::Tmkdir, "mkdir"},
    {MsgType::Trenameat, "renameat"},
    {MsgType::Tunlinkat, "unlinkat"},
    {MsgType::Tversion, "version"},
    {MsgType::Tauth, "auth"},
    {MsgType::Tattach, "attach"},
    {MsgType::Tflush, "flush"},
    {MsgType::Twalk, "walk"},
    {MsgType::Tread, "read"},
    {MsgType::Twrite, "write"},
    {MsgType::Tclunk, "clunk"},
    {MsgType::Tremove, "remove"},
    {MsgType::Topen, "open"},
    {MsgType::Tcreate, "create"},
    {MsgType::Tstat, "stat"},
    {MsgType::Twstat, "wstat"},
}};

}  // namespace

std::string_view request_name(MsgType type) {
    for (const auto& [t, name] : kRequests) {
        if (t == type) return name;
    }
    return {};
}

std::optional<MsgType> request_of_name(std::string_view name) {
    if (name.empty()) return std::nullopt;
    for (const auto& [t, n] : kRequests) {
        if (n == name) return t;
    }
    return std::nullopt;
}

}  // namespace xen9p::p9proto
