/* metamix: the metadata mix of the real-Xen bench, run in the guest.
 *
 *   metamix DIR COUNT
 *
 * In DIR (which must not exist yet, and is made and removed again): COUNT
 * files created (open O_CREAT|O_EXCL, close), each stat'ed, each renamed in
 * the same directory, each unlinked: 4 * COUNT operations, one at a time as a
 * program does them. Prints
 *
 *   ops=N seconds=S ops_per_s=R create=S stat=S rename=S unlink=S
 *
 * and exits 0, or prints what failed and exits 1. A C program rather than a
 * shell loop: busybox forks for mv and rm, and under emulation the forks
 * would cost more than the 9P requests being measured. Built static at bench
 * time, like fsprobe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char* what, const char* path) {
    printf("metamix: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

static void name_of(char* out, size_t size, const char* dir, const char* prefix, long i) {
    snprintf(out, size, "%s/%s%06ld", dir, prefix, i);
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: metamix DIR COUNT\n");
        return 2;
    }
    const char* dir = argv[1];
    char* end = NULL;
    const long count = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || count < 1 || count > 1000000) {
        fprintf(stderr, "metamix: COUNT must be 1..1000000\n");
        return 2;
    }
    if (mkdir(dir, 0755) != 0) return fail("mkdir", dir);

    char from[4096];
    char to[4096];
    double phase[4];
    const double start = now();
    double mark = start;

    for (long i = 0; i < count; i++) {
        name_of(from, sizeof from, dir, "f", i);
        const int fd = open(from, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0) return fail("create", from);
        if (close(fd) != 0) return fail("close", from);
    }
    phase[0] = now() - mark;
    mark = now();

    for (long i = 0; i < count; i++) {
        struct stat st;
        name_of(from, sizeof from, dir, "f", i);
        if (stat(from, &st) != 0) return fail("stat", from);
        if (!S_ISREG(st.st_mode) || st.st_size != 0) {
            printf("metamix: stat %s: not the empty file created\n", from);
            return 1;
        }
    }
    phase[1] = now() - mark;
    mark = now();

    for (long i = 0; i < count; i++) {
        name_of(from, sizeof from, dir, "f", i);
        name_of(to, sizeof to, dir, "g", i);
        if (rename(from, to) != 0) return fail("rename", from);
    }
    phase[2] = now() - mark;
    mark = now();

    for (long i = 0; i < count; i++) {
        name_of(to, sizeof to, dir, "g", i);
        if (unlink(to) != 0) return fail("unlink", to);
    }
    phase[3] = now() - mark;

    const double seconds = now() - start;
    if (rmdir(dir) != 0) return fail("rmdir (files left behind?)", dir);
    printf("ops=%ld seconds=%.3f ops_per_s=%.1f create=%.3f stat=%.3f rename=%.3f unlink=%.3f\n",
           4 * count, seconds, (double)(4 * count) / seconds, phase[0], phase[1], phase[2],
           phase[3]);
    return 0;
}
