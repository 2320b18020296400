// Shared helpers of the file-layer tests: a temporary export and host-side
// shortcuts (the tests may use path strings; the code under test never does).
#pragma once

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <ostream>
#include <string>
#include <string_view>

#include "backend/fs/caller.hpp"
#include "backend/fs/export.hpp"
#include "backend/fs/node.hpp"
#include "backend/fs/walk.hpp"

namespace xen9p::p9proto {
inline std::ostream& operator<<(std::ostream& os, const Qid& q) {
    return os << "{type " << int(q.type) << " version " << q.version << " path " << q.path << "}";
}
}  // namespace xen9p::p9proto

namespace xen9p::fs::test {

// A directory removed (recursively) on destruction.
class TempDir {
  public:
    // `base` must exist; tests that need many entries use a tmpfs (/dev/shm).
    explicit TempDir(const char* base = "/tmp") {
        std::string tmpl = std::string(base) + "/xen9p_fs_XXXXXX";
        BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path_ = tmpl;
    }
    ~TempDir() {
        ::nftw(
            path_.c_str(),
            [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 64,
            FTW_DEPTH | FTW_PHYS);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string operator/(std::string_view rel) const { return path_ + "/" + std::string(rel); }

  private:
    std::string path_;
};

template <class T>
T must(Result<T> r) {
    BOOST_REQUIRE_MESSAGE(r.has_value(), "unexpected error: " << r.error().value);
    return std::move(*r);
}

inline void must(Status s) {
    BOOST_REQUIRE_MESSAGE(s.has_value(), "unexpected error: " << s.error().value);
}

template <class T>
int err(const Result<T>& r) {
    return r.has_value() ? 0 : r.error().value;
}
inline int err(const Status& s) {
    return s.has_value() ? 0 : s.error().value;
}

// A temporary export: `top` is a scratch dir, the export is top/export so tests
// can move things out of it.
struct Fx {
    explicit Fx(ExportConfig cfg = {}, const char* base = "/tmp")
        : top(base), ex(open_export(top, cfg)), root(must(ex.root())) {}

    static Export open_export(const TempDir& top, const ExportConfig& cfg) {
        BOOST_REQUIRE(::mkdir((top / "export").c_str(), 0755) == 0);
        return must(Export::open(top / "export", cfg));
    }

    std::string host(std::string_view rel) const { return top / ("export/" + std::string(rel)); }

    void write_file(std::string_view rel, std::string_view content, mode_t mode = 0644) {
        int fd = ::open(host(rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        BOOST_REQUIRE(fd >= 0);
        BOOST_REQUIRE(::write(fd, content.data(), content.size()) ==
                      static_cast<ssize_t>(content.size()));
        ::close(fd);
    }
    void make_dir(std::string_view rel) { BOOST_REQUIRE(::mkdir(host(rel).c_str(), 0755) == 0); }

    // Walks a '/'-separated relative path from the root.
    Result<Node> walk(std::string_view rel) {
        Node cur = root.clone();
        while (!rel.empty()) {
            auto slash = rel.find('/');
            std::string_view name = rel.substr(0, slash);
            auto next = walk_one(ex, me, cur, name);
            if (!next) return next;
            cur = std::move(*next);
            rel = slash == std::string_view::npos ? std::string_view{} : rel.substr(slash + 1);
        }
        return cur;
    }

    TempDir top;
    Export ex;
    Node root;
    Caller me{0, 0};
};

inline ExportConfig model(SecurityModel m) {
    ExportConfig cfg;
    cfg.model = m;
    return cfg;
}

}  // namespace xen9p::fs::test
