// SPDX-License-Identifier: Apache-2.0
/* Docker credential helpers: "docker-credential-<name> get" run without a shell, bounded in
 * time and in what it may say, killed and reaped by its PID. */
#include "oci/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

extern char **environ;

#define HELPER_MAX_MESSAGE 4096u /* bytes of a helper's stderr kept for messages */

/* One running helper: our ends of its stdin (a socket, so a helper that exits without reading
 * cannot SIGPIPE us), stdout and stderr; its pidfd tells when it exited. */
struct helper {
	const char *prog;
	pid_t pid;
	int pidfd, in, out, err;
	bool reaped;
	int status;
	char *buf; /* stdout */
	size_t len, cap;
	char *msg; /* stderr, the first HELPER_MAX_MESSAGE bytes */
	size_t msg_len;
};

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reaps the child, killing it first unless it already exited. */
static void
helper_done(struct helper *h)
{
	if (h->pid > 0 && !h->reaped) {
		(void)kill(h->pid, SIGKILL);
		while (waitpid(h->pid, &h->status, 0) < 0 && errno == EINTR)
			;
		h->reaped = true;
	}
	close_fd(&h->pidfd);
	close_fd(&h->in);
	close_fd(&h->out);
	close_fd(&h->err);
	free(h->buf);
	free(h->msg);
}

static int
helper_spawn(struct helper *h, struct kl_error **err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	char *argv[] = {(char *)h->prog, (char *)"get", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int r = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0)
		r = errno;
	if (!r) {
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, in[1], STDIN_FILENO);
		posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
		posix_spawn_file_actions_adddup2(&fa, er[1], STDERR_FILENO);
		/* The helper starts with no signal blocked or ignored, whatever kiln set. */
		posix_spawnattr_init(&attr);
		sigemptyset(&none);
		sigfillset(&all);
		posix_spawnattr_setsigmask(&attr, &none);
		posix_spawnattr_setsigdefault(&attr, &all);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
		r = posix_spawnp(&h->pid, h->prog, &fa, &attr, argv, environ);
		posix_spawnattr_destroy(&attr);
		posix_spawn_file_actions_destroy(&fa);
	}
	close_fd(&in[1]);
	close_fd(&out[1]);
	close_fd(&er[1]);
	h->in = in[0];
	h->out = out[0];
	h->err = er[0];
	/* not -ENOENT: that code means "no credentials", and a missing helper is an error */
	if (r == ENOENT)
		return kl_error_setf(err, ENOEXEC, "credential helper '%s' is not on PATH",
		                     h->prog);
	if (r)
		return kl_error_set(err, r, "running credential helper '%s'", h->prog);
	/* Without pidfds (Linux < 5.3) the exit is seen by waitpid once its output ends. */
	h->pidfd = pidfd_open(h->pid, 0);
	return 0;
}

/* Writes server on the helper's stdin and closes it (docker sends it without a newline). A
 * helper that does not read it is its own business: EPIPE is not an error here. */
static void
helper_send(struct helper *h, const char *server)
{
	size_t n = strlen(server), done = 0;

	while (done < n) {
		ssize_t w = send(h->in, server + done, n - done, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	close_fd(&h->in);
}

/* Reads what fd has: stdout into buf (-EFBIG past the limit), stderr into msg (the rest
 * dropped); closes fd at its end. */
static int
helper_read(struct helper *h, int *fd)
{
	char chunk[4096];
	ssize_t n = read(*fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0) {
		close_fd(fd);
		return 0;
	}
	if (fd == &h->out) {
		if (h->len + (size_t)n > REGISTRY_MAX_HELPER_OUTPUT)
			return -EFBIG;
		h->buf = xgrow(h->buf, &h->cap, h->len + (size_t)n + 1, 1);
		memcpy(h->buf + h->len, chunk, (size_t)n);
		h->len += (size_t)n;
	} else {
		size_t keep = HELPER_MAX_MESSAGE - h->msg_len;

		keep = (size_t)n < keep ? (size_t)n : keep;
		memcpy(h->msg + h->msg_len, chunk, keep);
		h->msg_len += keep;
	}
	return 0;
}

/* -ECHILD when the exit status is lost (a process that ignores SIGCHLD reaps nothing). */
static int
helper_try_reap(struct helper *h, int flags)
{
	pid_t p;

	do
		p = waitpid(h->pid, &h->status, flags);
	while (p < 0 && errno == EINTR);
	if (p == h->pid || (p < 0 && errno == ECHILD)) {
		h->reaped = true;
		close_fd(&h->pidfd);
	}
	return p < 0 ? -errno : 0;
}

/* Waits, until the deadline, for the helper to exit and its stdout and stderr to end. */
static int
helper_wait(struct helper *h, unsigned timeout_ms, struct kl_error **err)
{
	int64_t deadline = now_ms() + timeout_ms;
	int r = 0;

	while (r >= 0 && (h->out >= 0 || h->err >= 0 || !h->reaped)) {
		struct pollfd p[3];
		int64_t left = deadline - now_ms();
		nfds_t n = 0;
		int ready;

		if (h->out < 0 && h->err < 0 && h->pidfd < 0) {
			r = helper_try_reap(h, 0);
			break;
		}
		if (left <= 0)
			return kl_error_setf(err, ETIMEDOUT,
			                     "credential helper '%s' did not answer within %u ms",
			                     h->prog, timeout_ms);
		if (h->out >= 0)
			p[n++] = (struct pollfd){.fd = h->out, .events = POLLIN};
		if (h->err >= 0)
			p[n++] = (struct pollfd){.fd = h->err, .events = POLLIN};
		if (h->pidfd >= 0)
			p[n++] = (struct pollfd){.fd = h->pidfd, .events = POLLIN};
		ready = poll(p, n, (int)left);
		if (ready < 0 && errno != EINTR)
			r = -errno;
		for (nfds_t i = 0; ready > 0 && r >= 0 && i < n; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == h->pidfd)
				r = helper_try_reap(h, WNOHANG);
			else
				r = helper_read(h, p[i].fd == h->out ? &h->out : &h->err);
		}
	}
	if (r == -EFBIG)
		return kl_error_setf(err, EFBIG,
		                     "credential helper '%s': an answer larger than %u bytes",
		                     h->prog, REGISTRY_MAX_HELPER_OUTPUT);
	if (r == -ECHILD)
		return kl_error_setf(err, ECHILD,
		                     "credential helper '%s': its exit status was lost", h->prog);
	if (r < 0)
		return kl_error_set(err, -r, "waiting for credential helper '%s'", h->prog);
	return 0;
}

int
registry_credhelper_get(const char *helper, const char *server, unsigned timeout_ms,
                        struct registry_auth *ret, struct kl_error **err)
{
	_cleanup_free_ char *prog = xasprintf("docker-credential-%s", helper);
	struct helper h = {.prog = prog, .pidfd = -1, .in = -1, .out = -1, .err = -1};
	int r;

	if (!*helper || strchr(helper, '/'))
		return kl_error_setf(err, EINVAL, "'%s' is not a credential helper name", helper);
	if (!timeout_ms)
		timeout_ms = REGISTRY_HELPER_TIMEOUT_MS;
	h.msg = xmalloc(HELPER_MAX_MESSAGE + 1);
	r = helper_spawn(&h, err);
	if (r >= 0) {
		helper_send(&h, server);
		r = helper_wait(&h, timeout_ms, err);
	}
	if (r >= 0) {
		h.msg[h.msg_len] = '\0';
		r = registry_credhelper_answer(helper, h.status, h.buf ? h.buf : "", h.len, h.msg,
		                               ret, err);
	}
	helper_done(&h);
	return r;
}
