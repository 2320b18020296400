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
// Holds any one host entry (a 255-byte name takes 280).
constexpr std::size_t kOneHostEntry = 512;
// The smallest host record: getdents64 refuses a buffer below it.
constexpr std::size_t kSmallestHostEntry = 24;

// Host bytes whose entries surely fit `room` bytes once packed: a host record
// (8-aligned 20 + name bytes) is never less than 6/7 of its packed size (24 +
// name bytes; the worst is a 4-byte name, 24 against 28).
std::size_t host_bytes_fitting(std::size_t room) {
    return room / 7 * 6;
}

}  // namespace

Result<std::size_t> read_dir(Export& ex, OpenFile& dir, std::uint64_t offset,
                             std::span<std::byte> out) {
    if (!dir) return fail(EBADF);
    auto st = stat_fd(dir.fd(), STATX_TYPE | STATX_INO);
    if (!st) return std::unexpected(st.error());
    if (!S_ISDIR(st->stx_mode)) return fail(ENOTDIR);
    if (offset > static_cast<std::uint64_t>(INT64_MAX)) return fail(EINVAL);
    std::uint64_t dev = makedev(st->stx_dev_major, st->stx_dev_minor);
    // A listing that goes on from the last reply's last entry reads on; any
    // other cookie is a seek. From here, `position` is cleared whenever the
    // descriptor passes an entry no reply took.
    auto& position = dir.dir_position();
    if (position != offset) {
        position.reset();
        if (::lseek(dir.fd(), static_cast<off_t>(offset), SEEK_SET) < 0) return fail_errno();
        position = offset;
    }

    p9proto::DirentWriter writer(out);
    alignas(8) std::array<std::byte, kGetdentsBuffer> buf;
    for (;;) {
        // No more host entries than the reply surely holds, so that none is
        // read and dropped (which would cost the next call a seek).
        std::size_t want = std::min(buf.size(), host_bytes_fitting(out.size() - writer.size()));
        if (want < kSmallestHostEntry && writer.size() > 0) break;
        long n =
            ::syscall(SYS_getdents64, dir.fd(), buf.data(), std::max(want, kSmallestHostEntry));
        if (n < 0 && errno == EINVAL) {
            // The next entry is larger than the room left: the reply is full.
            if (writer.size() > 0) break;
            // Not even one: read it whole and see whether it fits after all.
            n = ::syscall(SYS_getdents64, dir.fd(), buf.data(), kOneHostEntry);
        }
        if (n < 0) {
            position.reset();
            return fail_errno();
        }
        if (n == 0) break;
        std::size_t pos = 0;
        while (pos < static_cast<std::size_t>(n)) {
            const auto raw = host_dirent_at(buf, pos);
            pos += raw.reclen;
            auto qid = ex.qids().entry_qid(dev, raw.ino, raw.type);
            if (!qid) {
                position.reset();
                return std::unexpected(qid.error());
            }
            p9proto::Dirent entry{*qid, static_cast<std::uint64_t>(raw.off), raw.type, raw.name};
            if (!writer.add(entry)) {
                // The next call starts at this entry's cookie: it is not lost.
                position.reset();
                if (writer.size() == 0) return fail(EINVAL);
                return writer.size();
            }
            position = static_cast<std::uint64_t>(raw.off);
        }
    }
    return writer.size();
}

}  // namespace xen9p::fs
