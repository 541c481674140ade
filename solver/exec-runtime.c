// SPDX-License-Identifier: Apache-2.0
/* The OCI runtime run as a program: found on the system's PATH, started with posix_spawn (crun
 * on a hybrid cgroup host from a thread that first hides the cgroup2 hierarchy), its output
 * streamed, the cancel fd watched, the container killed and deleted. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_UNIFIED CGROUP_ROOT "/unified"
#define KILL_RETRY_MS 200 /* a cancel re-sends the kill this often until the runtime exits… */
#define KILL_ROUNDS 10    /* … and then kills the runtime itself */
#define DRAIN_MS 1000     /* output still read after the runtime exited */

static char *const runtime_envp[] = {"PATH=" EXEC_DEFAULT_PATH, NULL};

/* An executable regular file. */
static bool
executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* name on the system's PATH (Docker's default PATH: the library reads no environment). */
static char *
search_path(const char *name)
{
	const char *p = EXEC_DEFAULT_PATH;

	while (*p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		char *cand = xasprintf("%.*s/%s", (int)n, p, name);

		if (executable(cand))
			return cand;
		free(cand);
		p += n + (colon ? 1 : 0);
	}
	return NULL;
}

int
exec_runtime_find(const char *name, char **ret_path, struct kl_error **err)
{
	char *found;

	if (!name) {
		found = search_path("crun");
		if (!found)
			found = search_path("runc");
		if (!found)
			return kl_error_setf(err, ENOENT,
			                     "no OCI runtime: neither crun nor runc is in %s",
			                     EXEC_DEFAULT_PATH);
	} else if (strchr(name, '/')) {
		if (!executable(name))
			return kl_error_setf(err, ENOENT, "runtime '%s' is not an executable file",
			                     name);
		found = realpath(name, NULL);
		if (!found)
			return kl_error_set(err, errno, "runtime '%s'", name);
	} else {
		found = search_path(name);
		if (!found)
			return kl_error_setf(err, ENOENT, "runtime '%s' is not in %s", name,
			                     EXEC_DEFAULT_PATH);
	}
	*ret_path = found;
	return 0;
}

/* True when the host mixes cgroup v1 controllers with a cgroup2 hierarchy that holds
 * controllers at /sys/fs/cgroup/unified, which crun 1.x refuses to run on. */
static bool
exec_cgroup_hybrid_with_controllers(void)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct statfs sf;
	size_t len;

	if (statfs(CGROUP_ROOT, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
		return false;
	if (statfs(CGROUP_UNIFIED, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
		return false;
	fd = open(CGROUP_UNIFIED "/cgroup.controllers", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || kl_io_read_all(fd, 4096, &buf, &len) < 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != ' ' && buf[i] != '\n')
			return true;
	return false;
}

int
exec_runtime_open(const char *name, struct exec_runtime *ret, struct kl_error **err)
{
	char *path = NULL;
	const char *base;
	int r;

	r = exec_runtime_find(name, &path, err);
	if (r < 0)
		return r;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	*ret = (struct exec_runtime){
	    .path = path,
	    .kind = strncmp(base, "crun", 4) == 0 ? EXEC_RUNTIME_CRUN : EXEC_RUNTIME_RUNC,
	};
	ret->hide_unified = ret->kind == EXEC_RUNTIME_CRUN && exec_cgroup_hybrid_with_controllers();
	return 0;
}

void
exec_runtime_done(struct exec_runtime *rt)
{
	free(rt->path);
	rt->path = NULL;
}

void
exec_outcome_done(struct exec_outcome *o)
{
	free(o->runtime_error);
	o->runtime_error = NULL;
}

void
exec_tail_append(struct exec_tail *t, const char *data, size_t n)
{
	if (n >= sizeof(t->buf)) {
		data += n - sizeof(t->buf);
		n = sizeof(t->buf);
		t->len = 0;
		t->cut = true;
	}
	if (t->len + n > sizeof(t->buf)) {
		size_t drop = t->len + n - sizeof(t->buf);
		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
		t->cut = true;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
}

char *
exec_tail_lines(const struct exec_tail *t, unsigned n)
{
	size_t end = t->len, start;
	char *out = NULL;
	size_t out_len = 0;
	FILE *f;

	while (end && t->buf[end - 1] == '\n')
		end--;
	start = end;
	for (unsigned lines = 0; start > 0; start--) {
		if (t->buf[start - 1] == '\n' && ++lines == n)
			break;
	}
	f = open_memstream(&out, &out_len);
	if (!f)
		abort();
	for (size_t i = start; i < end;) {
		const char *nl = memchr(t->buf + i, '\n', end - i);
		size_t len = nl ? (size_t)(nl - (t->buf + i)) : end - i;

		fprintf(f, "%s  %.*s", i == start ? "" : "\n", (int)len, t->buf + i);
		i += len + 1;
	}
	fclose(f);
	return out;
}

/* Spawning. */

struct spawn_job {
	const char *path;
	char *const *argv;
	const posix_spawn_file_actions_t *actions;
	pid_t pid;
	int r;
	const char *what; /* the step that failed, for the message */
};

static void *
spawn_hidden_unified(void *p)
{
	struct spawn_job *job = p;

	/* This thread alone moves into a copy of kiln's mount namespace; the runtime it starts
	 * inherits it, and it goes when the runtime and its container are gone. */
	if (unshare(CLONE_NEWNS) < 0) {
		job->r = -errno;
		job->what = "unsharing the mount namespace";
		return NULL;
	}
	/* private first, so that the unmount does not reach kiln's namespace through a peer
	 * group; a plain unmount (nothing uses it here) spares a detach's RCU grace period */
	if (mount(NULL, CGROUP_UNIFIED, NULL, MS_PRIVATE, NULL) < 0) {
		job->r = -errno;
		job->what = "making " CGROUP_UNIFIED " private";
		return NULL;
	}
	if (umount2(CGROUP_UNIFIED, 0) < 0 && umount2(CGROUP_UNIFIED, MNT_DETACH) < 0) {
		job->r = -errno;
		job->what = "unmounting " CGROUP_UNIFIED;
		return NULL;
	}
	job->r = -posix_spawn(&job->pid, job->path, job->actions, NULL, job->argv, runtime_envp);
	job->what = "starting it";
	return NULL;
}

/* Starts argv with stdout and stderr on out_fd and err_fd (-1: /dev/null), stdin /dev/null. */
static int
spawn(const struct exec_runtime *rt, char *const *argv, int out_fd, int err_fd, pid_t *ret,
      struct kl_error **err)
{
	posix_spawn_file_actions_t fa;
	struct spawn_job job = {.path = rt->path, .argv = argv, .actions = &fa};
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (err_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	else
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (rt->hide_unified) {
		pthread_t th;

		r = pthread_create(&th, NULL, spawn_hidden_unified, &job);
		if (r == 0)
			pthread_join(th, NULL);
		else
			job = (struct spawn_job){.r = -r, .what = "starting a thread"};
	} else {
		job.r = -posix_spawn(&job.pid, rt->path, &fa, NULL, argv, runtime_envp);
		job.what = "starting it";
	}
	posix_spawn_file_actions_destroy(&fa);
	if (job.r < 0 && rt->hide_unified && strcmp(job.what, "starting it") != 0)
		return kl_error_set(
		    err, EPERM,
		    "crun cannot run here: this host mixes cgroup v1 controllers with a cgroup2 "
		    "hierarchy holding controllers at " CGROUP_UNIFIED " (hybrid mode), which crun "
		    "refuses, and hiding that hierarchy from it failed (%s: %s); use runc",
		    job.what, strerror(-job.r));
	if (job.r < 0)
		return kl_error_set(err, -job.r, "starting runtime '%s'", rt->path);
	*ret = job.pid;
	return 0;
}

static int
wait_exit(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* argv of a runtime command: the global options, then cmd[0..n_cmd). A new NULL-terminated
 * array whose strings the caller's arrays own. */
static char **
runtime_argv(const struct exec_runtime *rt, const char *state_root, const char *log_path,
             char *const *cmd, size_t n_cmd)
{
	char **v = xcalloc(12 + n_cmd, sizeof(*v));
	size_t n = 0;

	v[n++] = rt->path;
	v[n++] = "--root";
	v[n++] = (char *)state_root;
	if (log_path) {
		v[n++] = "--log";
		v[n++] = (char *)log_path;
		v[n++] = "--log-format";
		v[n++] = "json";
	}
	/* crun's cgroupfs manager puts a relative cgroupsPath at each hierarchy's root, outside
	 * kiln's own cgroups: the step stays in kiln's cgroups instead */
	if (rt->kind == EXEC_RUNTIME_CRUN)
		v[n++] = "--cgroup-manager=disabled";
	for (size_t i = 0; i < n_cmd; i++)
		v[n++] = cmd[i];
	return v;
}

/* Runs a short runtime command (kill, delete) to its end; its exit status or -errno. */
static int
runtime_command(const struct exec_runtime *rt, const char *state_root, char *const *cmd,
                size_t n_cmd)
{
	_cleanup_free_ char **argv = runtime_argv(rt, state_root, NULL, cmd, n_cmd);
	pid_t pid;
	int r;

	r = spawn(rt, argv, -1, -1, &pid, NULL);
	return r < 0 ? r : wait_exit(pid);
}

static void
runtime_kill(const struct exec_runtime *rt, const char *state_root, const char *id)
{
	char *cmd[] = {"kill", (char *)id, "KILL"};

	(void)runtime_command(rt, state_root, cmd, 3);
}

/* Deletes what is left of the container: runc and crun remove a container that ran to its
 * end themselves, so this costs a process only when state is left (a cancel, a crash). */
void
exec_runtime_delete(const struct exec_runtime *rt, const char *state_root, const char *id)
{
	_cleanup_free_ char *state = xasprintf("%s/%s", state_root, id);
	char *cmd[] = {"delete", "-f", (char *)id};

	if (access(state, F_OK) < 0 && errno == ENOENT)
		return;
	(void)runtime_command(rt, state_root, cmd, 3);
}

/* The last error the runtime logged (its JSON log lines), or NULL. */
static char *
runtime_log_error(const char *log_path)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	char *found = NULL;
	size_t len;

	if (fd < 0 || kl_io_read_all(fd, 1 << 20, &buf, &len) < 0)
		return NULL;
	for (char *line = buf, *nl; line < buf + len; line = nl + 1) {
		json_t *j;
		const char *level, *msg;

		nl = memchr(line, '\n', (size_t)(buf + len - line));
		if (!nl)
			nl = buf + len;
		j = json_loadb(line, (size_t)(nl - line), 0, NULL);
		if (j && json_unpack(j, "{s:s,s:s}", "level", &level, "msg", &msg) == 0 &&
		    (!strcmp(level, "error") || !strcmp(level, "fatal"))) {
			free(found);
			found = xstrdup(msg);
		}
		json_decref(j);
	}
	return found;
}

/* A running `runtime run`: its process, its output pipes, what was seen so far. */
struct run_state {
	const struct exec_runtime *rt;
	const char *state_root, *id, *step_dir;
	const struct exec_env *env;
	struct exec_tail *tail;
	char *buf;
	pid_t pid;
	int pidfd, out[2], err[2]; /* the pipes' read and write ends */
	bool eof[2], exited, drained, cancelled;
	unsigned kill_rounds;
	int status;
};

/* Reads what the pipe of stream (1 or 2) holds; marks its end. */
static void
read_stream(struct run_state *rs, int fd, int stream)
{
	for (;;) {
		ssize_t n = read(fd, rs->buf, 65536);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				rs->eof[stream - 1] = true;
			return;
		}
		if (n == 0) {
			rs->eof[stream - 1] = true;
			return;
		}
		exec_tail_append(rs->tail, rs->buf, (size_t)n);
		if (rs->env->log)
			rs->env->log(rs->env->log_userdata, stream, rs->buf, (size_t)n);
	}
}

static void
run_state_done(struct run_state *rs)
{
	int *fds[] = {&rs->pidfd, &rs->out[0], &rs->out[1], &rs->err[0], &rs->err[1]};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	free(rs->buf);
}

/* <step_dir>/runtime: which process runs the container and which runtime it is, for the next
 * kiln when this one dies (exec-reap.c). Without it the next kiln still kills the container. */
static void
write_record(const struct run_state *rs)
{
	_cleanup_free_ char *path = xasprintf("%s/" EXEC_REAP_RECORD, rs->step_dir);
	_cleanup_free_ char *text =
	    xasprintf(EXEC_REAP_MAGIC "\n%d\n%s\n", (int)rs->pid, rs->rt->path);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || kl_io_write_all(fd, text, strlen(text)) < 0)
		kl_debug("exec: writing '%s': %s", path, strerror(errno));
}

/* Starts argv with its output on two pipes, and watches its exit through a pidfd. */
static int
run_start(struct run_state *rs, char *const *argv, struct kl_error **err)
{
	int r;

	if (pipe2(rs->out, O_CLOEXEC) < 0 || pipe2(rs->err, O_CLOEXEC) < 0)
		return kl_error_set(err, errno, "making a pipe");
	(void)fcntl(rs->out[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(rs->err[0], F_SETFL, O_NONBLOCK);
	r = spawn(rs->rt, argv, rs->out[1], rs->err[1], &rs->pid, err);
	if (r < 0)
		return r;
	write_record(rs);
	close(TAKE_FD(rs->out[1]));
	close(TAKE_FD(rs->err[1]));
	rs->pidfd = (int)syscall(SYS_pidfd_open, rs->pid, 0);
	if (rs->pidfd < 0) {
		r = errno;
		(void)kill(rs->pid, SIGKILL);
		rs->status = wait_exit(rs->pid);
		rs->exited = true;
		return kl_error_set(err, r, "watching runtime process %d", (int)rs->pid);
	}
	return 0;
}

/* A poll timeout: after the exit, the output is read for a while longer (something in the
 * container may hold the pipes); after a cancel, the kill is sent again, and at last the
 * runtime itself is killed. */
static void
run_timeout(struct run_state *rs)
{
	if (rs->exited)
		rs->drained = true;
	else if (++rs->kill_rounds < KILL_ROUNDS)
		runtime_kill(rs->rt, rs->state_root, rs->id);
	else
		(void)kill(rs->pid, SIGKILL);
}

/* Waits for the runtime's end, passing its output on and watching the cancel fd. */
static int
run_wait(struct run_state *rs, struct kl_error **err)
{
	enum { OUT, ERR, EXIT, CANCEL };

	while (!(rs->exited && rs->eof[0] && rs->eof[1]) && !rs->drained) {
		struct pollfd fds[4];
		int what[4], n = 0, r;

		if (!rs->eof[0]) {
			fds[n] = (struct pollfd){rs->out[0], POLLIN, 0};
			what[n++] = OUT;
		}
		if (!rs->eof[1]) {
			fds[n] = (struct pollfd){rs->err[0], POLLIN, 0};
			what[n++] = ERR;
		}
		if (!rs->exited) {
			fds[n] = (struct pollfd){rs->pidfd, POLLIN, 0};
			what[n++] = EXIT;
		}
		if (rs->env->cancel_fd >= 0 && !rs->cancelled && !rs->exited) {
			fds[n] = (struct pollfd){rs->env->cancel_fd, POLLIN, 0};
			what[n++] = CANCEL;
		}
		r = poll(fds, (nfds_t)n,
		         rs->exited      ? DRAIN_MS
		         : rs->cancelled ? KILL_RETRY_MS
		                         : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kl_error_set(err, errno, "waiting for the runtime");
		if (r == 0)
			run_timeout(rs);
		for (int i = 0; r > 0 && i < n; i++) {
			if (!fds[i].revents)
				continue;
			if (what[i] == OUT || what[i] == ERR) {
				read_stream(rs, fds[i].fd, what[i] == OUT ? 1 : 2);
			} else if (what[i] == EXIT) {
				rs->status = wait_exit(rs->pid);
				rs->exited = true;
			} else {
				rs->cancelled = true;
				runtime_kill(rs->rt, rs->state_root, rs->id);
			}
		}
	}
	return 0;
}

int
exec_runtime_run(const struct exec_runtime *rt, const char *state_root, const char *log_path,
                 const char *bundle, const char *step_dir, const char *id,
                 const struct exec_env *env, struct exec_tail *tail, struct exec_outcome *ret,
                 struct kl_error **err)
{
	_cleanup_free_ char *pid_file = xasprintf("%s/" EXEC_REAP_PID_FILE, step_dir);
	char *cmd[] = {"run", "--bundle", (char *)bundle, "--pid-file", pid_file, (char *)id};
	_cleanup_free_ char **argv = runtime_argv(rt, state_root, log_path, cmd, 6);
	_cleanup_(run_state_done) struct run_state rs = {
	    .rt = rt,
	    .state_root = state_root,
	    .id = id,
	    .step_dir = step_dir,
	    .env = env,
	    .tail = tail,
	    .buf = xmalloc(65536),
	    .pidfd = -1,
	    .out = {-1, -1},
	    .err = {-1, -1},
	};
	int r;

	r = run_start(&rs, argv, err);
	if (r >= 0)
		r = run_wait(&rs, err);
	if (rs.pid > 0 && !rs.exited) {
		(void)kill(rs.pid, SIGKILL);
		rs.status = wait_exit(rs.pid);
	}
	if (rs.pid > 0)
		exec_runtime_delete(rt, state_root, id);
	if (r < 0)
		return r;
	if (rs.status < 0)
		return kl_error_set(err, -rs.status, "waiting for the runtime");
	*ret = (struct exec_outcome){.exit_code = rs.status, .cancelled = rs.cancelled};
	if (rs.status != 0)
		ret->runtime_error = runtime_log_error(log_path);
	return 0;
}
