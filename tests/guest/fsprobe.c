/* fsprobe: checks that busybox cannot express (exact errnos, open-but-unlinked
 * files, locks between processes, sparse offsets). Built with gcc -static at
 * test time and copied into the guest. Each subcommand exits 0 on success and
 * prints one line saying what went wrong otherwise. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fail(const char* what) {
    printf("%s: %s\n", what, strerror(errno));
    return 1;
}

static int bad(const char* what) {
    printf("%s\n", what);
    return 1;
}

static int expect_errno(int rc, int want, const char* what) {
    if (rc >= 0) {
        printf("%s: succeeded, wanted %s\n", what, strerrorname_np(want));
        return 1;
    }
    if (errno != want) {
        printf("%s: got %s, wanted %s\n", what, strerrorname_np(errno), strerrorname_np(want));
        return 1;
    }
    return 0;
}

static void fill(char* buf, size_t len, unsigned seed) {
    for (size_t i = 0; i < len; ++i)
        buf[i] = (char)((i * 31u + seed) & 0xff);
}

/* Data written before unlink stays readable; fstat, ftruncate and further
 * writes work on the open fid of a file that no longer has a name. */
static int cmd_unlinked(const char* path) {
    char data[8192], back[8192];
    fill(data, sizeof data, 7);
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
    if (fd < 0) return fail("open");
    if (write(fd, data, sizeof data) != (ssize_t)sizeof data) return fail("write");
    if (unlink(path) != 0) return fail("unlink");
    struct stat st;
    if (access(path, F_OK) == 0) return bad("name still present after unlink");
    if (fstat(fd, &st) != 0) return fail("fstat after unlink");
    if (st.st_size != (off_t)sizeof data) return bad("fstat size wrong after unlink");
    if (pread(fd, back, sizeof back, 0) != (ssize_t)sizeof back || memcmp(back, data, sizeof data))
        return bad("pread after unlink returned wrong data");
    if (ftruncate(fd, 1000) != 0) return fail("ftruncate after unlink");
    if (fstat(fd, &st) != 0 || st.st_size != 1000)
        return bad("size after ftruncate of unlinked file is not 1000");
    if (pwrite(fd, data, 100, 5000) != 100) return fail("pwrite after unlink");
    if (fstat(fd, &st) != 0 || st.st_size != 5100)
        return bad("size after pwrite of unlinked file is not 5100");
    if (pread(fd, back, 100, 5000) != 100 || memcmp(back, data, 100))
        return bad("pread of data written after unlink is wrong");
    if (close(fd) != 0) return fail("close");
    return 0;
}

/* A write 5 GiB into an empty file gives that size, zeros before it and the
 * data back at the 64-bit offset. */
static int cmd_sparse(const char* path) {
    const off_t off = (off_t)5 << 30;
    char data[4096], back[4096];
    fill(data, sizeof data, 3);
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
    if (fd < 0) return fail("open");
    if (pwrite(fd, data, sizeof data, off) != (ssize_t)sizeof data) return fail("pwrite at 5 GiB");
    struct stat st;
    if (fstat(fd, &st) != 0) return fail("fstat");
    if (st.st_size != off + (off_t)sizeof data) return bad("size after write at 5 GiB is wrong");
    if (pread(fd, back, sizeof back, off) != (ssize_t)sizeof back ||
        memcmp(back, data, sizeof data))
        return bad("data at 5 GiB reads back wrong");
    if (pread(fd, back, sizeof back, (off_t)4 << 30) != (ssize_t)sizeof back)
        return fail("pread in hole");
    for (size_t i = 0; i < sizeof back; ++i)
        if (back[i] != 0) return bad("hole at 4 GiB is not zero");
    if (ftruncate(fd, ((off_t)4 << 30) + 10) != 0) return fail("ftruncate to 4 GiB + 10");
    if (fstat(fd, &st) != 0 || st.st_size != ((off_t)4 << 30) + 10)
        return bad("size after shrink to 4 GiB + 10 is wrong");
    close(fd);
    return 0;
}

static int cmd_excl(const char* path) {
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd < 0) return fail("first O_EXCL create");
    close(fd);
    if (expect_errno(open(path, O_CREAT | O_EXCL | O_WRONLY, 0600), EEXIST, "second O_EXCL create"))
        return 1;
    return 0;
}

/* Creating a name of LEN bytes gives WANT ("ok" or an errno name). */
static int cmd_name(const char* dir, const char* len_s, const char* want) {
    size_t len = strtoul(len_s, NULL, 10);
    char path[4096];
    size_t dl = strlen(dir);
    if (len + dl + 2 > sizeof path) return bad("name too long for buffer");
    memcpy(path, dir, dl);
    path[dl] = '/';
    memset(path + dl + 1, 'n', len);
    path[dl + 1 + len] = 0;
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (strcmp(want, "ok") == 0) {
        if (fd < 0) return fail("create");
        close(fd);
        struct stat st;
        if (stat(path, &st) != 0) return fail("stat of created long name");
        if (unlink(path) != 0) return fail("unlink of long name");
        return 0;
    }
    if (strcmp(want, "ENAMETOOLONG") == 0) return expect_errno(fd, ENAMETOOLONG, "create");
    return bad("unknown expectation");
}

static int cmd_statfs(const char* dir) {
    struct statfs s;
    if (statfs(dir, &s) != 0) return fail("statfs");
    if (s.f_bsize <= 0 || s.f_blocks == 0 || s.f_bfree > s.f_blocks || s.f_bavail > s.f_blocks)
        return bad("statfs block counts are implausible");
    if (s.f_namelen < 255) return bad("statfs namelen below 255");
    return 0;
}

static int cmd_fsync(const char* path) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) return fail("open");
    if (write(fd, "sync me\n", 8) != 8) return fail("write");
    if (fsync(fd) != 0) return fail("fsync");
    if (fdatasync(fd) != 0) return fail("fdatasync");
    close(fd);
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    if (dfd >= 0 && fsync(dfd) != 0) return fail("fsync of directory");
    if (dfd >= 0) close(dfd);
    return 0;
}

/* utimensat sets exact times (whole seconds: Linux 6.1's v9fs leaves
 * s_time_gran at one second, so no server's nanoseconds reach the caller); a
 * later write moves mtime forward of a time set in the past without depending
 * on clock granularity. */
static int cmd_times(const char* path) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) return fail("open");
    struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
    if (futimens(fd, ts) != 0) return fail("futimens");
    struct stat st;
    if (stat(path, &st) != 0) return fail("stat");
    if (st.st_atim.tv_sec != ts[0].tv_sec || st.st_mtim.tv_sec != ts[1].tv_sec)
        return bad("times set by futimens read back wrong");
    if (write(fd, "x", 1) != 1) return fail("write");
    close(fd);
    if (stat(path, &st) != 0) return fail("stat after write");
    if (st.st_mtim.tv_sec <= ts[1].tv_sec) return bad("write did not update mtime");
    struct timespec omit[2] = {{0, UTIME_OMIT}, {1300000000, 0}};
    if (utimensat(AT_FDCWD, path, omit, 0) != 0) return fail("utimensat with UTIME_OMIT");
    if (stat(path, &st) != 0 || st.st_mtim.tv_sec != 1300000000)
        return bad("utimensat mtime not applied");
    return 0;
}

/* N processes write disjoint 64 KiB stripes of one file concurrently. */
static int cmd_concurrent(const char* path) {
    enum { kWriters = 4, kStripe = 65536, kRounds = 8 };
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0) return fail("open");
    close(fd);
    pid_t kids[kWriters];
    for (int w = 0; w < kWriters; ++w) {
        kids[w] = fork();
        if (kids[w] < 0) return fail("fork");
        if (kids[w] == 0) {
            static char buf[kStripe];
            int cfd = open(path, O_WRONLY);
            if (cfd < 0) _exit(2);
            for (int r = 0; r < kRounds; ++r) {
                fill(buf, sizeof buf, (unsigned)(w * 100 + r));
                off_t off = ((off_t)r * kWriters + w) * kStripe;
                if (pwrite(cfd, buf, sizeof buf, off) != (ssize_t)sizeof buf) _exit(3);
            }
            _exit(close(cfd) == 0 ? 0 : 4);
        }
    }
    int failed = 0;
    for (int w = 0; w < kWriters; ++w) {
        int status;
        if (waitpid(kids[w], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed = 1;
    }
    if (failed) return bad("a writer failed");
    static char want[kStripe], got[kStripe];
    fd = open(path, O_RDONLY);
    if (fd < 0) return fail("reopen");
    for (int r = 0; r < kRounds; ++r)
        for (int w = 0; w < kWriters; ++w) {
            fill(want, sizeof want, (unsigned)(w * 100 + r));
            off_t off = ((off_t)r * kWriters + w) * kStripe;
            if (pread(fd, got, sizeof got, off) != (ssize_t)sizeof got ||
                memcmp(got, want, sizeof want))
                return bad("a stripe reads back wrong");
        }
    close(fd);
    return 0;
}

/* Runs F in a child and returns its exit status (or -1). */
static int in_child(int (*f)(const char*), const char* path) {
    pid_t p = fork();
    if (p < 0) return -1;
    if (p == 0) _exit(f(path));
    int status;
    if (waitpid(p, &status, 0) < 0 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

static int child_flock_blocked(const char* path) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return 10;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 11;
    return errno == EWOULDBLOCK ? 0 : 12;
}

static int child_flock_free(const char* path) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return 10;
    return flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 13;
}

static int cmd_flock(const char* path) {
    int fd = open(path, O_CREAT | O_RDWR, 0644);
    if (fd < 0) return fail("open");
    if (flock(fd, LOCK_EX) != 0) return fail("flock LOCK_EX");
    int rc = in_child(child_flock_blocked, path);
    if (rc != 0) {
        printf("second process was not refused the lock (code %d)\n", rc);
        return 1;
    }
    if (flock(fd, LOCK_UN) != 0) return fail("flock LOCK_UN");
    rc = in_child(child_flock_free, path);
    if (rc != 0) {
        printf("second process could not lock after unlock (code %d)\n", rc);
        return 1;
    }
    close(fd);
    return 0;
}

static int set_lock(int fd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, F_SETLK, &fl);
}

/* hold-lock PATH RELEASE: takes a write lock on the whole of PATH, says
 * "lock held", and keeps it until RELEASE exists (at most an hour); then
 * gives it back. Meanwhile the share's server may die and be replaced, and
 * the daemon be upgraded: the lock must stay held throughout. */
static int cmd_hold_lock(const char* path, const char* release) {
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return fail("open");
    if (set_lock(fd, F_WRLCK, 0, 0) != 0) return fail("F_SETLK write lock");
    printf("lock held\n");
    for (int i = 0; i < 3600 && access(release, F_OK) != 0; ++i)
        sleep(1);
    if (access(release, F_OK) != 0) return bad("never told to release the lock");
    if (set_lock(fd, F_UNLCK, 0, 0) != 0) return fail("F_UNLCK");
    close(fd);
    return 0;
}

/* lock-state PATH locked|free: another process asks whether PATH is locked.
 * With no lock of this guest's kernel on it, the question goes to the server. */
static int cmd_lock_state(const char* path, const char* want) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return fail("open");
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_GETLK, &q) != 0) return fail("F_GETLK");
    close(fd);
    const char* state = q.l_type == F_UNLCK ? "free" : "locked";
    if (strcmp(state, want) == 0) return 0;
    printf("lock is %s (pid %d), expected %s\n", state, (int)q.l_pid, want);
    return 1;
}

static pid_t parent_pid;

static int child_fcntl_probe(const char* path) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return 10;
    if (set_lock(fd, F_WRLCK, 0, 100) == 0) return 11;
    if (errno != EAGAIN && errno != EACCES) return 12;
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 10};
    if (fcntl(fd, F_GETLK, &q) != 0) return 13;
    if (q.l_type != F_WRLCK || q.l_pid != parent_pid) return 14;
    /* A range the parent does not hold is free. */
    if (set_lock(fd, F_WRLCK, 200, 100) != 0) return 15;
    return 0;
}

static int child_fcntl_after(const char* path) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return 10;
    return set_lock(fd, F_WRLCK, 0, 100) == 0 ? 0 : 16;
}

static int cmd_fcntl(const char* path) {
    parent_pid = getpid();
    int fd = open(path, O_CREAT | O_RDWR, 0644);
    if (fd < 0) return fail("open");
    if (set_lock(fd, F_WRLCK, 0, 100) != 0) return fail("F_SETLK write lock");
    int rc = in_child(child_fcntl_probe, path);
    if (rc != 0) {
        printf("conflict checks from a second process failed (code %d)\n", rc);
        return 1;
    }
    if (set_lock(fd, F_UNLCK, 0, 100) != 0) return fail("F_UNLCK");
    rc = in_child(child_fcntl_after, path);
    if (rc != 0) {
        printf("lock not free after unlock (code %d)\n", rc);
        return 1;
    }
    close(fd);
    return 0;
}

/* Deleting each entry as readdir returns it still yields every original
 * entry exactly once and leaves the directory empty. */
static int cmd_readdir_delete(const char* dir, const char* count_s) {
    long n = strtol(count_s, NULL, 10);
    char path[4096];
    for (long i = 0; i < n; ++i) {
        snprintf(path, sizeof path, "%s/e%06ld", dir, i);
        int fd = open(path, O_CREAT | O_WRONLY, 0644);
        if (fd < 0) return fail("create entry");
        close(fd);
    }
    unsigned char* seen = calloc((size_t)n, 1);
    if (!seen) return bad("out of memory");
    DIR* d = opendir(dir);
    if (!d) return fail("opendir");
    long total = 0;
    struct dirent* e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        long i;
        if (sscanf(e->d_name, "e%06ld", &i) != 1 || i < 0 || i >= n)
            return bad("readdir returned an unknown name");
        if (seen[i]++) return bad("readdir returned an entry twice");
        ++total;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) return fail("unlink during readdir");
    }
    if (errno != 0) return fail("readdir");
    closedir(d);
    if (total != n) {
        printf("readdir returned %ld of %ld entries\n", total, n);
        return 1;
    }
    if (rmdir(dir) != 0) return fail("rmdir of emptied directory");
    free(seen);
    return 0;
}

/* runas UID GID CMD...: drops to UID/GID with no supplementary groups. */
static int cmd_runas(char** argv) {
    uid_t uid = (uid_t)strtoul(argv[0], NULL, 10);
    gid_t gid = (gid_t)strtoul(argv[1], NULL, 10);
    if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        return fail("drop privileges");
    execvp(argv[2], argv + 2);
    return fail("exec");
}

/* errno NAME OP ARGS...: the syscall named by OP fails with errno NAME, or
 * succeeds when NAME is OK. */
static int cmd_expect(char** argv, int argc) {
    const char *want_s = argv[0], *op = argv[1];
    int want = 0;
    if (strcmp(want_s, "OK") == 0) want = -1;
    for (int e = 1; e < 200; ++e) {
        const char* name = strerrorname_np(e);
        if (name && strcmp(name, want_s) == 0) want = e;
    }
    if (want == 0) return bad("unknown errno name");
    int rc;
    if (strcmp(op, "rmdir") == 0 && argc >= 3)
        rc = rmdir(argv[2]);
    else if (strcmp(op, "mkdir") == 0 && argc >= 3)
        rc = mkdir(argv[2], 0755);
    else if (strcmp(op, "unlink") == 0 && argc >= 3)
        rc = unlink(argv[2]);
    else if (strcmp(op, "open-read") == 0 && argc >= 3)
        rc = open(argv[2], O_RDONLY);
    else if (strcmp(op, "open-write") == 0 && argc >= 3)
        rc = open(argv[2], O_WRONLY);
    else if (strcmp(op, "create") == 0 && argc >= 3)
        rc = open(argv[2], O_CREAT | O_WRONLY, 0644);
    else if (strcmp(op, "rename") == 0 && argc >= 4)
        rc = rename(argv[2], argv[3]);
    else if (strcmp(op, "link") == 0 && argc >= 4)
        rc = link(argv[2], argv[3]);
    else if (strcmp(op, "chmod") == 0 && argc >= 3)
        rc = chmod(argv[2], 0777);
    else if (strcmp(op, "chown") == 0 && argc >= 3)
        rc = chown(argv[2], 0, 0);
    else
        return bad("unknown operation");
    if (want == -1) return rc >= 0 ? 0 : fail(op);
    return expect_errno(rc, want, op);
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) return bad("usage: fsprobe CMD ARGS...");
    const char* cmd = argv[1];
    if (strcmp(cmd, "unlinked") == 0) return cmd_unlinked(argv[2]);
    if (strcmp(cmd, "sparse") == 0) return cmd_sparse(argv[2]);
    if (strcmp(cmd, "excl") == 0) return cmd_excl(argv[2]);
    if (strcmp(cmd, "name") == 0 && argc == 5) return cmd_name(argv[2], argv[3], argv[4]);
    if (strcmp(cmd, "statfs") == 0) return cmd_statfs(argv[2]);
    if (strcmp(cmd, "fsync") == 0) return cmd_fsync(argv[2]);
    if (strcmp(cmd, "times") == 0) return cmd_times(argv[2]);
    if (strcmp(cmd, "concurrent") == 0) return cmd_concurrent(argv[2]);
    if (strcmp(cmd, "flock") == 0) return cmd_flock(argv[2]);
    if (strcmp(cmd, "fcntl") == 0) return cmd_fcntl(argv[2]);
    if (strcmp(cmd, "hold-lock") == 0 && argc == 4) return cmd_hold_lock(argv[2], argv[3]);
    if (strcmp(cmd, "lock-state") == 0 && argc == 4) return cmd_lock_state(argv[2], argv[3]);
    if (strcmp(cmd, "readdir-delete") == 0 && argc == 4)
        return cmd_readdir_delete(argv[2], argv[3]);
    if (strcmp(cmd, "runas") == 0 && argc >= 5) return cmd_runas(argv + 2);
    if (strcmp(cmd, "errno") == 0 && argc >= 4) return cmd_expect(argv + 2, argc - 2);
    return bad("unknown subcommand");
}
