// SPDX-License-Identifier: Apache-2.0
/* kiln solve: reads a build graph (docs/graph.md), binds its local sources, secrets and ssh
 * agents, solves it with progress on stderr, and prints the result's tree id. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "fs/store.h"
#include "solver/graph.h"
#include "solver/solve.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

#define MAX_SECRET (16u << 20) /* bytes of one secret */

static const char usage[] =
    "usage: kiln solve [OPTION...] GRAPH.json|-\n"
    "\n"
    "Solves a build graph (its JSON form, docs/graph.md; '-' reads standard input) and\n"
    "prints the result's tree id. What was done before is taken from the cache.\n"
    "\n"
    "  --local NAME=DIR       bind the graph's local source NAME to DIR (repeatable)\n"
    "  --progress MODE        auto, tty, plain or rawjson (default auto)\n"
    "  --no-cache             run every vertex (the new results are recorded)\n"
    "  --runtime PATH         the OCI runtime: crun, runc or a path (default: crun, else runc)\n"
    "  --allow security.insecure  let exec vertices ask for security=insecure\n"
    "  --secret id=ID,src=PATH|env=VAR  a secret for type=secret mounts (repeatable)\n"
    "  --ssh ID=SOCKET        an ssh agent socket for type=ssh mounts; ID alone takes\n"
    "                         $SSH_AUTH_SOCK (repeatable)\n"
    "  --platform OS/ARCH     images: the platform to pick (default linux/amd64)\n"
    "  --insecure-registry HOST  images: allow plain HTTP to HOST[:PORT] (repeatable)\n"
    "\n"
    "SIGINT or SIGTERM stops the build cleanly (exit status 130 or 143).\n";

static volatile sig_atomic_t caught_signal;
static int cancel_write_fd = -1;

static void
on_signal(int sig)
{
	int saved = errno;

	if (!caught_signal)
		caught_signal = sig;
	if (cancel_write_fd >= 0)
		(void)!write(cancel_write_fd, "x", 1);
	errno = saved;
}

struct solve_args {
	struct solve_local *locals;
	size_t n_locals;
	struct solve_secret *secrets;
	size_t n_secrets;
	struct solve_ssh *ssh;
	size_t n_ssh;
	const char **insecure;
	size_t n_insecure;
	char **owned; /* strings made while parsing */
	size_t n_owned;
};

static char *
own(struct solve_args *a, char *s)
{
	a->owned = xrealloc(a->owned, (a->n_owned + 1) * sizeof(*a->owned));
	a->owned[a->n_owned++] = s;
	return s;
}

static void
args_done(struct solve_args *a)
{
	for (size_t i = 0; i < a->n_secrets; i++)
		free((void *)a->secrets[i].value);
	for (size_t i = 0; i < a->n_owned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->locals);
	free(a->secrets);
	free(a->ssh);
	free(a->insecure);
}

static int
add_local(struct cli *c, struct solve_args *a, const char *arg, struct kl_error **err)
{
	const char *eq = strchr(arg, '=');
	struct stat st;

	if (!eq || eq == arg || !eq[1])
		return cli_usage_error(c, err, "solve", "--local wants NAME=DIR, not '%s'", arg);
	if (stat(eq + 1, &st) < 0 || !S_ISDIR(st.st_mode))
		return cli_usage_error(c, err, "solve", "--local %s: '%s' is not a directory", arg,
		                       eq + 1);
	a->locals = xrealloc(a->locals, (a->n_locals + 1) * sizeof(*a->locals));
	a->locals[a->n_locals++] = (struct solve_local){
	    .name = own(a, xstrndup(arg, (size_t)(eq - arg))),
	    .dir = eq + 1,
	};
	return 0;
}

/* "id=ID,src=PATH" or "id=ID,env=VAR" (docker's "source=" and "type=" accepted too). */
static int
add_secret(struct cli *c, struct solve_args *a, const char *arg, struct kl_error **err)
{
	_cleanup_free_ char *copy = xstrdup(arg);
	const char *id = NULL, *src = NULL, *env = NULL;
	char *save = NULL, *value = NULL;
	size_t len = 0;

	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq)
			return cli_usage_error(c, err, "solve", "--secret: '%s' is not KEY=VALUE",
			                       kv);
		*eq++ = '\0';
		if (!strcmp(kv, "id"))
			id = eq;
		else if (!strcmp(kv, "src") || !strcmp(kv, "source"))
			src = eq;
		else if (!strcmp(kv, "env"))
			env = eq;
		else if (strcmp(kv, "type") != 0)
			return cli_usage_error(c, err, "solve", "--secret: unknown key '%s'", kv);
	}
	if (!id || !*id || (!src == !env))
		return cli_usage_error(c, err, "solve",
		                       "--secret wants id=ID and one of src=PATH, env=VAR");
	if (env) {
		const char *v = getenv(env);

		if (!v)
			return cli_usage_error(c, err, "solve", "--secret %s: $%s is not set", id,
			                       env);
		value = xstrdup(v);
		len = strlen(v);
	} else {
		_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		int r;

		if (fd < 0)
			return kl_error_set(err, errno, "solve: opening secret '%s' at '%s'", id,
			                    src);
		r = kl_io_read_all(fd, MAX_SECRET, &value, &len);
		if (r < 0)
			return kl_error_set(err, -r, "solve: reading secret '%s' from '%s'", id,
			                    src);
	}
	a->secrets = xrealloc(a->secrets, (a->n_secrets + 1) * sizeof(*a->secrets));
	a->secrets[a->n_secrets++] = (struct solve_secret){own(a, xstrdup(id)), value, len};
	return 0;
}

static int
add_ssh(struct cli *c, struct solve_args *a, const char *arg, struct kl_error **err)
{
	const char *eq = strchr(arg, '=');
	const char *sock = eq ? eq + 1 : getenv("SSH_AUTH_SOCK");
	struct stat st;

	if (!sock || !*sock)
		return cli_usage_error(
		    c, err, "solve", "--ssh %s: no socket given and $SSH_AUTH_SOCK is unset", arg);
	if (stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
		return cli_usage_error(c, err, "solve",
		                       "--ssh %s: '%s' is not an agent socket (key files are not "
		                       "supported yet: add the key to an ssh-agent)",
		                       arg, sock);
	a->ssh = xrealloc(a->ssh, (a->n_ssh + 1) * sizeof(*a->ssh));
	a->ssh[a->n_ssh++] = (struct solve_ssh){
	    .id = own(a, eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg)),
	    .socket = sock,
	};
	return 0;
}

static int
read_graph(const char *path, struct graph **ret, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) : dup(STDIN_FILENO);
	if (fd < 0)
		return kl_error_set(err, errno, "opening graph '%s'", path);
	r = kl_io_read_all(fd, GRAPH_MAX_JSON, &text, &len);
	if (r == -EFBIG)
		return kl_error_setf(err, EFBIG, "graph '%s' is larger than %u bytes", path,
		                     GRAPH_MAX_JSON);
	if (r < 0)
		return kl_error_set(err, -r, "reading graph '%s'", path);
	return graph_parse(text, len, path, ret, err);
}

static int
install_signals(int pipe_fds[2])
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};

	if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	cancel_write_fd = pipe_fds[1];
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}

/* Steps read many files at once through the lazy filesystem, which holds a verified blob fd
 * for each: allow as many as the system does. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
run(struct cli *c, struct solve_options *o, const char *graph_path, struct kl_error **err)
{
	_cleanup_(graph_freep) struct graph *g = NULL;
	struct solve_result res = {0};
	struct store *s;
	char id[DIGEST_STRING_SIZE];
	int r;

	r = read_graph(graph_path, &g, err);
	if (r < 0) {
		kl_error_prefix(err, "solve");
		return r;
	}
	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	raise_nofile();
	r = solve_run(s, g, o, &res, err);
	cli_progress_finish(o->progress_userdata);
	if (r < 0 && caught_signal) {
		kl_error_free(*err);
		*err = NULL;
		c->exit_status = 128 + caught_signal;
		solve_result_done(&res);
		return kl_error_setf(err, ECANCELED, "solve: cancelled");
	}
	if (r < 0) {
		kl_error_prefix(err, "solve");
		if (res.has_failed_tree && *err) {
			char *msg;

			digest_to_string(&res.failed_tree, id);
			msg = xasprintf("%s; the failed step's filesystem is tree %s (see it with "
			                "'kiln mount %s DIR')",
			                (*err)->msg, id, id);
			free((*err)->msg);
			(*err)->msg = msg;
		}
		solve_result_done(&res);
		return r;
	}
	printf("%s\n", digest_to_string(&res.tree, id));
	solve_result_done(&res);
	return 0;
}

int
cmd_solve(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"local", required_argument, NULL, 'l'},
	    {"progress", required_argument, NULL, 'p'},
	    {"no-cache", no_argument, NULL, 'n'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"allow", required_argument, NULL, 'a'},
	    {"secret", required_argument, NULL, 's'},
	    {"ssh", required_argument, NULL, 'S'},
	    {"platform", required_argument, NULL, 'P'},
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_(args_done) struct solve_args a = {0};
	enum cli_progress_mode mode = CLI_PROGRESS_AUTO;
	struct source_options src = {.auth_file = c->auth_file};
	struct solve_options o = {.cancel_fd = -1};
	struct cli_progress *progress = NULL;
	int pipe_fds[2] = {-1, -1}, opt, r = 0;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	optind = 0;
	while (r == 0 && (opt = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			r = add_local(c, &a, optarg, err);
			break;
		case 'p':
			if (cli_progress_parse(optarg, &mode) < 0)
				r = cli_usage_error(c, err, "solve",
				                    "--progress: '%s' is not auto, tty, "
				                    "plain or rawjson",
				                    optarg);
			break;
		case 'n':
			o.no_cache = true;
			break;
		case 'r':
			o.runtime = optarg;
			break;
		case 'a':
			if (strcmp(optarg, "security.insecure") != 0)
				r = cli_usage_error(c, err, "solve",
				                    "--allow: only 'security.insecure' is "
				                    "known, not '%s'",
				                    optarg);
			o.allow_insecure = true;
			break;
		case 's':
			r = add_secret(c, &a, optarg, err);
			break;
		case 'S':
			r = add_ssh(c, &a, optarg, err);
			break;
		case 'P':
			src.platform = optarg;
			break;
		case 'i':
			a.insecure = xrealloc(a.insecure, (a.n_insecure + 1) * sizeof(*a.insecure));
			a.insecure[a.n_insecure++] = optarg;
			break;
		default:
			return cli_option_error(c, err, "solve", opt, argv);
		}
	}
	if (r != 0)
		return r;
	if (optind + 1 != argc)
		return cli_usage_error(c, err, "solve",
		                       "expected one graph (a file, or - for stdin)");
	if (install_signals(pipe_fds) < 0)
		return kl_error_set(err, errno, "solve: creating a pipe");
	src.insecure_registries = a.insecure;
	src.n_insecure_registries = a.n_insecure;
	progress = cli_progress_new(mode, stderr);
	o.locals = a.locals;
	o.n_locals = a.n_locals;
	o.secrets = a.secrets;
	o.n_secrets = a.n_secrets;
	o.ssh = a.ssh;
	o.n_ssh = a.n_ssh;
	o.sources = &src;
	o.cancel_fd = pipe_fds[0];
	o.progress = cli_progress_event;
	o.progress_userdata = progress;
	r = run(c, &o, argv[optind], err);
	cli_progress_free(progress);
	cancel_write_fd = -1;
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	return r;
}
