// SPDX-License-Identifier: Apache-2.0
/* Backgrounding a server with a pipe back to the parent: ready, or the error that stopped it. */
#include "cli/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/error.h"
#include "util/io.h"
#include "util/log.h"

/* On the pipe: a code, 0 for ready, else a positive errno followed by the message. */
struct cli_daemon {
	atomic_int fd; /* the pipe's write end until ready or the error is sent; then -1 */
};

void
cli_daemon_ready(struct cli_daemon *d, const char *log_file)
{
	const int32_t ready = 0;
	int fd, log;

	if (!d || (fd = atomic_exchange(&d->fd, -1)) < 0)
		return;
	log = log_file ? open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
	if (log < 0)
		log = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (log >= 0) {
		(void)dup2(log, STDOUT_FILENO);
		(void)dup2(log, STDERR_FILENO);
		(void)close(log);
	}
	(void)kl_io_write_all(fd, &ready, sizeof(ready));
	(void)close(fd);
}

/* The child's side: serves, then tells the parent why it stopped, or the log when too late. */
static _Noreturn void
run_child(const char *name, cli_daemon_fn fn, void *userdata, int fd)
{
	struct cli_daemon d = {.fd = fd};
	struct kl_error *err = NULL;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	char msg[PIPE_BUF];
	int32_t code;
	int r;

	(void)setsid();
	(void)!chdir("/");
	(void)signal(SIGPIPE, SIG_IGN); /* a parent gone already is not a reason to die */
	if (null >= 0) {
		(void)dup2(null, STDIN_FILENO);
		(void)close(null);
	}
	r = fn(&d, userdata, &err);
	fd = atomic_exchange(&d.fd, -1);
	if (r < 0 && fd >= 0) {
		code = -r;
		memcpy(msg, &code, sizeof(code));
		(void)snprintf(msg + sizeof(code), sizeof(msg) - sizeof(code), "%s",
		               err ? err->msg : strerror(code));
		(void)kl_io_write_all(fd, msg, sizeof(code) + strlen(msg + sizeof(code)));
	} else if (r < 0) {
		kl_log(KL_LOG_ERROR, "%s: %s", name, err ? err->msg : strerror(-r));
	}
	if (fd >= 0)
		(void)close(fd);
	kl_error_free(err);
	_exit(r < 0 ? 1 : 0); /* the parent's atexit state is not ours to run */
}

/* Why a child that sent nothing exited, for the message. */
static void
describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		(void)snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		(void)snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
	else
		(void)snprintf(buf, size, "status %#x", (unsigned)status);
}

int
cli_daemon_run(const char *name, cli_daemon_fn fn, void *userdata, struct kl_error **err)
{
	char msg[PIPE_BUF], how[64];
	ssize_t n, len = 0;
	int32_t code = 0;
	int p[2], status;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return kl_error_set(err, errno, "creating a pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		(void)close(p[0]);
		(void)close(p[1]);
		return kl_error_set(err, errno, "forking");
	}
	if (pid == 0) {
		(void)close(p[0]);
		run_child(name, fn, userdata, p[1]);
	}
	(void)close(p[1]);
	n = kl_io_read_full(p[0], &code, sizeof(code));
	if (n == (ssize_t)sizeof(code) && code == 0) {
		(void)close(p[0]);
		return 0; /* it serves on, on its own */
	}
	if (n == (ssize_t)sizeof(code))
		len = kl_io_read_full(p[0], msg, sizeof(msg) - 1);
	(void)close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return kl_error_set(err, errno, "waiting for the server");
	if (n == (ssize_t)sizeof(code) && code > 0) {
		msg[len > 0 ? len : 0] = '\0';
		return kl_error_setf(err, code, "%s", msg);
	}
	describe_exit(status, how, sizeof(how));
	return kl_error_setf(err, ECHILD, "the server exited before it was ready (%s)", how);
}
