// SPDX-License-Identifier: Apache-2.0
/* What a build that died mid-step left running: its steps' containers killed through the pid
 * files the runtime wrote, the runtime processes that waited for them let go, and the runtime's
 * state of each container deleted where it was kept on disk.
 *
 * A container outlives a kiln killed by SIGKILL: the runtime's `run` process and the
 * container's init are not kiln's to take along (a parent-death signal would fire with the
 * thread that spawned them, and the runtime resets it for the container's init anyway). The
 * init is the first process of a pid namespace of its own, so killing it kills every process of
 * the step. A pid is only trusted while it names the process that was written down: it must
 * have started before its file was written and, for a container's init, live in another pid
 * namespace than kiln's; for the runtime, its command line must name the container. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define INIT_EXIT_WAIT_MS 5000    /* a killed init and its namespace go at once, normally */
#define RUNTIME_EXIT_WAIT_MS 2000 /* the runtime then removes the container and exits */
#define START_SLACK_NS 1000000000 /* clock tick rounding between a start time and an mtime */
#define MAX_RECORD 8192

static int64_t
clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A file's content, NUL-terminated; NULL when it cannot be read. ret_mtime_ns: its mtime. */
static char *
read_small(const char *path, int64_t *ret_mtime_ns)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	struct stat st;
	size_t len;

	if (fd < 0 || fstat(fd, &st) < 0 || kl_io_read_all(fd, MAX_RECORD, &buf, &len) < 0)
		return NULL;
	buf = xrealloc(buf, len + 1);
	buf[len] = '\0';
	if (ret_mtime_ns)
		*ret_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return buf;
}

static bool
parse_pid(const char *s, pid_t *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || (*end && *end != '\n') || v <= 1 || v > 0x3fffffff)
		return false;
	*ret = (pid_t)v;
	return true;
}

/* When pid started, in CLOCK_REALTIME ns: /proc/<pid>/stat field 22 counts clock ticks since
 * boot. -1 when pid is gone. */
static int64_t
start_time_ns(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *stat = read_small(path, NULL);
	unsigned long long ticks;
	const char *p;
	long hz = sysconf(_SC_CLK_TCK);

	/* the command name (field 2) may hold spaces and parentheses: fields after the last ')' */
	p = stat ? strrchr(stat, ')') : NULL;
	if (!p || hz <= 0)
		return -1;
	if (sscanf(p + 1,
	           " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
	           "%*d %*d %llu",
	           &ticks) != 1)
		return -1;
	return clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME) +
	       (int64_t)(ticks * (1000000000ull / (unsigned long long)hz));
}

static bool
other_pid_namespace(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/ns/pid", (int)pid);
	char mine[64], theirs[64];
	ssize_t a = readlink("/proc/self/ns/pid", mine, sizeof(mine) - 1);
	ssize_t b = readlink(path, theirs, sizeof(theirs) - 1);

	if (a <= 0 || b <= 0)
		return false;
	mine[a] = theirs[b] = '\0';
	return strcmp(mine, theirs) != 0;
}

/* Whether /proc/<pid>/cmdline has the argument arg. */
static bool
cmdline_has(pid_t pid, const char *arg)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/cmdline", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len;

	if (fd < 0 || kl_io_read_all(fd, 1 << 16, &buf, &len) < 0)
		return false;
	for (size_t i = 0, n; i < len; i += n + 1) {
		n = strnlen(buf + i, len - i);
		if (n == strlen(arg) && memcmp(buf + i, arg, n) == 0)
			return true;
	}
	return false;
}

/* A pidfd of pid when it is still the process written down at written_ns (its start is not
 * later), and, when id is non-NULL, its command line names id (the runtime), else it lives in
 * a pid namespace of its own (a container's init); -1 otherwise. The checks are made after
 * the pidfd is open, and it is still running then, so they were made on the pidfd's process. */
static int
open_written(pid_t pid, int64_t written_ns, const char *id)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	int64_t start;
	struct pollfd p;
	bool same;

	if (fd < 0)
		return -1;
	start = start_time_ns(pid);
	same = start >= 0 && start <= written_ns + START_SLACK_NS &&
	       (id ? cmdline_has(pid, id) : other_pid_namespace(pid));
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	if (!same || poll(&p, 1, 0) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits up to ms for the process of pidfd to exit; true when it did. */
static bool
wait_exit_ms(int pidfd, int ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int64_t until = clock_ns(CLOCK_MONOTONIC) + (int64_t)ms * 1000000;
	int r;

	for (;;) {
		int64_t left = (until - clock_ns(CLOCK_MONOTONIC)) / 1000000;

		r = poll(&p, 1, left > 0 ? (int)left : 0);
		if (r > 0)
			return true;
		if ((r == 0 && left <= 0) || (r < 0 && errno != EINTR))
			return false;
	}
}

static void
kill_pidfd(int pidfd, const char *what, const char *id)
{
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0)
		kl_debug("exec: killing the %s of '%s': %s", what, id, strerror(errno));
}

/* The step's container: its init killed (with its pid namespace), waited for. */
static void
reap_container(const char *dir, const char *id)
{
	_cleanup_free_ char *path = xasprintf("%s/" EXEC_REAP_PID_FILE, dir);
	int64_t written;
	_cleanup_free_ char *text = read_small(path, &written);
	_cleanup_close_ int fd = -1;
	pid_t pid;

	if (!text || !parse_pid(text, &pid))
		return;
	fd = open_written(pid, written, /* id= */ NULL);
	if (fd < 0)
		return;
	kl_log(KL_LOG_INFO, "killing the container '%s' (pid %d) a build that died left running",
	       id, (int)pid);
	kill_pidfd(fd, "container", id);
	if (!wait_exit_ms(fd, INIT_EXIT_WAIT_MS))
		kl_warn("the container '%s' (pid %d) did not exit when killed", id, (int)pid);
}

/* The runtime process that ran the step: it removes the container and exits once the init
 * is gone; killed when it does not. Returns the runtime's path from the record, or NULL. */
static char *
reap_runtime(const char *dir, const char *id)
{
	_cleanup_free_ char *path = xasprintf("%s/" EXEC_REAP_RECORD, dir);
	int64_t written;
	_cleanup_free_ char *text = read_small(path, &written);
	_cleanup_close_ int fd = -1;
	char *pid_line, *runtime, *nl;
	pid_t pid;

	if (!text || strncmp(text, EXEC_REAP_MAGIC "\n", strlen(EXEC_REAP_MAGIC) + 1) != 0)
		return NULL;
	pid_line = text + strlen(EXEC_REAP_MAGIC) + 1;
	runtime = strchr(pid_line, '\n');
	if (!runtime || !parse_pid(pid_line, &pid))
		return NULL;
	runtime++;
	nl = strchr(runtime, '\n');
	if (!nl || nl == runtime || runtime[0] != '/')
		return NULL;
	*nl = '\0';
	fd = open_written(pid, written, id);
	if (fd >= 0 && !wait_exit_ms(fd, RUNTIME_EXIT_WAIT_MS)) {
		kill_pidfd(fd, "runtime", id);
		(void)wait_exit_ms(fd, RUNTIME_EXIT_WAIT_MS);
	}
	return xstrdup(runtime);
}

static void
reap_step(const char *state_dir, const char *id)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", state_dir, id);
	_cleanup_free_ char *root = xasprintf("%s/" EXEC_RUNTIME_STATE, state_dir);
	_cleanup_free_ char *state = xasprintf("%s/%s", root, id);
	_cleanup_free_ char *runtime = NULL;
	struct exec_runtime rt = {0};
	struct kl_error *e = NULL;

	reap_container(dir, id);
	runtime = reap_runtime(dir, id);
	/* a step with secrets kept its runtime state in a tmpfs, gone with its namespace */
	if (!runtime || access(state, F_OK) < 0)
		return;
	if (exec_runtime_open(runtime, &rt, &e) < 0) {
		kl_debug("exec: deleting the container '%s': %s", id, e->msg);
		kl_error_free(e);
		return;
	}
	exec_runtime_delete(&rt, root, id);
	exec_runtime_done(&rt);
}

void
exec_reap_dead(const char *state_dir)
{
	DIR *d = opendir(state_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "kiln-", 5) &&
		    (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN))
			reap_step(state_dir, de->d_name);
	closedir(d);
}
