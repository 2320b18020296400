#include "backend/fs/readdir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "backend/fs/host_dirent.hpp"
#include "backend/fs/host_file.hpp"
#include "p9proto/dirent.hpp"

namespace xen9p::fs {
namespace {

constexpr std::size_t kGetdentsBuffer = 32 * 1024;

}  // namespace

Result<std::size_t> read_dir(Export& ex, const OpenFile& dir, std::uint64_t offset,
                             std::span<std::byte> out) {
    if (!dir) return fail(EBADF);
    auto st = stat_fd(dir.fd(), STATX_TYPE | STATX_INO);
    if (!st) return std::unexpected(st.error());
    if (!S_ISDIR(st->stx_mode)) return fail(ENOTDIR);
    if (offset > static_cast<std::uint64_t>(INT64_MAX)) return fail(EINVAL);
    std::uint64_t dev = makedev(st->stx_dev_major, st->stx_dev_minor);
    if (::lseek(dir.fd(), static_cast<off_t>(offset), SEEK_SET) < 0) return fail_errno();

    p9proto::DirentWriter writer(out);
    alignas(8) std::array<std::byte, kGetdentsBuffer> buf;
    // Read no more host entries than the reply could plausibly hold.
    std::size_t want = std::min(buf.size(), std::max<std::size_t>(out.size() * 2, 1024));
    for (;;) {
        long n = ::syscall(SYS_getdents64, dir.fd(), buf.data(), want);
        if (n < 0) return fail_errno();
        if (n == 0) break;
        std::size_t pos = 0;
        while (pos < static_cast<std::size_t>(n)) {
            const auto raw = host_dirent_at(buf, pos);
            pos += raw.reclen;
            auto qid = ex.qids().entry_qid(dev, raw.ino, raw.type);
            if (!qid) return std::unexpected(qid.error());
            p9proto::Dirent entry{*qid, static_cast<std::uint64_t>(raw.off), raw.type, raw.name};
            if (!writer.add(entry)) {
                // The next call starts at this entry's cookie: it is not lost.
                if (writer.size() == 0) return fail(EINVAL);
                return writer.size();
            }
        }
    }
    return writer.size();
}

}  // namespace xen9p::fs
