// A compromised worker holds whatever fds the worker opened, and may call
// anything its seccomp list allows. Inside a real confined worker (the same
// confine_worker the daemon calls), every route out of the export is tried:
// ".." from every directory fd and from /proc/self/fd/N, absolute paths, the
// private proc's other entries. Every fd reached must be on the export's
// mount or on the worker's private proc; the host's files beside the export
// must be unreachable.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "backend/worker/confinement.hpp"
#include "base/unique_fd.hpp"
#include "tests/sandbox/confined_child.hpp"

namespace xen9p::test {
namespace {

struct Ident {
    std::uint64_t mnt_id = 0;
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::uint16_t mode = 0;
    long fs_type = 0;
};

std::optional<Ident> ident(int fd) {
    struct statx stx {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID | STATX_INO | STATX_TYPE,
                &stx) != 0)
        return std::nullopt;
    struct statfs sfs {};
    if (::fstatfs(fd, &sfs) != 0) return std::nullopt;
    return Ident{stx.stx_mnt_id, makedev(stx.stx_dev_major, stx.stx_dev_minor), stx.stx_ino,
                 stx.stx_mode, static_cast<long>(sfs.f_type)};
}

Ident host_ident(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
    BOOST_REQUIRE(fd);
    auto id = ident(fd.get());
    BOOST_REQUIRE(id);
    return *id;
}

// What the attacker must not reach, identified on the host before the child
// confines itself.
struct Targets {
    std::filesystem::path export_dir;
    std::string sentinel_rel;  // host path of a file beside the export, without the "/"
    Ident sentinel;
    Ident passwd;
    Ident host_root;
    Ident outside_dir;  // the directory holding the export
    pid_t test_pid = 0;
    fs::SecurityModel model = fs::SecurityModel::kNone;
};

std::vector<std::string> list_dir(int dir_fd) {
    std::vector<std::string> names;
    UniqueFd fd(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return names;
    alignas(8) char buf[4096];
    long n;
    while ((n = ::syscall(SYS_getdents64, fd.get(), buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            const auto* d = reinterpret_cast<const struct dirent64*>(buf + off);
            names.emplace_back(d->d_name);
            off += d->d_reclen;
        }
    }
    return names;
}

std::string dots(int n) {
    std::string path;
    for (int i = 0; i < n; ++i)
        path += "../";
    return path;
}

// The child's side: writes "FAIL <what>" for every escape, "DONE <checks>" at the end.
class Attacker {
  public:
    explicit Attacker(const Targets& t) : t_(t) {}

    int run() {
        sandbox::SandboxPolicy policy;
        policy.uid = kWorkerUid;
        policy.gid = kWorkerGid;
        policy.root = t_.export_dir;
        policy.max_open_files = 256;
        policy.keep_capabilities = sandbox::capabilities_for_security_model(
            std::string(fs::security_model_name(t_.model)));
        fs::ExportConfig config;
        config.model = t_.model;
        config.limits.max_files = 100000;  // the usage scan runs confined too
        auto confined = worker::confine_worker(policy, config);
        if (!confined) {
            say("FAIL confine_worker: " +
                std::string(worker::confinement_step_name(confined.error().step)) + ": " +
                confined.error().error.message());
            return 1;
        }
        fs::Export& ex = confined->ex;
        auto root = ident(ex.root_fd());
        auto proc = ident(ex.proc_fd());
        if (!root || !proc) {
            say("FAIL cannot stat the export's fds");
            return 1;
        }
        export_ = *root;
        proc_ = *proc;
        // Directories a guest's fids would hold.
        UniqueFd sub(::openat(ex.root_fd(), "sub", O_PATH | O_DIRECTORY | O_CLOEXEC));
        UniqueFd deeper(::openat(ex.root_fd(), "sub/deeper", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!sub || !deeper) say("FAIL cannot open the export's directories");

        for (const auto& name : list_dir(ex.proc_fd())) {
            if (name == "." || name == "..") continue;
            attack_fd(ex.proc_fd(), std::stoi(name));
        }
        attack_absolute();
        attack_proc(ex.proc_fd());
        if (t_.model == fs::SecurityModel::kPassthrough) device_nodes_do_not_open(ex.root_fd());
        say("DONE " + std::to_string(checks_));
        return 0;
    }

  private:
    void say(const std::string& line) {
        const std::string out = line + "\n";
        (void)!::write(1, out.data(), out.size());
    }

    static bool same_file(const Ident& a, const Ident& b) {
        return a.dev == b.dev && a.ino == b.ino;
    }

    // `fd` is what the route `route` opened (or -1): it must be inside the
    // export or the private proc, and none of the host's targets.
    void reached(const std::string& route, int fd) {
        ++checks_;
        UniqueFd owned(fd);
        if (fd < 0) return;
        auto id = ident(fd);
        if (!id) return say("FAIL " + route + ": cannot stat what it opened");
        if (same_file(*id, t_.sentinel) || same_file(*id, t_.passwd) ||
            same_file(*id, t_.host_root) || same_file(*id, t_.outside_dir))
            return say("FAIL " + route + ": reached a host file outside the export");
        if (id->mnt_id == export_.mnt_id) return;
        if (id->mnt_id == proc_.mnt_id) {
            if (id->ino == 1 && S_ISDIR(id->mode)) proc_root_shows_only_us(route, fd);
            return;
        }
        say("FAIL " + route + ": reached mount " + std::to_string(id->mnt_id) + " (export " +
            std::to_string(export_.mnt_id) + ", proc " + std::to_string(proc_.mnt_id) + ")");
    }

    void proc_root_shows_only_us(const std::string& route, int fd) {
        const std::string self = std::to_string(::getpid());
        for (const auto& name : list_dir(fd)) {
            if (name == "." || name == ".." || name == "self" || name == "thread-self" ||
                name == self)
                continue;
            say("FAIL " + route + ": proc shows " + name);
        }
    }

    void attack_fd(int proc_fd, int n) {
        const std::string what = "fd " + std::to_string(n);
        auto id = ident(n);
        if (!id) return;  // the listing's own fd, closed since
        ++checks_;
        // Besides the export and the private proc, a worker holds only
        // descriptors without a path: its io_uring ring and signalfd (anon
        // inodes), its control socket, and stdio pipes.
        if (id->mnt_id != export_.mnt_id && id->mnt_id != proc_.mnt_id &&
            id->fs_type != ANON_INODE_FS_MAGIC && id->fs_type != PIPEFS_MAGIC &&
            id->fs_type != SOCKFS_MAGIC) {
            say("FAIL " + what + " is on mount " + std::to_string(id->mnt_id) + ", fs type " +
                std::to_string(id->fs_type));
        }
        const std::string up8 = dots(8);
        if (S_ISDIR(id->mode)) {
            for (int depth = 1; depth <= 8; ++depth)
                reached(what + " " + dots(depth),
                        ::openat(n, dots(depth).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            reached(what + " ../../../etc/passwd",
                    ::openat(n, "../../../etc/passwd", O_RDONLY | O_CLOEXEC));
            reached(what + " up to the sentinel",
                    ::openat(n, (up8 + t_.sentinel_rel).c_str(), O_RDONLY | O_CLOEXEC));
            reached(what + " ../sentinel", ::openat(n, "../sentinel", O_RDONLY | O_CLOEXEC));
        }
        // The magic link re-opens the fd's own file: its ".." must not lead out either.
        const std::string link = std::to_string(n);
        reached("proc " + link + "/..",
                ::openat(proc_fd, (link + "/..").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        reached("proc " + link + "/" + up8,
                ::openat(proc_fd, (link + "/" + up8).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        reached(
            "proc " + link + " up to the sentinel",
            ::openat(proc_fd, (link + "/" + up8 + t_.sentinel_rel).c_str(), O_RDONLY | O_CLOEXEC));
    }

    void attack_absolute() {
        reached("/etc/passwd", ::open("/etc/passwd", O_RDONLY | O_CLOEXEC));
        reached("/<sentinel>", ::open(("/" + t_.sentinel_rel).c_str(), O_RDONLY | O_CLOEXEC));
        reached("/../../<sentinel>",
                ::open(("/../../" + t_.sentinel_rel).c_str(), O_RDONLY | O_CLOEXEC));
        reached("/..", ::open("/..", O_PATH | O_DIRECTORY | O_CLOEXEC));
        reached("/proc/1/root", ::open("/proc/1/root", O_PATH | O_CLOEXEC));
        reached("cwd ..", ::openat(AT_FDCWD, "../..", O_PATH | O_DIRECTORY | O_CLOEXEC));
    }

    void attack_proc(int proc_fd) {
        const char* routes[] = {"../../1/cmdline",
                                "../../1/root/..",
                                "../../1/cwd/..",
                                "../../1/root/../../..",
                                "../../self/root/..",
                                "../../self/cwd/..",
                                "../../sys",
                                "../../kcore",
                                "../../sysrq-trigger",
                                "../../mounts",
                                "../../../",
                                "../../../../..",
                                "../../self/fd/../../../.."};
        for (const char* route : routes)
            reached(std::string("proc ") + route, ::openat(proc_fd, route, O_RDONLY | O_CLOEXEC));
        reached("proc root", ::openat(proc_fd, "../..", O_PATH | O_DIRECTORY | O_CLOEXEC));
        reached("proc 1/root to the sentinel",
                ::openat(proc_fd, ("../../1/root/" + dots(8) + t_.sentinel_rel).c_str(),
                         O_RDONLY | O_CLOEXEC));
        // Other processes: host init and the test itself (outside any PID
        // namespace of the worker's own, both are there but hidden).
        for (const pid_t pid : {pid_t{1}, t_.test_pid}) {
            if (pid == ::getpid()) continue;
            ++checks_;
            UniqueFd other(
                ::openat(proc_fd, ("../../" + std::to_string(pid)).c_str(), O_PATH | O_CLOEXEC));
            if (other) say("FAIL proc shows pid " + std::to_string(pid));
        }
        // The binary it runs is the one file of the host's it can name; it
        // stays unwritable (ETXTBSY) even with DAC_OVERRIDE.
        ++checks_;
        UniqueFd exe(::openat(proc_fd, "../../self/exe", O_WRONLY | O_CLOEXEC));
        if (exe) say("FAIL proc self/exe opened for writing");
    }

    void device_nodes_do_not_open(int root_fd) {
        checks_ += 2;
        struct statvfs vfs {};
        if (::fstatvfs(root_fd, &vfs) != 0) return say("FAIL fstatvfs of the export");
        const unsigned long wanted = ST_NODEV | ST_NOSUID | ST_NOEXEC;
        if ((vfs.f_flag & wanted) != wanted)
            say("FAIL export mounted without nodev,nosuid,noexec: flags " +
                std::to_string(vfs.f_flag));
        // CAP_MKNOD is kept under passthrough: the node can be made, not used.
        if (::mknodat(root_fd, "null", S_IFCHR | 0666, makedev(1, 3)) != 0)
            return say("FAIL mknod as a passthrough worker: " + std::to_string(errno));
        UniqueFd dev(::openat(root_fd, "null", O_RDWR | O_CLOEXEC));
        if (dev || errno != EACCES)
            say("FAIL a device node in the export opened (errno " + std::to_string(errno) + ")");
    }

    const Targets& t_;
    Ident export_;
    Ident proc_;
    int checks_ = 0;
};

struct EscapeFixture {
    TempDir dir;
    Targets targets;

    explicit EscapeFixture(fs::SecurityModel model) {
        targets.export_dir = dir.path / "export";
        std::filesystem::create_directories(targets.export_dir / "sub" / "deeper");
        BOOST_REQUIRE(::chown(targets.export_dir.c_str(), kWorkerUid, kWorkerGid) == 0);
        const auto sentinel = dir.path / "sentinel";
        std::ofstream(sentinel) << "outside the export";
        targets.sentinel_rel = sentinel.string().substr(1);
        targets.sentinel = host_ident(sentinel.string());
        targets.passwd = host_ident("/etc/passwd");
        targets.host_root = host_ident("/");
        targets.outside_dir = host_ident(dir.path.string());
        targets.test_pid = ::getpid();
        targets.model = model;
    }

    void expect_no_escape(PidNamespace pid_ns) {
        Attacker attacker(targets);
        auto result = run_in_child(pid_ns, [&] { return attacker.run(); });
        BOOST_TEST(WIFEXITED(result.status));
        BOOST_TEST((WIFEXITED(result.status) ? WEXITSTATUS(result.status) : -1) == 0);
        std::istringstream lines(result.output);
        std::string line;
        int checks = 0;
        while (std::getline(lines, line)) {
            BOOST_TEST(!line.starts_with("FAIL"), line);
            if (line.starts_with("DONE ")) checks = std::stoi(line.substr(5));
        }
        // Every fd's routes ran (root, proc, sub, deeper, ring, stdio...).
        BOOST_TEST(checks > 60, result.output);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(confined_worker)

BOOST_AUTO_TEST_CASE(no_fd_of_a_confined_worker_reaches_outside_its_export) {
    EscapeFixture fx(fs::SecurityModel::kNone);
    fx.expect_no_escape(PidNamespace::kOwn);
}

// DAC_OVERRIDE and CAP_MKNOD kept: paths and proc must hold without DAC.
BOOST_AUTO_TEST_CASE(a_passthrough_worker_reaches_nothing_outside_and_opens_no_device) {
    EscapeFixture fx(fs::SecurityModel::kPassthrough);
    fx.expect_no_escape(PidNamespace::kOwn);
}

// The launcher may not give the worker a PID namespace of its own: the host's
// processes must stay out of its proc then too.
BOOST_AUTO_TEST_CASE(without_a_pid_namespace_the_worker_sees_no_other_process) {
    EscapeFixture fx(fs::SecurityModel::kPassthrough);
    fx.expect_no_escape(PidNamespace::kShared);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace xen9p::test
