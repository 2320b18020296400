#include "backend/fs/space_limits.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <functional>
#include <string>

#include "xenring/unique_fd.hpp"

namespace xen9p::fs {
namespace {

constexpr std::uint64_t kMiB = 1024 * 1024;
// Deeper directories are not counted: bounds fds and stack of the walk.
constexpr int kMaxScanDepth = 128;

// Calls `visit(dirfd, name, statx)` for every regular file below `dir_fd`.
using Visit = std::function<void(int, const char*, const struct statx&)>;

Status walk_tree(int dir_fd, int depth, const Visit& visit) {
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail_errno();
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
        int err = errno;
        ::close(fd);
        return fail(err);
    }
    Status result;
    while (struct dirent* ent = ::readdir(dir)) {
        std::string_view name = ent->d_name;
        if (name == "." || name == "..") continue;
        struct statx st {};
        if (::statx(fd, ent->d_name, AT_SYMLINK_NOFOLLOW,
                    STATX_TYPE | STATX_SIZE | STATX_MTIME | STATX_INO, &st) != 0) {
            continue;  // vanished meanwhile
        }
        if (S_ISREG(st.stx_mode)) {
            visit(fd, ent->d_name, st);
        } else if (S_ISDIR(st.stx_mode) && depth < kMaxScanDepth) {
            int sub = ::openat(fd, ent->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) continue;
            UniqueFd sub_fd(sub);
            if (auto s = walk_tree(sub_fd.get(), depth + 1, visit); !s) result = s;
        }
    }
    ::closedir(dir);
    return result;
}

}  // namespace

Status SpaceLimits::scan(int root_fd) {
    files_ = 0;
    bytes_ = 0;
    return walk_tree(root_fd, 0, [this](int, const char*, const struct statx& st) {
        ++files_;
        bytes_ += st.stx_size;
    });
}

bool SpaceLimits::over(std::uint64_t files, std::uint64_t bytes) const {
    if (config_.max_files != 0 && files > config_.max_files) return true;
    return config_.max_space_mib != 0 && bytes > std::uint64_t{config_.max_space_mib} * kMiB;
}

Status SpaceLimits::evict_one(int root_fd) {
    UniqueFd best_dir;
    std::string best_name;
    struct statx_timestamp best_time {};
    std::uint64_t best_size = 0;
    bool found = false;
    auto s = walk_tree(root_fd, 0, [&](int dir_fd, const char* name, const struct statx& st) {
        FileId id{makedev(st.stx_dev_major, st.stx_dev_minor), st.stx_ino};
        if (open_.contains(id)) return;
        if (found && (st.stx_mtime.tv_sec > best_time.tv_sec ||
                      (st.stx_mtime.tv_sec == best_time.tv_sec &&
                       st.stx_mtime.tv_nsec >= best_time.tv_nsec))) {
            return;
        }
        int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
        if (dup < 0) return;
        best_dir.reset(dup);
        best_name = name;
        best_time = st.stx_mtime;
        best_size = st.stx_size;
        found = true;
    });
    if (!s) return s;
    if (!found) return fail(ENOSPC);
    if (::unlinkat(best_dir.get(), best_name.c_str(), 0) != 0) return fail_errno();
    file_removed(best_size);
    return {};
}

Status SpaceLimits::reserve_file(int root_fd) {
    if (config_.max_files == 0) return {};
    while (over(files_ + 1, bytes_)) {
        if (!config_.auto_delete) return fail(ENOSPC);
        if (auto s = evict_one(root_fd); !s) return fail(ENOSPC);
    }
    return {};
}

Status SpaceLimits::reserve_growth(int root_fd, std::uint64_t old_size, std::uint64_t new_size) {
    if (config_.max_space_mib == 0 || new_size <= old_size) return {};
    while (over(files_, bytes_ + (new_size - old_size))) {
        if (!config_.auto_delete) return fail(ENOSPC);
        if (auto s = evict_one(root_fd); !s) return fail(ENOSPC);
    }
    return {};
}

void SpaceLimits::file_removed(std::uint64_t size) {
    if (files_ > 0) --files_;
    bytes_ = bytes_ > size ? bytes_ - size : 0;
}

void SpaceLimits::size_changed(std::uint64_t old_size, std::uint64_t new_size) {
    if (new_size >= old_size) {
        bytes_ += new_size - old_size;
    } else {
        std::uint64_t shrink = old_size - new_size;
        bytes_ = bytes_ > shrink ? bytes_ - shrink : 0;
    }
}

Status SpaceLimits::opened(FileId id) {
    if (config_.max_open_files != 0 && open_count_ >= config_.max_open_files) return fail(EMFILE);
    ++open_count_;
    ++open_[id];
    return {};
}

void SpaceLimits::closed(FileId id) {
    if (open_count_ > 0) --open_count_;
    auto it = open_.find(id);
    if (it == open_.end()) return;
    if (--it->second == 0) open_.erase(it);
}

}  // namespace xen9p::fs
