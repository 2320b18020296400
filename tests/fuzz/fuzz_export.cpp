#include "tests/fuzz/fuzz_export.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace xen9p::fuzz {

namespace {

[[noreturn]] void die(const std::string& why) {
    std::fprintf(stderr, "fuzz_export: %s\n", why.c_str());
    std::abort();
}

void remove_tree(const std::string& path) {
    ::nftw(
        path.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 64,
        FTW_DEPTH | FTW_PHYS);
}

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0755) != 0) die("mkdir " + path);
}

void make_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) die("write " + path);
}

void make_symlink(const std::string& target, const std::string& path) {
    if (::symlink(target.c_str(), path.c_str()) != 0) die("symlink " + path);
}

// One line per path: metadata, contents (regular files), xattrs and entries.
void describe(const std::string& path, std::ostringstream& out) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        out << path << " missing\n";
        return;
    }
    out << path << " mode=" << st.st_mode << " uid=" << st.st_uid << " gid=" << st.st_gid
        << " size=" << st.st_size << " nlink=" << st.st_nlink << " ino=" << st.st_ino
        << " mtime=" << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
    char names[4096];
    const ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
    out << " xattrs="
        << (n < 0 ? std::string("?") : std::string(names, static_cast<std::size_t>(n)));
    if (S_ISREG(st.st_mode)) {
        std::ifstream in(path, std::ios::binary);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        out << " content=" << content;
    }
    if (S_ISDIR(st.st_mode)) {
        std::vector<std::string> entries;
        if (DIR* d = ::opendir(path.c_str())) {
            while (dirent* e = ::readdir(d))
                entries.emplace_back(e->d_name);
            ::closedir(d);
        }
        std::sort(entries.begin(), entries.end());
        out << " entries=";
        for (const auto& e : entries)
            out << e << ",";
    }
    out << "\n";
}

}  // namespace

FuzzExport::FuzzExport() {
    char tmpl[] = "/dev/shm/xen9p_fuzz_XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) die("mkdtemp");
    top_ = tmpl;
    export_ = top_ + "/export";
    make_file(top_ + "/sentinel", "outside the export\n");
    make_dir(top_ + "/sentinel_dir");
    make_file(top_ + "/sentinel_dir/inner", "also outside\n");
    reset();
    baseline_ = snapshot();
}

FuzzExport::~FuzzExport() {
    remove_tree(top_);
}

void FuzzExport::reset() {
    remove_tree(export_);
    make_dir(export_);
    make_file(export_ + "/file", "hello world\n");
    make_dir(export_ + "/dir");
    make_dir(export_ + "/dir/sub");
    make_file(export_ + "/dir/sub/deep", "deep\n");
    make_symlink("file", export_ + "/link");
    make_symlink("../sentinel", export_ + "/escape");
    make_dir(export_ + "/empty");
}

std::string FuzzExport::snapshot() const {
    std::ostringstream out;
    // The top directory's own mtime changes with every reset of the export,
    // so it is described by its entries only.
    std::vector<std::string> entries;
    if (DIR* d = ::opendir(top_.c_str())) {
        while (dirent* e = ::readdir(d))
            entries.emplace_back(e->d_name);
        ::closedir(d);
    }
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries)
        out << "top:" << e << "\n";
    describe(top_ + "/sentinel", out);
    describe(top_ + "/sentinel_dir", out);
    describe(top_ + "/sentinel_dir/inner", out);
    return out.str();
}

std::string FuzzExport::outside_changes() const {
    std::string now = snapshot();
    if (now == baseline_) return {};
    return "before:\n" + baseline_ + "after:\n" + now;
}

}  // namespace xen9p::fuzz
