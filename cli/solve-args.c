// SPDX-License-Identifier: Apache-2.0
/* The options kiln solve and kiln build share: locals, secrets, ssh agents, outputs, cancel
 * signals. */
#include "cli/solve-args.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/build-output.h"
#include "cli/cli.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

#define MAX_SECRET (16u << 20) /* bytes of one secret */

extern char **environ;

void
cli_solve_args_add_local(struct cli_solve_args *a, const char *name, const char *dir,
                         const char *ignore_file)
{
	a->locals = xrealloc(a->locals, (a->n_locals + 1) * sizeof(*a->locals));
	a->locals[a->n_locals++] = (struct solve_local){
	    .name = kl_strpool_own(&a->owned, xstrdup(name)),
	    .dir = kl_strpool_own(&a->owned, xstrdup(dir)),
	    .ignore_file = ignore_file ? kl_strpool_own(&a->owned, xstrdup(ignore_file)) : NULL,
	};
}

int
cli_solve_args_local(struct cli *c, struct cli_solve_args *a, const char *cmd, const char *arg,
                     struct kl_error **err)
{
	const char *eq = strchr(arg, '=');
	_cleanup_free_ char *name = NULL;
	struct stat st;

	if (!eq || eq == arg || !eq[1])
		return cli_usage_error(c, err, cmd, "--local wants NAME=DIR, not '%s'", arg);
	if (stat(eq + 1, &st) < 0 || !S_ISDIR(st.st_mode))
		return cli_usage_error(c, err, cmd, "--local %s: '%s' is not a directory", arg,
		                       eq + 1);
	name = xstrndup(arg, (size_t)(eq - arg));
	cli_solve_args_add_local(a, name, eq + 1, /* ignore_file= */ NULL);
	return 0;
}

int
cli_solve_args_secret(struct cli *c, struct cli_solve_args *a, const char *cmd, const char *arg,
                      struct kl_error **err)
{
	_cleanup_free_ char *copy = xstrdup(arg);
	const char *id = NULL, *src = NULL, *env = NULL;
	char *save = NULL, *value = NULL;
	size_t len = 0;
	int r;

	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq)
			return cli_usage_error(c, err, cmd, "--secret: '%s' is not KEY=VALUE", kv);
		*eq++ = '\0';
		if (!strcmp(kv, "id"))
			id = eq;
		else if (!strcmp(kv, "src") || !strcmp(kv, "source"))
			src = eq;
		else if (!strcmp(kv, "env"))
			env = eq;
		else if (strcmp(kv, "type") != 0)
			return cli_usage_error(c, err, cmd, "--secret: unknown key '%s'", kv);
	}
	/* docker: "id=X" alone reads $X, "id=X,type=env" too */
	if (id && *id && !src && !env)
		env = id;
	if (!id || !*id || (src && env))
		return cli_usage_error(c, err, cmd,
		                       "--secret wants id=ID and one of src=PATH, env=VAR");
	if (env) {
		const char *v = getenv(env);

		if (!v)
			return cli_usage_error(c, err, cmd, "--secret %s: $%s is not set", id, env);
		value = xstrdup(v);
		len = strlen(v);
	} else {
		_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);

		if (fd < 0)
			return kl_error_set(err, errno, "%s: reading secret '%s' from '%s'", cmd,
			                    id, src);
		r = kl_io_read_all(fd, MAX_SECRET, &value, &len);
		if (r < 0)
			return kl_error_set(err, -r, "%s: reading secret '%s' from '%s'", cmd, id,
			                    src);
	}
	a->secrets = xrealloc(a->secrets, (a->n_secrets + 1) * sizeof(*a->secrets));
	a->secrets[a->n_secrets++] =
	    (struct solve_secret){kl_strpool_own(&a->owned, xstrdup(id)), value, len};
	return 0;
}

/* Runs argv with envp, stdin from /dev/null, stdout into *ret_out when asked; returns the exit
 * status, or -errno when it could not start. */
static int
run_tool(char *const argv[], char *const envp[], char **ret_out, struct kl_error **err)
{
	posix_spawn_file_actions_t fa;
	int pipe_fds[2] = {-1, -1}, status, r;
	size_t len;
	pid_t pid;

	if (ret_out && pipe2(pipe_fds, O_CLOEXEC) < 0)
		return kl_error_set(err, errno, "creating a pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (ret_out)
		posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], STDOUT_FILENO);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (pipe_fds[1] >= 0)
		close(pipe_fds[1]);
	if (r != 0) {
		if (pipe_fds[0] >= 0)
			close(pipe_fds[0]);
		return kl_error_set(err, r, "starting '%s' (from openssh-client)", argv[0]);
	}
	if (ret_out) {
		r = kl_io_read_all(pipe_fds[0], 1 << 16, ret_out, &len);
		close(pipe_fds[0]);
		if (r < 0)
			*ret_out = NULL;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return kl_error_set(err, errno, "waiting for '%s'", argv[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Starts one ssh-agent for the build: its daemonizing parent exits once the socket listens. */
static int
start_agent(struct cli_solve_args *a, struct kl_error **err)
{
	_cleanup_free_ char *out = NULL, *sock = NULL;
	char tmpl[] = "/tmp/kiln-ssh-XXXXXX";
	const char *p;
	int r;

	if (!mkdtemp(tmpl))
		return kl_error_set(err, errno, "creating a directory for the ssh agent");
	a->agent_dir = xstrdup(tmpl);
	sock = xasprintf("%s/agent.sock", tmpl);
	{
		char *argv[] = {"ssh-agent", "-s", "-a", sock, NULL};

		r = run_tool(argv, environ, &out, err);
	}
	if (r < 0)
		return r;
	p = out ? strstr(out, "SSH_AGENT_PID=") : NULL;
	if (r != 0 || !p)
		return kl_error_setf(err, EIO, "ssh-agent failed (exit status %d)", r);
	a->agent_pid = (pid_t)strtol(p + strlen("SSH_AGENT_PID="), NULL, 10);
	a->agent_sock = TAKE_PTR(sock);
	return 0;
}

static int
add_key(struct cli_solve_args *a, const char *key, struct kl_error **err)
{
	_cleanup_free_ char *env_sock = xasprintf("SSH_AUTH_SOCK=%s", a->agent_sock);
	char *envp[] = {env_sock, "PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	char *argv[] = {"ssh-add", "-q", (char *)key, NULL};
	int r;

	r = run_tool(argv, envp, /* ret_out= */ NULL, err);
	if (r < 0)
		return r;
	if (r != 0)
		return kl_error_setf(err, EINVAL, "ssh-add '%s' failed (exit status %d)", key, r);
	return 0;
}

int
cli_solve_args_ssh(struct cli *c, struct cli_solve_args *a, const char *cmd, const char *arg,
                   struct kl_error **err)
{
	const char *eq = strchr(arg, '=');
	const char *what = eq ? eq + 1 : getenv("SSH_AUTH_SOCK");
	_cleanup_free_ char *id = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
	_cleanup_free_ char *copy = NULL;
	char *save = NULL;
	struct stat st;
	int r;

	if (!*id)
		return cli_usage_error(c, err, cmd, "--ssh '%s': no id before '='", arg);
	if (!what || !*what)
		return cli_usage_error(
		    c, err, cmd, "--ssh %s: no socket given and $SSH_AUTH_SOCK is unset", arg);
	if (stat(what, &st) == 0 && S_ISSOCK(st.st_mode)) {
		a->ssh = xrealloc(a->ssh, (a->n_ssh + 1) * sizeof(*a->ssh));
		a->ssh[a->n_ssh++] = (struct solve_ssh){kl_strpool_own(&a->owned, TAKE_PTR(id)),
		                                        kl_strpool_own(&a->owned, xstrdup(what))};
		return 0;
	}
	copy = xstrdup(what);
	for (char *key = strtok_r(copy, ",", &save); key; key = strtok_r(NULL, ",", &save)) {
		if (stat(key, &st) < 0 || !S_ISREG(st.st_mode))
			return cli_usage_error(
			    c, err, cmd,
			    "--ssh %s: '%s' is neither an agent socket nor a key "
			    "file",
			    arg, key);
		if (!a->agent_pid) {
			r = start_agent(a, err);
			if (r < 0) {
				kl_error_prefix(err, "%s: --ssh %s", cmd, arg);
				return r;
			}
		}
		r = add_key(a, key, err);
		if (r < 0) {
			kl_error_prefix(err, "%s: --ssh %s", cmd, arg);
			return r;
		}
	}
	a->ssh = xrealloc(a->ssh, (a->n_ssh + 1) * sizeof(*a->ssh));
	a->ssh[a->n_ssh++] =
	    (struct solve_ssh){kl_strpool_own(&a->owned, TAKE_PTR(id)), a->agent_sock};
	return 0;
}

int
cli_output_add(struct cli *c, const char *cmd, const char *spec, struct build_output ***v,
               size_t *n, struct kl_error **err)
{
	struct build_output *o = NULL;
	int r = build_output_parse(spec, &o, err);

	if (r < 0) {
		kl_error_prefix(err, "%s: --output", cmd);
		c->usage_cmd = cmd;
		return r;
	}
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = o;
	return 0;
}

int
cli_provenance_parse(struct cli *c, const char *cmd, const char *value, enum export_provenance *ret,
                     struct kl_error **err)
{
	struct kl_error *e = NULL;
	int r;

	if (export_provenance_parse(value, ret, &e) >= 0)
		return 0;
	r = cli_usage_error(c, err, cmd, "%s", e->msg);
	kl_error_free(e);
	return r;
}

void
cli_solve_args_insecure(struct cli_solve_args *a, const char *host)
{
	a->insecure = xrealloc(a->insecure, (a->n_insecure + 1) * sizeof(*a->insecure));
	a->insecure[a->n_insecure++] = kl_strpool_own(&a->owned, xstrdup(host));
}

void
cli_solve_args_apply(const struct cli_solve_args *a, struct solve_options *o,
                     struct source_options *src)
{
	o->locals = a->locals;
	o->n_locals = a->n_locals;
	o->secrets = a->secrets;
	o->n_secrets = a->n_secrets;
	o->ssh = a->ssh;
	o->n_ssh = a->n_ssh;
	src->insecure_registries = a->insecure;
	src->n_insecure_registries = a->n_insecure;
}

void
cli_solve_args_done(struct cli_solve_args *a)
{
	if (a->agent_pid > 0) {
		(void)kill(a->agent_pid, SIGTERM);
		/* the agent is not our child (it daemonized): its socket goes with the dir */
	}
	if (a->agent_sock)
		(void)unlink(a->agent_sock);
	if (a->agent_dir)
		(void)rmdir(a->agent_dir);
	free(a->agent_sock);
	free(a->agent_dir);
	for (size_t i = 0; i < a->n_secrets; i++)
		free((void *)a->secrets[i].value);
	kl_strpool_done(&a->owned);
	free(a->locals);
	free(a->secrets);
	free(a->ssh);
	free(a->insecure);
	*a = (struct cli_solve_args){0};
}

static volatile sig_atomic_t caught_signal;
static int cancel_fds[2] = {-1, -1};

static void
on_signal(int sig)
{
	int saved = errno;

	if (!caught_signal)
		caught_signal = sig;
	if (cancel_fds[1] >= 0)
		(void)!write(cancel_fds[1], "x", 1);
	errno = saved;
}

int
cli_cancel_install(int *ret_fd, struct kl_error **err)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};

	if (pipe2(cancel_fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return kl_error_set(err, errno, "creating a pipe");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	*ret_fd = cancel_fds[0];
	return 0;
}

int
cli_cancel_signal(void)
{
	return caught_signal;
}

void
cli_cancel_remove(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (int i = 0; i < 2; i++)
		if (cancel_fds[i] >= 0) {
			close(cancel_fds[i]);
			cancel_fds[i] = -1;
		}
}
