// Builds 9P qids from statx results. qid.path is unique within one export even
// when other filesystems are mounted below it: each st_dev gets a small index
// kept in the top 8 bits; an inode number that does not fit the remaining 56
// bits keeps its low 44 bits and has its high part (with the device) replaced
// by a small index, so the table grows with the distinct high parts (few: a
// layer or generation number), never with the files. qid.version changes
// whenever mtime, ctime or size do.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "base/errno.hpp"
#include "p9proto/messages.hpp"

namespace xen9p::fs {

class QidMap {
  public:
    // Distinct high parts of inode numbers wider than 56 bits (with their
    // device) that one export may show; about 200 KiB of table at most.
    static constexpr std::size_t kMaxWidePrefixes = 4096;
    // Devices with an index of their own (the top index is the wide inodes').
    static constexpr std::size_t kMaxDevices = 255;

    // What the map numbered, in the order it did: the st_dev of each device
    // index, and the (st_dev, high part) of each wide prefix index. A server
    // that replaces a dead one restores them, so that every file keeps its qid.
    struct Tables {
        std::vector<std::uint64_t> devices;
        std::vector<std::pair<std::uint64_t, std::uint64_t>> wide_prefixes;
    };
    Tables tables() const;
    // Entries numbered so far: changes whenever tables() does.
    std::size_t entries() const { return devices_.size() + wide_prefixes_.size(); }
    // Replaces the tables; EUCLEAN for duplicates or too many entries.
    Status restore(const Tables& tables);

    // The qid of the file `st` describes (stx_mode, stx_ino, stx_dev_*,
    // stx_mtime, stx_ctime, stx_size must be filled). EOVERFLOW only when the
    // export spans more than 255 devices, or past kMaxWidePrefixes.
    Result<p9proto::Qid> qid(const struct statx& st);

    // The qid of a directory entry: same path as qid() for that file, version 0
    // (readdir has no stat per entry). `dtype` is the DT_* value of the entry.
    Result<p9proto::Qid> entry_qid(std::uint64_t dev, std::uint64_t ino, unsigned char dtype);

    // qid.type for a file mode.
    static std::uint8_t type_of_mode(std::uint32_t mode);

  private:
    Result<std::uint64_t> path_of(std::uint64_t dev, std::uint64_t ino);

    std::vector<std::uint64_t> devices_;  // index -> st_dev
    // (st_dev, ino >> 44) -> index, for inode numbers wider than 56 bits.
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t> wide_prefixes_;
};

}  // namespace xen9p::fs
