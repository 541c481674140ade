// SPDX-License-Identifier: Apache-2.0
/* type=image,store=containerd: an OCI archive imported with `ctr images import`. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exporters/export-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define DEFAULT_NAMESPACE "kiln"
#define DEFAULT_ADDRESS "/run/containerd/containerd.sock"
#define MAX_OUTPUT (64u << 10)

extern char **environ;

/* Runs argv with stdin from in_fd; its stdout and stderr (the first MAX_OUTPUT bytes) go to
 * *ret_out. Returns the wait status, or -errno when it could not run. */
static int
run(char *const argv[], int in_fd, char **ret_out, struct kl_error **err)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], status = 0, r;
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return kl_error_set(err, errno, "creating a pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return kl_error_set(err, r, "running '%s'", argv[0]);
	}
	r = kl_io_read_all(pipefd[0], MAX_OUTPUT, &out, &len);
	if (r == -EFBIG) {
		/* Keep draining so the child never blocks on a full pipe. */
		char buf[4096];

		while (read(pipefd[0], buf, sizeof(buf)) > 0)
			;
		out = xstrdup("(more output than kiln keeps)");
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return kl_error_set(err, errno, "waiting for '%s'", argv[0]);
	*ret_out = out ? TAKE_PTR(out) : xstrdup("");
	return status;
}

int
export_output_containerd(struct export_ctx *c, struct kl_error **err)
{
	const struct export_options *o = c->o;
	const char *ctr = o->ctr_program ? o->ctr_program : "ctr";
	const char *addr = o->containerd_address ? o->containerd_address : DEFAULT_ADDRESS;
	const char *ns = o->containerd_namespace ? o->containerd_namespace : DEFAULT_NAMESPACE;
	char *const argv[] = {(char *)ctr, "-a",     (char *)addr, "-n", (char *)ns,
	                      "images",    "import", "-",          NULL};
	_cleanup_free_ char *out = NULL;
	_cleanup_close_ int fd = -1;
	int status;

	fd = export_archive_tmpfile(c, EXPORT_ARCHIVE_OCI, err);
	if (fd < 0)
		return fd;
	status = run(argv, fd, &out, err);
	if (status < 0)
		return status;
	while (*out && out[strlen(out) - 1] == '\n')
		out[strlen(out) - 1] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return kl_error_setf(err, EIO,
		                     "'%s images import' into containerd at '%s' (namespace "
		                     "'%s') failed: %s",
		                     ctr, addr, ns, *out ? out : "no message");
	kl_debug("containerd import: %s", out);
	return 0;
}
