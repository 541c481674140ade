// SPDX-License-Identifier: Apache-2.0
/* The kiln command: global options, the store root, dispatch, and the one report of a failure. */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fs/store.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char usage[] =
    "usage: kiln [--root DIR] [--debug] COMMAND [ARG...]\n"
    "       kiln --help | --version\n"
    "\n"
    "kiln builds container images from Dockerfiles, daemonless, over lazily mounted trees.\n"
    "\n"
    "commands:\n"
    "  tree import DIR            import a directory into the store, print its tree id\n"
    "  tree export TREE-ID DIR    write a tree out to an empty directory\n"
    "  tree ls [-r] TREE-ID [PATH]  list a tree's entries\n"
    "  store du                   count the store's blobs and bytes\n"
    "  store verify               re-hash every blob and report the corrupt ones\n"
    "  context hash [--ignore-file F] DIR  print a build context's tree id\n"
    "  pull [--all] REF           fetch an image's metadata (and layers), print its tree id;\n"
    "                             a registry's image is kept in the image index by name\n"
    "  build [OPTION...] CONTEXT  build a Dockerfile into an image (docker build's flags)\n"
    "  images                     list kiln's image index (names, ids, created, sizes)\n"
    "  tag SOURCE NAME...         name an image (a name, an id, oci-layout://, docker-image://)\n"
    "  rmi NAME...                remove names from the image index\n"
    "  inspect NAME...            print images' configs, layers and trees as JSON\n"
    "  mount [-f] SOURCE DIR      show SOURCE at DIR, lazily: a tree id, a directory,\n"
    "                             an image name, a git URL or repo with #ref[:subdir],\n"
    "                             docker-image://REF, oci-layout://DIR[:tag]\n"
    "  umount DIR                 unmount what kiln mount put at DIR\n"
    "  cache ls|snapshot ID       the RUN cache mounts kept in the store, and trees of them\n"
    "  dockerfile parse [--dump] FILE  check a Dockerfile, or print its parse tree\n"
    "  dockerfile expand [--env K=V]... STRING  expand words as a Dockerfile does\n"
    "  solve [OPTION...] GRAPH    solve a build graph (docs/graph.md), print its tree id\n"
    "  du                         the build cache's records and the store's use\n"
    "  prune [--all] [...]        free the store's blobs that nothing needs\n"
    "  push NAME [DEST]           push an image of kiln's index to a registry\n"
    "  save NAME -o FILE          write an image of kiln's index as a Docker or OCI archive\n"
    "  layer export [--compression C] TREE-ID  a diff tree as a layer blob, printed as JSON\n"
    "\n"
    "options:\n"
    "  --root DIR   the store (default: $KILN_ROOT, else /var/lib/kiln as root,\n"
    "               else $XDG_DATA_HOME/kiln or ~/.local/share/kiln)\n"
    "  --debug      log debug lines to stderr\n"
    "\n"
    "Run 'kiln COMMAND --help' for a command's own options.\n";

static const struct {
	const char *name;
	cmd_fn fn;
} commands[] = {
    {"tree", cmd_tree},       {"store", cmd_store},
    {"context", cmd_context}, {"pull", cmd_pull},
    {"mount", cmd_mount},     {"umount", cmd_umount},
    {"cache", cmd_cache},     {"dockerfile", cmd_dockerfile},
    {"solve", cmd_solve},     {"du", cmd_du},
    {"prune", cmd_prune},     {"images", cmd_images},
    {"tag", cmd_tag},         {"rmi", cmd_rmi},
    {"inspect", cmd_inspect}, {"build", cmd_build},
    {"layer", cmd_layer},     {"push", cmd_push},
    {"save", cmd_save},
};

static char *
default_root(void)
{
	const char *env = getenv("KILN_ROOT"), *xdg, *home;

	if (env && *env)
		return xstrdup(env);
	if (geteuid() == 0)
		return xstrdup("/var/lib/kiln");
	xdg = getenv("XDG_DATA_HOME");
	if (xdg && *xdg)
		return xasprintf("%s/kiln", xdg);
	home = getenv("HOME");
	return xasprintf("%s/.local/share/kiln", home && *home ? home : ".");
}

/* Where docker keeps registry credentials; NULL when there is no home to look in. A relative
 * $DOCKER_CONFIG is made absolute: a background mount reads it later, from "/". */
static char *
default_auth_file(void)
{
	const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char *cwd, *path;

	if (dir && *dir && *dir != '/' && (cwd = getcwd(NULL, 0))) {
		path = xasprintf("%s/%s/config.json", cwd, dir);
		free(cwd);
		return path;
	}
	if (dir && *dir)
		return xasprintf("%s/config.json", dir);
	return home && *home ? xasprintf("%s/.docker/config.json", home) : NULL;
}

static void
log_to_stderr(enum kl_log_level level, const char *line, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "kiln: %s%s\n", level == KL_LOG_DEBUG ? "debug: " : "", line);
}

/* Reports a command's failure once and gives the exit status: 0, 1 failure, 2 usage, or the
 * command's own (c->exit_status). */
static int
report(const struct cli *c, const char *cmd, int r, struct kl_error **err)
{
	assert(r <= 0);
	if (r == 0)
		return 0;
	if (*err)
		kl_log(KL_LOG_ERROR, "%s", (*err)->msg);
	else /* a command that forgot to say why: still say something */
		kl_log(KL_LOG_ERROR, "%s: %s", cmd, strerror(-r));
	kl_error_freep(err);
	if (c->exit_status)
		return c->exit_status;
	if (!c->usage_cmd)
		return 1;
	fprintf(stderr, "Try 'kiln%s%s --help'.\n", *c->usage_cmd ? " " : "", c->usage_cmd);
	return 2;
}

static cmd_fn
find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			return commands[i].fn;
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"debug", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct kl_error *err = NULL;
	struct cli c = {0};
	_cleanup_free_ char *root = NULL, *auth_file = NULL;
	cmd_fn fn;
	int opt, r;

	opterr = 0; /* option errors are reported as usage errors, once */
	/* '+': stop at the command name; what follows belongs to the subcommand */
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			free(root);
			root = xstrdup(optarg);
			break;
		case 'd':
			c.debug = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("kiln %s\n", KILN_VERSION);
			return 0;
		default:
			r = cli_option_error(&c, &err, /* cmd= */ "", opt, argv);
			return report(&c, "kiln", r, &err);
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return 2;
	}
	fn = find_command(argv[optind]);
	if (!fn) {
		fprintf(stderr, "kiln: '%s' is not a kiln command. See 'kiln --help'.\n",
		        argv[optind]);
		return 2;
	}
	kl_log_setup(c.debug ? KL_LOG_DEBUG : KL_LOG_INFO, log_to_stderr, NULL);
	c.root = root ? root : (root = default_root());
	c.auth_file = auth_file = default_auth_file();
	argc -= optind;
	argv += optind;
	optind = 0; /* subcommands run getopt again over their own arguments */
	r = fn(&c, argc, argv, &err);
	store_unref(c.store);
	return report(&c, argv[0], r, &err);
}
