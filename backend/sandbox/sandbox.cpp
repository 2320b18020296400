#include "backend/sandbox/sandbox.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>  // for xen/xen.h
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
// Before the ioctl headers: evtchn.h uses domid_t without including it.
#include <xen/xen.h>

#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>

#include <array>
#include <memory>

#ifdef XEN9P_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif

namespace xen9p::sandbox {
namespace {

// pivot_root has no glibc wrapper.
int pivot_root(const char* new_root, const char* put_old) {
    return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

// A proc instance of the worker's own, for re-opening its O_PATH fds through
// <proc>/self/fd: only pid directories (subset=pid), and of those only the
// processes the worker may ptrace (hidepid=ptraceable: even a lookup by
// number fails for the others, which hidepid=invisible still allows). In the
// fresh PID namespace the launcher gives a worker, that is the worker alone;
// without one, processes of its uid that are not dumpable (any that changed
// uid from root, as workers and restricted device models do) stay hidden too.
// The instance is detached at once: the fd keeps it alive, and ".." at the
// root of a detached mount stays there, whatever becomes of the host's tree.
Result<UniqueFd> open_private_proc(bool leak_check) {
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "hidepid=ptraceable,subset=pid") != 0)
        return fail_errno();
#ifdef XEN9P_SANITIZE
    // LeakSanitizer's check at exit stops the world with prctl, clone and
    // ptrace, which a confined process may not do: check now, while still
    // privileged and dumpable, once, and not at exit. Here, because it reads
    // /proc/<own pid>/task: in a PID namespace of its own (a device's server
    // is not its init) only this proc has that pid.
    if (leak_check) __lsan_do_leak_check();
#else
    (void)leak_check;
#endif
    UniqueFd proc_fd(::open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!proc_fd) return fail_errno();
    if (::umount2("/proc", MNT_DETACH) != 0) return fail_errno();
    return proc_fd;
}

// nodev, nosuid, noexec on the export and every mount below it: what a
// passthrough worker (CAP_MKNOD) creates there cannot open a host device, and
// nothing there runs with privilege.
Status restrict_mounts_below(const std::filesystem::path& root) {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
    if (::syscall(SYS_mount_setattr, AT_FDCWD, root.c_str(), AT_RECURSIVE, &attr, sizeof attr) != 0)
        return fail_errno();
    return {};
}

// Makes the export (bound onto itself, restricted) the root of the private
// mount namespace. The old root is detached, so nothing outside the export
// is reachable by path.
Result<Confinement> root_into(const std::filesystem::path& root) {
    // pivot_root needs the new root to be a mount point.
    if (::mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
        return fail_errno();
    if (auto s = restrict_mounts_below(root); !s) return std::unexpected(s.error());
    if (::chdir(root.c_str()) != 0) return fail_errno();
    // Stacking the old root on "." and detaching it avoids needing a put_old dir.
    if (pivot_root(".", ".") == 0) {
        if (::umount2(".", MNT_DETACH) != 0) return fail_errno();
        if (::chdir("/") != 0) return fail_errno();
        return Confinement::kPivotRoot;
    }
    // A dom0 running from its initramfs cannot pivot away from rootfs
    // (EINVAL): move the export over "/" and chroot into it, as switch_root
    // does. The root, the cwd and every fd are then inside the export (the
    // proc is detached), and leaving a chroot needs CAP_SYS_CHROOT, which no
    // worker keeps.
    if (errno != EINVAL) return fail_errno();
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) return fail_errno();
    if (::chroot(".") != 0) return fail_errno();
    if (::chdir("/") != 0) return fail_errno();
    return Confinement::kChroot;
}

Status set_capabilities(const std::vector<int>& keep) {
    std::unique_ptr<_cap_struct, int (*)(void*)> caps(cap_init(), cap_free);
    if (!caps) return fail_errno();
    if (!keep.empty()) {
        std::vector<cap_value_t> values(keep.begin(), keep.end());
        const int n = static_cast<int>(values.size());
        if (cap_set_flag(caps.get(), CAP_PERMITTED, n, values.data(), CAP_SET) != 0 ||
            cap_set_flag(caps.get(), CAP_EFFECTIVE, n, values.data(), CAP_SET) != 0)
            return fail_errno();
    }
    if (cap_set_proc(caps.get()) != 0) return fail_errno();
    // Nothing may come back through exec or ambient sets.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return fail_errno();
    return {};
}

Status set_rlimit(int resource, rlim_t value) {
    const rlimit limit{value, value};
    if (::setrlimit(resource, &limit) != 0) return fail_errno();
    return {};
}

// What a worker calls after set-up: file ops relative to fds it holds (xattrs
// only through fds), io_uring_enter (its ring's opcodes are limited by the
// ring's own restrictions, and no io_uring_register is needed once the ring
// is enabled), the control socket, memory management, the fsuid and
// capability switch of passthrough requests, and exiting. ioctl is allowed
// only with the requests below.
constexpr std::array kAllowedSyscalls = {
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(readv),
    SCMP_SYS(writev),
    SCMP_SYS(pread64),
    SCMP_SYS(pwrite64),
    SCMP_SYS(preadv),
    SCMP_SYS(pwritev),
    SCMP_SYS(preadv2),
    SCMP_SYS(pwritev2),
    SCMP_SYS(close),
    SCMP_SYS(close_range),
    SCMP_SYS(lseek),
    SCMP_SYS(openat),
    SCMP_SYS(openat2),
    SCMP_SYS(newfstatat),
    SCMP_SYS(fstat),
    SCMP_SYS(statx),
    SCMP_SYS(fstatfs),
    SCMP_SYS(getdents64),
    SCMP_SYS(mkdirat),
    SCMP_SYS(mknodat),
    SCMP_SYS(symlinkat),
    SCMP_SYS(linkat),
    SCMP_SYS(renameat),
    SCMP_SYS(renameat2),
    SCMP_SYS(unlinkat),
    SCMP_SYS(readlinkat),
    SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2),
    SCMP_SYS(fchmod),
    SCMP_SYS(fchmodat),
    SCMP_SYS(fchown),
    SCMP_SYS(fchownat),
    SCMP_SYS(utimensat),
    SCMP_SYS(ftruncate),
    SCMP_SYS(fallocate),
    SCMP_SYS(fsync),
    SCMP_SYS(fdatasync),
    SCMP_SYS(fcntl),
    SCMP_SYS(flock),
    SCMP_SYS(fgetxattr),
    SCMP_SYS(fsetxattr),
    SCMP_SYS(flistxattr),
    SCMP_SYS(fremovexattr),
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(mremap),
    SCMP_SYS(mprotect),
    SCMP_SYS(madvise),
    SCMP_SYS(brk),
    SCMP_SYS(futex),
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(rt_sigreturn),
    // How the kernel resumes poll() or a sleep that a stop or io_uring's
    // task-work notification interrupted (even poll with timeout 0 when no
    // fd is ready); on real Xen it killed the worker mid-session.
    SCMP_SYS(restart_syscall),
    SCMP_SYS(rt_sigaction),
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(getuid),
    SCMP_SYS(geteuid),
    SCMP_SYS(getgid),
    SCMP_SYS(getegid),
    SCMP_SYS(setfsuid),
    SCMP_SYS(setfsgid),
    // fs::CredGuard: a passthrough request of a non-root caller runs with no
    // effective capability (the permitted set stays as it is).
    SCMP_SYS(capget),
    SCMP_SYS(capset),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(poll),
    // The simulated platform's event channel (pending, and unbind at teardown).
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(ppoll),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvfrom),
    SCMP_SYS(sendto),
    // `xen9pd serve` closing a client's stream socket.
    SCMP_SYS(shutdown),
    SCMP_SYS(getrandom),
    SCMP_SYS(sched_yield),
    SCMP_SYS(getrlimit),
#ifdef XEN9P_SANITIZE
    // The ASan/UBSan runtimes test whether memory is readable by writing it
    // into a pipe (UBSan's vptr checks do so on the data path).
    SCMP_SYS(pipe2),
#endif
};

// The ioctls a worker issues once serving (libxenevtchn): notify its peer, and
// unbind at teardown what was bound before confinement. Its grant-mapping
// handle is closed before confinement (the rings are unmapped with munmap), so
// no gntdev request is needed. Binding ports, mapping grants and restricting
// the handle are set-up only: a worker asking for them is compromised.
constexpr std::array<unsigned long, 2> kAllowedIoctls = {
    IOCTL_EVTCHN_NOTIFY,
    IOCTL_EVTCHN_UNBIND,
};

}  // namespace

Status install_seccomp_allow_list() {
    std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS),
                                                         seccomp_release);
    if (!ctx) return fail(ENOMEM);
    for (const int nr : kAllowedSyscalls) {
        if (const int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); rc < 0)
            return fail(-rc);
    }
    // The kernel reads the request as an unsigned int: compare the low 32 bits.
    for (const unsigned long request : kAllowedIoctls) {
        if (const int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                            SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, request));
            rc < 0)
            return fail(-rc);
    }
    // Signals and resource limits of the process itself only: tgkill as
    // raise() and abort() issue it (its own pid, fixed here: nothing may fork
    // once the filter is in), prlimit64 as getrlimit() and setrlimit() do
    // (pid 0). Compared on all 64 bits: anything else is killed.
    const auto self = static_cast<scmp_datum_t>(::getpid());
    if (const int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                                        SCMP_A0(SCMP_CMP_EQ, self, 0));
        rc < 0)
        return fail(-rc);
    if (const int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
                                        SCMP_A0(SCMP_CMP_EQ, 0, 0));
        rc < 0)
        return fail(-rc);
    if (const int rc = seccomp_load(ctx.get()); rc < 0) return fail(-rc);
    return {};
}

std::vector<int> capabilities_for_security_model(const std::string& model) {
    if (model == "passthrough") {
        // Act as the guest's owners: create as them, chown, bypass DAC as
        // their fsuid does on the host, and make device nodes.
        return {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID,
                CAP_SETUID, CAP_SETGID,       CAP_MKNOD};
    }
    return {};
}

Result<SandboxReport> enter_sandbox(const SandboxPolicy& policy) {
    if (policy.uid == 0 || policy.gid == 0) return fail(EPERM);
    // No confinement without a mount namespace of its own: the worker needs a
    // proc directory, and the host's /proc/1/root leads out of any chroot.
    if (::unshare(CLONE_NEWNS) != 0) return fail_errno();
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail_errno();
    auto proc_fd = open_private_proc(policy.install_seccomp);
    if (!proc_fd) return std::unexpected(proc_fd.error());
    auto confinement = root_into(policy.root);
    if (!confinement) return std::unexpected(confinement.error());
    SandboxReport report;
    report.confinement = *confinement;
    report.proc_fd = std::move(*proc_fd);
    // The guest's device model shares this uid: it must not ptrace or read us.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail_errno();
    if (::setgroups(0, nullptr) != 0) return fail_errno();
    if (!policy.keep_capabilities.empty() && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
        return fail_errno();
    if (::setresgid(policy.gid, policy.gid, policy.gid) != 0) return fail_errno();
    if (::setresuid(policy.uid, policy.uid, policy.uid) != 0) return fail_errno();
    // setresuid away from root clears the effective set; rebuild exactly what is kept.
    if (auto caps = set_capabilities(policy.keep_capabilities); !caps)
        return std::unexpected(caps.error());
    if (policy.parent_pidfd >= 0) {
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return fail_errno();
        // A pidfd turns readable once its process has exited: a parent gone
        // before the prctl would never send the signal.
        pollfd parent{policy.parent_pidfd, POLLIN, 0};
        const int exited = ::poll(&parent, 1, 0);
        if (exited < 0) return fail_errno();
        if (exited > 0) return fail(ESRCH);
    }
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail_errno();
    if (auto r = set_rlimit(RLIMIT_NOFILE, policy.max_open_files); !r)
        return std::unexpected(r.error());
    if (auto r = set_rlimit(RLIMIT_CORE, 0); !r) return std::unexpected(r.error());
    if (policy.install_seccomp) {
        if (auto r = install_seccomp_allow_list(); !r) return std::unexpected(r.error());
    }
    return report;
}

}  // namespace xen9p::sandbox
