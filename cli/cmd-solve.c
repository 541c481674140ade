// SPDX-License-Identifier: Apache-2.0
/* kiln solve: reads a build graph (docs/graph.md), binds its local sources, secrets and ssh
 * agents, solves it with progress on stderr, prints the result's tree id and writes it to each
 * --output (its files, or an image of one layer, with provenance when asked) and the metadata
 * file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/build-metadata.h"
#include "builder/build-output.h"
#include "builder/build-provenance.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/solve-args.h"
#include "exporters/export.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "solver/graph.h"
#include "solver/solve.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/timestamp.h"
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
    "  --passthrough          steps read files already in the store through FUSE\n"
    "                         passthrough: large files at native speed, every open a round\n"
    "                         trip to kiln (see kiln mount --help)\n"
    "  --allow security.insecure  let exec vertices ask for security=insecure\n"
    "  --secret id=ID,src=PATH|env=VAR  a secret for type=secret mounts (repeatable)\n"
    "  --ssh ID=SOCKET        an ssh agent socket for type=ssh mounts; ID alone takes\n"
    "                         $SSH_AUTH_SOCK (repeatable)\n"
    "  --platform OS/ARCH     images: the platform to pick (default linux/amd64)\n"
    "  --insecure-registry HOST  images: allow plain HTTP to HOST[:PORT] (repeatable)\n"
    "  -o, --output SPEC      also write the result as kiln build -o does: type=local,dest=DIR,\n"
    "                         type=tar,dest=FILE|-, or an image of one layer (the tree):\n"
    "                         type=oci|docker|image|registry,… (repeatable)\n"
    "  --metadata-file FILE   write the solve's metadata (JSON) there: the first image\n"
    "                         output's digests and name, kiln.tree, layers made and reused\n"
    "  --provenance MODE      attach SLSA provenance to image outputs: min, max or false\n"
    "\n"
    "$SOURCE_DATE_EPOCH clamps an image output's times; $DOCKER_HOST names the daemon\n"
    "type=docker without dest loads into.\n"
    "\n"
    "SIGINT or SIGTERM stops the build cleanly (exit status 130 or 143).\n";

static int
read_graph(const char *path, struct graph **ret, struct digest *ret_digest, struct kl_error **err)
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
	digest_buffer(text, len, ret_digest);
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

/* What the solve does with its result. */
struct outputs {
	struct build_output **v;
	size_t n;
	const char *metadata_file;
	enum export_provenance provenance;
	bool has_epoch; /* $SOURCE_DATE_EPOCH */
	int64_t epoch;
	/* filled by write_outputs: */
	struct export_provenance_info prov;
	bool exported; /* first holds the first image output's result */
	struct export_result first;
	size_t layers_made, layers_reused;
};

static void
outputs_done(struct outputs *o)
{
	for (size_t i = 0; i < o->n; i++)
		build_output_free(o->v[i]);
	free(o->v);
	export_provenance_info_done(&o->prov);
	export_result_done(&o->first);
}

/* The tree as an image of one layer, exported as out says. */
static int
export_tree(struct store *s, struct provider_set *ps, struct outputs *outs,
            const struct build_output *out, const struct digest *tree,
            const struct source_options *src, struct kl_error **err)
{
	struct export_options eo = out->image; /* shallow: out keeps what it owns */
	struct export_result res = {0};
	struct imgstore_image im = {0};
	int r;

	eo.has_epoch = outs->has_epoch;
	eo.epoch = outs->epoch;
	eo.docker_host = getenv("DOCKER_HOST");
	eo.auth_file = src->auth_file;
	eo.insecure_registries = src->insecure_registries;
	eo.n_insecure_registries = src->n_insecure_registries;
	eo.registry_timeout_ms = src->registry_timeout_ms;
	if (outs->prov.mode != EXPORT_PROVENANCE_NONE)
		eo.provenance = outs->prov; /* lent: outs keeps it */
	r = export_image_from_tree(tree, src->platform, &eo, &im, err);
	if (r >= 0)
		r = export_run(s, ps, &im, &eo, &res, err);
	imgstore_image_done(&im);
	if (r < 0)
		return r;
	outs->layers_made += res.layers_made;
	outs->layers_reused += res.layers_reused;
	if (!outs->exported) {
		outs->first = res;
		outs->exported = true;
	} else {
		export_result_done(&res);
	}
	return 0;
}

static int
write_outputs(struct store *s, struct outputs *outs, const struct digest *tree,
              const struct source_options *src, struct kl_error **err)
{
	_cleanup_(provider_set_freep) struct provider_set *ps = NULL;
	int r = 0;

	if (!outs->n)
		return 0;
	ps = provider_set_new_default(s, NULL);
	source_add_providers(ps, s, src);
	for (size_t i = 0; r >= 0 && i < outs->n; i++)
		r = outs->v[i]->type == BUILD_OUTPUT_IMAGE
		        ? export_tree(s, ps, outs, outs->v[i], tree, src, err)
		        : build_output_write(s, ps, outs->v[i], tree, err);
	if (r < 0)
		kl_error_prefix(err, "solve: output");
	return r;
}

/* The provenance (when asked for) and the metadata file, around the outputs. */
static int
finish(struct store *s, struct outputs *outs, const struct graph *g, const char *graph_path,
       const struct digest *graph_digest, const struct solve_result *res,
       const struct source_options *src, int64_t started, struct kl_error **err)
{
	const struct build_solve_provenance in = {
	    .mode = outs->provenance,
	    .graph = g,
	    .sr = res,
	    .graph_name = graph_path,
	    .graph_digest = *graph_digest,
	    .platform = src->platform,
	    .started = started,
	    .finished = (int64_t)time(NULL),
	    .reproducible = outs->has_epoch,
	};
	struct build_metadata md = {.tree = res->tree};
	int r;

	build_provenance_solve(&in, &outs->prov);
	r = write_outputs(s, outs, &res->tree, src, err);
	if (r < 0 || !outs->metadata_file)
		return r;
	md.export = outs->exported ? &outs->first : NULL;
	md.layers_made = outs->layers_made;
	md.layers_reused = outs->layers_reused;
	r = build_metadata_write(outs->metadata_file, &md, err);
	if (r < 0)
		kl_error_prefix(err, "solve: --metadata-file");
	return r;
}

static int
run(struct cli *c, struct solve_options *o, struct outputs *outs, const char *graph_path,
    struct kl_error **err)
{
	_cleanup_(graph_freep) struct graph *g = NULL;
	struct solve_result res = {0};
	int64_t started = (int64_t)time(NULL);
	struct digest graph_digest;
	struct store *s;
	char id[DIGEST_STRING_SIZE];
	int r;

	r = read_graph(graph_path, &g, &graph_digest, err);
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
	r = finish(s, outs, g, graph_path, &graph_digest, &res, o->sources, started, err);
	for (size_t i = 0; r >= 0 && i < outs->n; i++)
		if (build_output_to_stdout(outs->v[i]))
			r = 1;
	if (r == 0)
		printf("%s\n", digest_to_string(&res.tree, id));
	solve_result_done(&res);
	return r < 0 ? r : 0;
}

int
cmd_solve(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"local", required_argument, NULL, 'l'},
	    {"progress", required_argument, NULL, 'p'},
	    {"no-cache", no_argument, NULL, 'n'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"passthrough", no_argument, NULL, 'T'},
	    {"allow", required_argument, NULL, 'a'},
	    {"secret", required_argument, NULL, 's'},
	    {"ssh", required_argument, NULL, 'S'},
	    {"platform", required_argument, NULL, 'P'},
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"output", required_argument, NULL, 'o'},
	    {"metadata-file", required_argument, NULL, 'm'},
	    {"provenance", required_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_(cli_solve_args_done) struct cli_solve_args a = {0};
	_cleanup_(outputs_done) struct outputs outs = {0};
	enum cli_progress_mode mode = CLI_PROGRESS_AUTO;
	struct source_options src = {.auth_file = c->auth_file};
	struct solve_options o = {.cancel_fd = -1};
	struct cli_progress *progress = NULL;
	int opt, r = 0;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	while (r == 0 && (opt = getopt_long(argc, argv, "+:o:", opts, NULL)) != -1) {
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
		case 'T':
			o.lazy_passthrough = true;
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
		case 'o':
			r = cli_output_add(c, "solve", optarg, &outs.v, &outs.n, err);
			break;
		case 'm':
			outs.metadata_file = optarg;
			break;
		case 'v':
			r = cli_provenance_parse(c, "solve", optarg, &outs.provenance, err);
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
	r = kl_source_date_epoch_parse("SOURCE_DATE_EPOCH", getenv("SOURCE_DATE_EPOCH"),
	                               &outs.epoch, err);
	if (r < 0) {
		kl_error_prefix(err, "solve");
		return r;
	}
	outs.has_epoch = r > 0;
	r = cli_cancel_install(&o.cancel_fd, err);
	if (r < 0)
		return r;
	cli_solve_args_apply(&a, &o, &src);
	progress = cli_progress_new(mode, stderr);
	o.sources = &src;
	o.progress = cli_progress_event;
	o.progress_userdata = progress;
	r = run(c, &o, &outs, argv[optind], err);
	cli_progress_free(progress);
	cli_cancel_remove();
	return r;
}
