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
#include "cli/solve-args.h"
#include "fs/store.h"
#include "solver/graph.h"
#include "solver/solve.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

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
	if (r < 0 && cli_cancel_signal()) {
		kl_error_freep(err);
		c->exit_status = 128 + cli_cancel_signal();
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
	_cleanup_(cli_solve_args_done) struct cli_solve_args a = {0};
	enum cli_progress_mode mode = CLI_PROGRESS_AUTO;
	struct source_options src = {.auth_file = c->auth_file};
	struct solve_options o = {.cancel_fd = -1};
	struct cli_progress *progress = NULL;
	int opt, r = 0;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	while (r == 0 && (opt = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			r = cli_solve_args_local(c, &a, "solve", optarg, err);
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
			r = cli_solve_args_secret(c, &a, "solve", optarg, err);
			break;
		case 'S':
			r = cli_solve_args_ssh(c, &a, "solve", optarg, err);
			break;
		case 'P':
			src.platform = optarg;
			break;
		case 'i':
			cli_solve_args_insecure(&a, optarg);
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
	r = cli_cancel_install(&o.cancel_fd, err);
	if (r < 0)
		return r;
	cli_solve_args_apply(&a, &o, &src);
	progress = cli_progress_new(mode, stderr);
	o.sources = &src;
	o.progress = cli_progress_event;
	o.progress_userdata = progress;
	r = run(c, &o, argv[optind], err);
	cli_progress_free(progress);
	cli_cancel_remove();
	return r;
}
