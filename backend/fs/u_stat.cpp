#include "backend/fs/u_stat.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "backend/fs/attr.hpp"
#include "backend/fs/entries.hpp"
#include "backend/fs/host_dirent.hpp"
#include "backend/fs/walk.hpp"
#include "p9proto/codec.hpp"

namespace xen9p::fs {
namespace {

constexpr std::size_t kGetdentsBuffer = 16 * 1024;

}  // namespace

Result<p9proto::UStat> u_stat(Export& ex, const Caller& who, const Node& node,
                              std::string_view name, std::string& extension) {
    auto attr = getattr(ex, node, p9proto::getattr::kBasic);
    if (!attr) return std::unexpected(attr.error());
    const std::uint32_t type = attr->mode & S_IFMT;
    extension.clear();
    if (type == S_IFLNK) {
        auto target = read_link(ex, who, node);
        if (!target) return std::unexpected(target.error());
        extension = std::move(*target);
    } else if (type == S_IFCHR || type == S_IFBLK) {
        extension = std::string(type == S_IFCHR ? "c " : "b ") + std::to_string(major(attr->rdev)) +
                    " " + std::to_string(minor(attr->rdev));
    } else if (type == S_IFREG || type == S_IFDIR) {
        // The stat has no link count; Linux reads it from here, as QEMU sends it.
        extension = "HARDLINKCOUNT " + std::to_string(attr->nlink);
    }
    p9proto::UStat st;
    st.qid = attr->qid;
    st.mode = p9proto::u_mode_of(attr->mode);
    // 9P2000.u times are 32-bit seconds.
    st.atime = static_cast<std::uint32_t>(attr->atime_sec);
    st.mtime = static_cast<std::uint32_t>(attr->mtime_sec);
    st.length = attr->size;
    st.name = p9proto::Text{name};
    st.extension = p9proto::Text{extension};
    st.n_uid = attr->uid;
    st.n_gid = attr->gid;
    st.n_muid = 0;
    return st;
}

Result<StatsRead> read_dir_stats(Export& ex, const Caller& who, const Node& dir,
                                 const OpenFile& open, std::uint64_t cookie,
                                 std::span<std::byte> out) {
    if (!open) return fail(EBADF);
    if (cookie > static_cast<std::uint64_t>(INT64_MAX)) return fail(EINVAL);
    if (::lseek(open.fd(), static_cast<off_t>(cookie), SEEK_SET) < 0) return fail_errno();
    StatsRead done{0, cookie};
    alignas(8) std::array<std::byte, kGetdentsBuffer> buf;
    std::string extension;
    for (;;) {
        long n = ::syscall(SYS_getdents64, open.fd(), buf.data(), buf.size());
        if (n < 0) return fail_errno();
        if (n == 0) return done;
        std::size_t pos = 0;
        while (pos < static_cast<std::size_t>(n)) {
            const auto raw = host_dirent_at(buf, pos);
            const auto name = raw.name;
            pos += raw.reclen;
            auto node = walk_one(ex, who, dir, name);
            Result<p9proto::UStat> st =
                node ? u_stat(ex, who, *node, name, extension) : std::unexpected(node.error());
            if (!st && st.error().value == ENOENT) {
                // Removed since getdents saw it.
                done.next_cookie = static_cast<std::uint64_t>(raw.off);
                continue;
            }
            if (!st) return std::unexpected(st.error());
            auto written = p9proto::encode_stat_record(*st, out.subspan(done.size));
            if (!written) {
                // This entry starts the next read: done.next_cookie is its cookie.
                if (done.size == 0) return fail(EINVAL);
                return done;
            }
            done.size += *written;
            done.next_cookie = static_cast<std::uint64_t>(raw.off);
        }
    }
}

}  // namespace xen9p::fs
