/* Run in dom0 by the HVM scenario:  ptrace-probe UID GID PID
 *
 * Takes the credentials of a guest's restricted device model (UID:GID, no
 * supplementary groups) and checks that with them xen9pd's worker PID, which
 * runs as the same uid, cannot be traced or have its memory read: the worker
 * is non-dumpable. As a control, the same credentials must be able to trace a
 * dumpable process of that uid (its own child), so that the refusal is the
 * worker's doing and not a blanket ptrace restriction. Prints one line; exits
 * 0 when the worker was protected, 1 when it was not, 2 when the probe could
 * not run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static void become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
		fprintf(stderr, "ptrace-probe: cannot become %u:%u: %s\n", uid, gid, strerror(errno));
		exit(2);
	}
}

static int parse_id(const char *text, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(text, &end, 10);
	return errno == 0 && end != text && *end == '\0';
}

/* PTRACE_ATTACH then detach; returns 0 or the errno of the attach. */
static int try_attach(pid_t pid)
{
	int status;

	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) != 0)
		return errno;
	if (waitpid(pid, &status, __WALL) != pid)
		return errno;
	if (ptrace(PTRACE_DETACH, pid, NULL, NULL) != 0)
		return errno;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long uid, gid, target;
	int ready[2];
	char byte = 0;
	pid_t control;
	int attach_err, mem_err, fd, signal_ok;
	char path[64];

	if (argc != 4 || !parse_id(argv[1], &uid) || !parse_id(argv[2], &gid) ||
	    !parse_id(argv[3], &target)) {
		fprintf(stderr, "usage: ptrace-probe UID GID PID\n");
		return 2;
	}
	if (pipe(ready) != 0) {
		perror("ptrace-probe: pipe");
		return 2;
	}
	control = fork();
	if (control < 0) {
		perror("ptrace-probe: fork");
		return 2;
	}
	if (control == 0) {
		become(uid, gid);
		/* setuid() made it non-dumpable; the control must be traceable. */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
			_exit(2);
		if (write(ready[1], &byte, 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &byte, 1) != 1) {
		fprintf(stderr, "ptrace-probe: the control process did not start\n");
		return 2;
	}
	become(uid, gid);

	attach_err = try_attach(control);
	kill(control, SIGKILL);
	waitpid(control, NULL, 0);
	if (attach_err != 0) {
		printf("ptrace-probe: as %lu:%lu even a dumpable process of that uid cannot be traced "
		       "(%s); no conclusion\n",
		       uid, gid, strerror(attach_err));
		return 2;
	}

	attach_err = try_attach((pid_t)target);
	snprintf(path, sizeof path, "/proc/%lu/mem", target);
	fd = open(path, O_RDONLY);
	mem_err = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	signal_ok = kill((pid_t)target, 0) == 0;
	printf("ptrace-probe: as %lu:%lu: trace a dumpable process of that uid: ok; "
	       "PTRACE_ATTACH to %lu: %s; open /proc/%lu/mem: %s; signal 0 to it: %s\n",
	       uid, gid, target, attach_err ? strerror(attach_err) : "ATTACHED", target,
	       mem_err ? strerror(mem_err) : "OPENED", signal_ok ? "allowed (same uid)" : strerror(errno));
	return attach_err == EPERM && mem_err == EACCES ? 0 : 1;
}
