// What max-files and max-space should count in an export, recounted from the
// host side independently of the code under test: every inode below the root
// (the root excluded) once, with its st_blocks * 512, plus the unlinked inodes
// the test still holds open through `held` fds.
#pragma once

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <utility>

namespace xen9p::fs::test {

struct Usage {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    friend bool operator==(const Usage&, const Usage&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const Usage& u) {
    return os << "{files " << u.files << " bytes " << u.bytes << "}";
}

inline Usage recount(const std::string& root, std::span<const int> held = {}) {
    Usage u;
    std::set<std::pair<dev_t, ino_t>> seen;
    auto add = [&](const struct stat& st) {
        if (!seen.insert({st.st_dev, st.st_ino}).second) return;
        ++u.files;
        u.bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
    };
    namespace stdfs = std::filesystem;
    for (const auto& entry : stdfs::recursive_directory_iterator(root)) {
        struct stat st {};
        BOOST_REQUIRE(::lstat(entry.path().c_str(), &st) == 0);
        add(st);
    }
    for (int fd : held) {
        struct stat st {};
        BOOST_REQUIRE(::fstat(fd, &st) == 0);
        if (st.st_nlink == 0) add(st);
    }
    return u;
}

}  // namespace xen9p::fs::test
