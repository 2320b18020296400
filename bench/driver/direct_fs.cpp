#include "bench/driver/direct_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace xen9p::bench {
namespace {

// The same buffer size the 9P clients ask Treaddir for (Linux's default msize).
constexpr std::size_t kDirentBuffer = 128 * 1024;

std::string relative(std::string_view path) {
    return path.empty() ? "." : std::string(path);
}

}  // namespace

Result<std::unique_ptr<DirectFs>> DirectFs::open_root(const std::string& dir) {
    UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail_errno();
    return std::unique_ptr<DirectFs>(new DirectFs(std::move(root)));
}

Result<Handle> DirectFs::keep(int fd) {
    if (fd < 0) return fail_errno();
    auto handle = static_cast<Handle>(fd);
    fds_.insert_or_assign(handle, UniqueFd(fd));
    return handle;
}

Result<int> DirectFs::fd_of(Handle handle) const {
    auto it = fds_.find(handle);
    if (it == fds_.end()) return fail(EBADF);
    return it->second.get();
}

Result<Handle> DirectFs::walk(std::string_view path) {
    return keep(::openat(root_.get(), relative(path).c_str(), O_PATH | O_CLOEXEC));
}

Result<Handle> DirectFs::open(std::string_view path, int flags) {
    return keep(::openat(root_.get(), relative(path).c_str(), flags | O_CLOEXEC));
}

Result<Handle> DirectFs::create(Handle dir, std::string_view name, int flags, std::uint32_t mode) {
    auto dirfd = fd_of(dir);
    if (!dirfd) return std::unexpected(dirfd.error());
    return keep(::openat(*dirfd, std::string(name).c_str(), flags | O_CREAT | O_CLOEXEC, mode));
}

Status DirectFs::close(Handle handle) {
    auto it = fds_.find(handle);
    if (it == fds_.end()) return fail(EBADF);
    int fd = it->second.release();
    fds_.erase(it);
    if (::close(fd) != 0) return fail_errno();
    return {};
}

Status DirectFs::getattr(Handle handle) {
    auto fd = fd_of(handle);
    if (!fd) return std::unexpected(fd.error());
    struct stat st {};
    if (::fstat(*fd, &st) != 0) return fail_errno();
    return {};
}

Status DirectFs::unlink(Handle dir, std::string_view name) {
    auto dirfd = fd_of(dir);
    if (!dirfd) return std::unexpected(dirfd.error());
    if (::unlinkat(*dirfd, std::string(name).c_str(), 0) != 0) return fail_errno();
    return {};
}

Result<std::uint64_t> DirectFs::readdir(Handle dir) {
    auto fd = fd_of(dir);
    if (!fd) return std::unexpected(fd.error());
    dirents_.resize(kDirentBuffer);
    if (::lseek(*fd, 0, SEEK_SET) < 0) return fail_errno();
    std::uint64_t entries = 0;
    for (;;) {
        long n = ::syscall(SYS_getdents64, *fd, dirents_.data(), dirents_.size());
        if (n < 0) return fail_errno();
        if (n == 0) return entries;
        for (long pos = 0; pos < n;) {
            auto* entry = reinterpret_cast<const struct dirent64*>(dirents_.data() + pos);
            if (entry->d_reclen == 0) return fail(EIO);
            pos += entry->d_reclen;
            ++entries;
        }
    }
}

Result<std::uint64_t> DirectFs::io(Handle file, IoKind kind, const NextOp& next, unsigned /*depth*/,
                                   std::span<std::byte> buffer) {
    auto fd = fd_of(file);
    if (!fd) return std::unexpected(fd.error());
    std::uint64_t moved = 0;
    IoOp op;
    while (next(op)) {
        if (op.length > buffer.size()) return fail(EINVAL);
        auto offset = static_cast<off_t>(op.offset);
        ssize_t n = kind == IoKind::kRead ? ::pread(*fd, buffer.data(), op.length, offset)
                                          : ::pwrite(*fd, buffer.data(), op.length, offset);
        if (n < 0) return fail_errno();
        if (static_cast<std::size_t>(n) != op.length) return fail(EIO);
        moved += static_cast<std::uint64_t>(n);
    }
    return moved;
}

}  // namespace xen9p::bench
