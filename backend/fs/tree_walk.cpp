#include "backend/fs/tree_walk.hpp"

#include <dirent.h>
#include <fcntl.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"

namespace xen9p::fs {
namespace {

constexpr unsigned kMask =
    STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_INO | STATX_SIZE | STATX_BLOCKS | STATX_MTIME;

struct DirId {
    std::uint32_t dev_major = 0;
    std::uint32_t dev_minor = 0;
    std::uint64_t ino = 0;
    friend bool operator==(const DirId&, const DirId&) = default;
};

// One directory on the way down: who it is and the subdirectories still to visit.
// Names, not fds: the fd cost stays constant at any depth.
struct Frame {
    DirId id;
    std::vector<std::string> subdirs;
};

Result<DirId> id_of(int fd) {
    struct statx st {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_INO, &st) != 0) {
        return fail_errno();
    }
    return DirId{st.stx_dev_major, st.stx_dev_minor, st.stx_ino};
}

Result<UniqueFd> open_dir(int at, const char* name) {
    int fd = ::openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return fail_errno();
    return UniqueFd(fd);
}

// Visits the entries of `dir` and returns its frame (the subdirectories to enter).
Result<Frame> read_dir(int dir, const EntryVisit& visit) {
    auto id = id_of(dir);
    if (!id) return std::unexpected(id.error());
    Frame frame{*id, {}};
    int fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail_errno();
    DIR* stream = ::fdopendir(fd);
    if (stream == nullptr) {
        int err = errno;
        ::close(fd);
        return fail(err);
    }
    while (struct dirent* ent = ::readdir(stream)) {
        std::string_view name = ent->d_name;
        if (name == "." || name == "..") continue;
        struct statx st {};
        if (::statx(dir, ent->d_name, AT_SYMLINK_NOFOLLOW, kMask, &st) != 0) continue;  // gone
        visit(dir, ent->d_name, st);
        if (S_ISDIR(st.stx_mode)) frame.subdirs.emplace_back(name);
    }
    ::closedir(stream);
    return frame;
}

}  // namespace

Status walk_tree(int root_fd, const EntryVisit& visit) {
    auto cur = open_dir(root_fd, ".");
    if (!cur) return std::unexpected(cur.error());
    auto first = read_dir(cur->get(), visit);
    if (!first) return std::unexpected(first.error());
    std::vector<Frame> stack;
    stack.push_back(std::move(*first));
    while (!stack.empty()) {
        Frame& top = stack.back();
        if (top.subdirs.empty()) {
            stack.pop_back();
            if (stack.empty()) break;
            auto up = open_dir(cur->get(), "..");
            if (!up) return std::unexpected(up.error());
            auto up_id = id_of(up->get());
            if (!up_id) return std::unexpected(up_id.error());
            if (*up_id != stack.back().id) return fail(ESTALE);
            *cur = std::move(*up);
            continue;
        }
        std::string name = std::move(top.subdirs.back());
        top.subdirs.pop_back();
        auto down = open_dir(cur->get(), name.c_str());
        if (!down) continue;  // vanished or replaced by a non-directory meanwhile
        auto frame = read_dir(down->get(), visit);
        if (!frame) continue;
        *cur = std::move(*down);
        stack.push_back(std::move(*frame));
    }
    return {};
}

}  // namespace xen9p::fs
