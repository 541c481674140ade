// SPDX-License-Identifier: Apache-2.0
/* kiln build: docker build's and buildctl build's flags to a build (build/build.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/build-output.h"
#include "builder/build.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/solve-args.h"
#include "exporters/export.h"
#include "frontend/dockerfile-duration.h"
#include "frontend/dockerfile-lex.h"
#include "fs/store.h"
#include "solver/solve.h"
#include "sources/imgsrc.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char usage[] =
    "usage: kiln build [OPTION...] CONTEXT\n"
    "       kiln build --frontend dockerfile.v0 --local context=DIR [--local dockerfile=DIR]\n"
    "                  [--opt K=V]... [--exporter TYPE [--exporter-opt K=V]...] [OPTION...]\n"
    "\n"
    "Builds the Dockerfile of CONTEXT (a directory, a git URL URL#ref:subdir, or - for a\n"
    "Dockerfile on standard input and no context) as docker build does. What was built\n"
    "before comes from the cache.\n"
    "\n"
    "  -f, --file FILE          the Dockerfile (default CONTEXT/Dockerfile; - reads stdin);\n"
    "                           FILE.dockerignore, when present, replaces .dockerignore\n"
    "  -t, --tag NAME           keep the image in kiln's image index as NAME (repeatable)\n"
    "      --target STAGE       build that stage (default the last one)\n"
    "      --build-arg K[=V]    a build argument (K alone: from the environment)\n"
    "      --build-context NAME=DIR|docker-image://REF|oci-layout://DIR[:tag]|GIT-URL\n"
    "                           what FROM NAME and COPY --from=NAME take (repeatable)\n"
    "      --platform OS/ARCH   the target platform (default linux/amd64)\n"
    "      --secret id=ID,src=PATH|env=VAR   a secret for RUN --mount=type=secret\n"
    "      --ssh ID[=SOCKET|KEYFILE[,KEYFILE...]]  an ssh agent for RUN --mount=type=ssh\n"
    "                           (key files are loaded into an ssh-agent kiln runs)\n"
    "      --no-cache           run every step (the new results are cached)\n"
    "      --no-cache-filter STAGE   run that stage's steps (repeatable, or a,b)\n"
    "      --network MODE       RUN's default network: default, host or none\n"
    "      --allow security.insecure   let RUN --security=insecure run\n"
    "      --runtime PATH       the OCI runtime (default crun, else runc)\n"
    "      --passthrough        RUN steps read files already in the store through FUSE\n"
    "                           passthrough: large files at native speed, every open a\n"
    "                           round trip to kiln (see kiln mount --help)\n"
    "      --progress MODE      auto, tty, plain or rawjson (default auto)\n"
    "      --iidfile FILE       write the image id there\n"
    "      --metadata-file FILE write the build's metadata (JSON) there\n"
    "      --label K=V          a label on the image (repeatable)\n"
    "  -o, --output SPEC        type=local,dest=DIR | type=tar,dest=FILE|- | DIR | - |\n"
    "                           type=oci,dest=FILE|-|DIR[,tar=false] |\n"
    "                           type=docker[,dest=FILE|-] (no dest: the Docker daemon) |\n"
    "                           type=image,name=N[,push=true|store=containerd] |\n"
    "                           type=registry,name=N, with the exporters' options\n"
    "                           (compression=, oci-mediatypes=, annotation.K=, …;\n"
    "                           repeatable)\n"
    "      --provenance MODE    attach SLSA provenance to image outputs: min, max or false\n"
    "      --registry-chunk N   bytes of one upload request when pushing (default 32 MiB)\n"
    "      --pull[=POLICY]      base images: always, missing (default) or never;\n"
    "                           --pull alone is always\n"
    "      --registry-timeout D give up on a silent registry after D (like 30s)\n"
    "      --insecure-registry HOST  allow plain HTTP to HOST[:PORT] (repeatable)\n"
    "  -q, --quiet              no progress; print the image id\n"
    "\n"
    "buildctl's form: --frontend dockerfile.v0, --local context=DIR, --local dockerfile=DIR,\n"
    "--opt target=S, --opt build-arg:K=V, --opt filename=F, --opt label:K=V,\n"
    "--opt platform=P, --opt context:NAME=VALUE, --opt no-cache=,\n"
    "--opt attest:provenance=MODE, --exporter TYPE, --exporter-opt K=V (and --output).\n"
    "\n"
    "$SOURCE_DATE_EPOCH, unless --build-arg SOURCE_DATE_EPOCH= is given, is that build\n"
    "argument: times in the image are clamped to it. $DOCKER_HOST names the Docker daemon\n"
    "type=docker without dest loads into.\n";

struct args {
	struct cli_solve_args sa;
	char **strs; /* strings made here */
	size_t n_strs;
	const char **build_args, **labels, **tags, **no_cache_filter;
	size_t n_build_args, n_labels, n_tags, n_no_cache_filter;
	struct build_context *contexts;
	size_t n_contexts;
	struct build_output **outputs;
	size_t n_outputs;
	char **exporter_opts;
	size_t n_exporter_opts;
	const char *exporter;
	const char *file, *context, *local_context, *local_dockerfile, *frontend;
	char *stdin_text;
	size_t stdin_len;
};

static const char *
keep(struct args *a, char *s)
{
	a->strs = xrealloc(a->strs, (a->n_strs + 1) * sizeof(*a->strs));
	a->strs[a->n_strs++] = s;
	return s;
}

static void
push(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

static void
args_done(struct args *a)
{
	cli_solve_args_done(&a->sa);
	for (size_t i = 0; i < a->n_strs; i++)
		free(a->strs[i]);
	for (size_t i = 0; i < a->n_outputs; i++)
		build_output_free(a->outputs[i]);
	free(a->strs);
	free(a->build_args);
	free(a->labels);
	free(a->tags);
	free(a->no_cache_filter);
	free(a->contexts);
	free(a->outputs);
	free(a->exporter_opts);
	free(a->stdin_text);
}

/* "K=V", or "K" alone taking $K as docker does (skipped when unset). */
static void
add_build_arg(struct args *a, const char *kv)
{
	const char *v;

	if (strchr(kv, '=')) {
		push(&a->build_args, &a->n_build_args, kv);
		return;
	}
	v = getenv(kv);
	if (v)
		push(&a->build_args, &a->n_build_args, keep(a, xasprintf("%s=%s", kv, v)));
}

static int
add_context(struct cli *c, struct args *a, const char *kv, struct kl_error **err)
{
	const char *eq = strchr(kv, '=');

	if (!eq || eq == kv || !eq[1])
		return cli_usage_error(c, err, "build",
		                       "--build-context wants NAME=VALUE, not '%s'", kv);
	a->contexts = xrealloc(a->contexts, (a->n_contexts + 1) * sizeof(*a->contexts));
	a->contexts[a->n_contexts++] = (struct build_context){
	    .name = keep(a, xstrndup(kv, (size_t)(eq - kv))),
	    .value = eq + 1,
	};
	return 0;
}

static int
set_provenance(struct cli *c, struct build_options *o, const char *v, struct kl_error **err)
{
	enum export_provenance mode;
	int r = cli_provenance_parse(c, "build", v, &mode, err);

	if (r >= 0)
		o->provenance = (int)mode;
	return r;
}

/* buildctl's --opt K=V. */
static int
add_opt(struct cli *c, struct args *a, struct build_options *o, const char *kv,
        struct kl_error **err)
{
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
	const char *v = eq ? eq + 1 : "";

	if (!strcmp(k, "target"))
		o->target = v;
	else if (!strcmp(k, "filename"))
		a->file = v;
	else if (!strcmp(k, "platform"))
		o->platform = v;
	else if (!strcmp(k, "no-cache")) {
		if (!*v)
			o->no_cache = true;
		else
			for (char *save = NULL,
			          *s = strtok_r((char *)keep(a, xstrdup(v)), ",", &save);
			     s; s = strtok_r(NULL, ",", &save))
				push(&a->no_cache_filter, &a->n_no_cache_filter, s);
	} else if (!strncmp(k, "build-arg:", 10))
		push(&a->build_args, &a->n_build_args, keep(a, xasprintf("%s=%s", k + 10, v)));
	else if (!strncmp(k, "label:", 6))
		push(&a->labels, &a->n_labels, keep(a, xasprintf("%s=%s", k + 6, v)));
	else if (!strncmp(k, "context:", 8))
		return add_context(c, a, keep(a, xasprintf("%s=%s", k + 8, v)), err);
	else if (!strcmp(k, "attest:provenance"))
		return set_provenance(c, o, v, err);
	else if (!strcmp(k, "force-network-mode"))
		o->network_none = !strcmp(v, "none");
	else if (strcmp(k, "source") && strcmp(k, "cmdline") && strcmp(k, "image-resolve-mode"))
		return cli_usage_error(c, err, "build", "--opt: unknown option '%s'", k);
	return 0;
}

static int
read_stdin(struct cli *c, struct args *a, struct kl_error **err)
{
	int r;

	(void)c;
	if (a->stdin_text)
		return 0;
	r = kl_io_read_all(STDIN_FILENO, DOCKERFILE_MAX_SIZE, &a->stdin_text, &a->stdin_len);
	if (r < 0)
		return kl_error_set(err, -r, "build: reading the Dockerfile from standard input");
	return 0;
}

static bool
is_git(const char *s)
{
	struct stat st;

	if (stat(s, &st) == 0 && S_ISDIR(st.st_mode) && !strchr(s, '#'))
		return false;
	return source_classify(s) == SOURCE_GIT;
}

/* The context and the Dockerfile from the positional CONTEXT, -f and buildctl's locals. */
static int
place(struct cli *c, struct args *a, struct build_options *o, struct kl_error **err)
{
	const char *ctx = a->local_context ? a->local_context : a->context;
	struct stat st;
	int r;

	if (a->local_context && a->context)
		return cli_usage_error(c, err, "build",
		                       "give CONTEXT or --local context=DIR, not both");
	if (!ctx)
		return cli_usage_error(c, err, "build",
		                       "expected a CONTEXT (a directory, a git URL "
		                       "or -)");
	if (!strcmp(ctx, "-")) {
		r = read_stdin(c, a, err);
		if (r < 0)
			return r;
	} else if (is_git(ctx)) {
		o->context_git = ctx;
	} else if (stat(ctx, &st) < 0 || !S_ISDIR(st.st_mode)) {
		return cli_usage_error(c, err, "build", "the context '%s' is not a directory", ctx);
	} else {
		o->context_dir = ctx;
	}
	if (a->file && !strcmp(a->file, "-")) {
		r = read_stdin(c, a, err);
		if (r < 0)
			return r;
	} else if (a->local_dockerfile) {
		o->dockerfile_path = keep(
		    a, xasprintf("%s/%s", a->local_dockerfile, a->file ? a->file : "Dockerfile"));
	} else if (a->file) {
		o->dockerfile_path = a->file;
	}
	if (a->stdin_text) {
		o->dockerfile_text = a->stdin_text;
		o->dockerfile_len = a->stdin_len;
	}
	return 0;
}

static void
on_warning(void *userdata, const char *line)
{
	(void)userdata;
	fprintf(stderr, "WARNING: %s\n", line);
}

enum {
	OPT_TARGET = 256,
	OPT_BUILD_ARG,
	OPT_BUILD_CONTEXT,
	OPT_PLATFORM,
	OPT_SECRET,
	OPT_SSH,
	OPT_NO_CACHE,
	OPT_NO_CACHE_FILTER,
	OPT_PASSTHROUGH,
	OPT_NETWORK,
	OPT_ALLOW,
	OPT_RUNTIME,
	OPT_PROGRESS,
	OPT_IIDFILE,
	OPT_METADATA,
	OPT_LABEL,
	OPT_PULL,
	OPT_REGISTRY_TIMEOUT,
	OPT_INSECURE,
	OPT_FRONTEND,
	OPT_LOCAL,
	OPT_OPT,
	OPT_EXPORTER,
	OPT_EXPORTER_OPT,
	OPT_PROVENANCE,
	OPT_REGISTRY_CHUNK,
};

static const struct option options[] = {
    {"file", required_argument, NULL, 'f'},
    {"tag", required_argument, NULL, 't'},
    {"output", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"target", required_argument, NULL, OPT_TARGET},
    {"build-arg", required_argument, NULL, OPT_BUILD_ARG},
    {"build-context", required_argument, NULL, OPT_BUILD_CONTEXT},
    {"platform", required_argument, NULL, OPT_PLATFORM},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"ssh", required_argument, NULL, OPT_SSH},
    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
    {"no-cache-filter", required_argument, NULL, OPT_NO_CACHE_FILTER},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"runtime", required_argument, NULL, OPT_RUNTIME},
    {"passthrough", no_argument, NULL, OPT_PASSTHROUGH},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"iidfile", required_argument, NULL, OPT_IIDFILE},
    {"metadata-file", required_argument, NULL, OPT_METADATA},
    {"label", required_argument, NULL, OPT_LABEL},
    {"pull", optional_argument, NULL, OPT_PULL},
    {"registry-timeout", required_argument, NULL, OPT_REGISTRY_TIMEOUT},
    {"insecure-registry", required_argument, NULL, OPT_INSECURE},
    {"frontend", required_argument, NULL, OPT_FRONTEND},
    {"local", required_argument, NULL, OPT_LOCAL},
    {"opt", required_argument, NULL, OPT_OPT},
    {"exporter", required_argument, NULL, OPT_EXPORTER},
    {"exporter-opt", required_argument, NULL, OPT_EXPORTER_OPT},
    {"provenance", required_argument, NULL, OPT_PROVENANCE},
    {"registry-chunk", required_argument, NULL, OPT_REGISTRY_CHUNK},
    {NULL, 0, NULL, 0},
};

struct parsed {
	struct args a;
	struct build_options o;
	struct solve_options so;
	struct source_options src;
	enum cli_progress_mode mode;
	bool quiet;
};

static void
parsed_done(struct parsed *p)
{
	args_done(&p->a);
}

static int
parse_local(struct cli *c, struct args *a, const char *kv, struct kl_error **err)
{
	const char *eq = strchr(kv, '=');

	if (eq && !strncmp(kv, "context=", 8))
		a->local_context = eq + 1;
	else if (eq && !strncmp(kv, "dockerfile=", 11))
		a->local_dockerfile = eq + 1;
	else
		return cli_usage_error(c, err, "build",
		                       "--local wants context=DIR or dockerfile=DIR, not '%s'", kv);
	return 0;
}

static int
parse_one(struct cli *c, struct parsed *p, int opt, struct kl_error **err)
{
	struct args *a = &p->a;
	struct build_options *o = &p->o;
	char *msg = NULL;
	int64_t ns;
	int r = 0;

	switch (opt) {
	case 'f':
		a->file = optarg;
		break;
	case 't':
		push(&a->tags, &a->n_tags, optarg);
		break;
	case 'o':
		return cli_output_add(c, "build", optarg, &a->outputs, &a->n_outputs, err);
	case 'q':
		p->quiet = true;
		break;
	case OPT_TARGET:
		o->target = optarg;
		break;
	case OPT_BUILD_ARG:
		add_build_arg(a, optarg);
		break;
	case OPT_BUILD_CONTEXT:
		return add_context(c, a, optarg, err);
	case OPT_PLATFORM:
		o->platform = optarg;
		p->src.platform = optarg;
		break;
	case OPT_SECRET:
		return cli_solve_args_secret(c, &a->sa, "build", optarg, err);
	case OPT_SSH:
		return cli_solve_args_ssh(c, &a->sa, "build", optarg, err);
	case OPT_NO_CACHE:
		o->no_cache = true;
		break;
	case OPT_NO_CACHE_FILTER:
		for (char *save = NULL, *s = strtok_r((char *)keep(a, xstrdup(optarg)), ",", &save);
		     s; s = strtok_r(NULL, ",", &save))
			push(&a->no_cache_filter, &a->n_no_cache_filter, s);
		break;
	case OPT_NETWORK:
		if (strcmp(optarg, "default") && strcmp(optarg, "host") && strcmp(optarg, "none"))
			return cli_usage_error(c, err, "build",
			                       "--network: '%s' is not default, host or none",
			                       optarg);
		o->network_none = !strcmp(optarg, "none");
		break;
	case OPT_ALLOW:
		if (strcmp(optarg, "security.insecure") != 0)
			return cli_usage_error(
			    c, err, "build", "--allow: only 'security.insecure' is known, not '%s'",
			    optarg);
		p->so.allow_insecure = true;
		break;
	case OPT_RUNTIME:
		p->so.runtime = optarg;
		break;
	case OPT_PASSTHROUGH:
		p->so.lazy_passthrough = true;
		break;
	case OPT_PROGRESS:
		if (cli_progress_parse(optarg, &p->mode) < 0)
			return cli_usage_error(
			    c, err, "build", "--progress: '%s' is not auto, tty, plain or rawjson",
			    optarg);
		break;
	case OPT_IIDFILE:
		o->iidfile = optarg;
		break;
	case OPT_METADATA:
		o->metadata_file = optarg;
		break;
	case OPT_LABEL:
		push(&a->labels, &a->n_labels, optarg);
		break;
	case OPT_PULL: {
		enum imgsrc_pull_policy pp;

		r = imgsrc_pull_policy_parse(optarg ? optarg : "always", &pp, err);
		if (r < 0) {
			kl_error_prefix(err, "build: --pull");
			c->usage_cmd = "build";
			return r;
		}
		o->pull_policy = (int)pp;
		p->src.pull_policy = pp;
		break;
	}
	case OPT_REGISTRY_TIMEOUT:
		if (dockerfile_duration_parse(optarg, &ns, &msg) < 0 || ns <= 0) {
			r = cli_usage_error(c, err, "build", "--registry-timeout: %s",
			                    msg ? msg : "must be more than 0");
			free(msg);
			return r;
		}
		p->src.registry_timeout_ms = (unsigned)(ns / 1000000 ? ns / 1000000 : 1);
		break;
	case OPT_INSECURE:
		cli_solve_args_insecure(&a->sa, optarg);
		break;
	case OPT_FRONTEND:
		if (strcmp(optarg, "dockerfile.v0") != 0)
			return cli_usage_error(
			    c, err, "build", "--frontend: only dockerfile.v0 is built in, not '%s'",
			    optarg);
		a->frontend = optarg;
		break;
	case OPT_LOCAL:
		return parse_local(c, a, optarg, err);
	case OPT_OPT:
		return add_opt(c, a, o, optarg, err);
	case OPT_EXPORTER:
		a->exporter = optarg;
		break;
	case OPT_PROVENANCE:
		return set_provenance(c, o, optarg, err);
	case OPT_REGISTRY_CHUNK: {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(optarg, &end, 10);
		if (errno || end == optarg || *end || n < 1024 || n > (1ull << 32))
			return cli_usage_error(c, err, "build",
			                       "--registry-chunk: '%s' is not a byte count from "
			                       "1024 to 4294967296",
			                       optarg);
		o->registry_chunk = n;
		break;
	}
	case OPT_EXPORTER_OPT:
		a->exporter_opts = xrealloc(a->exporter_opts,
		                            (a->n_exporter_opts + 1) * sizeof(*a->exporter_opts));
		a->exporter_opts[a->n_exporter_opts++] = optarg;
		break;
	default:
		return cli_usage_error(c, err, "build", "unknown option");
	}
	return r;
}

/* $SOURCE_DATE_EPOCH as the build argument, as docker buildx passes it, unless one is given. */
static void
epoch_from_env(struct args *a)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");

	if (!e || !*e)
		return;
	for (size_t i = 0; i < a->n_build_args; i++)
		if (!strncmp(a->build_args[i], "SOURCE_DATE_EPOCH=", 18))
			return;
	push(&a->build_args, &a->n_build_args, keep(a, xasprintf("SOURCE_DATE_EPOCH=%s", e)));
}

static int
finish_args(struct cli *c, struct parsed *p, int argc, char **argv, struct kl_error **err)
{
	struct args *a = &p->a;
	struct build_options *o = &p->o;
	int r;

	if (optind < argc)
		a->context = argv[optind++];
	if (optind < argc)
		return cli_usage_error(c, err, "build", "unexpected argument '%s'", argv[optind]);
	if (a->exporter_opts && !a->exporter)
		return cli_usage_error(c, err, "build", "--exporter-opt needs --exporter TYPE");
	if (a->exporter) {
		struct build_output *out = NULL;

		r = build_output_from_exporter(a->exporter, a->exporter_opts, a->n_exporter_opts,
		                               &out, err);
		if (r < 0) {
			kl_error_prefix(err, "build: --exporter %s", a->exporter);
			c->usage_cmd = "build";
			return r;
		}
		a->outputs = xrealloc(a->outputs, (a->n_outputs + 1) * sizeof(*a->outputs));
		a->outputs[a->n_outputs++] = out;
	}
	r = place(c, a, o, err);
	if (r < 0)
		return r;
	epoch_from_env(a);
	o->build_args = a->build_args;
	o->n_build_args = a->n_build_args;
	o->labels = a->labels;
	o->n_labels = a->n_labels;
	o->tags = a->tags;
	o->n_tags = a->n_tags;
	o->no_cache_filter = a->no_cache_filter;
	o->n_no_cache_filter = a->n_no_cache_filter;
	o->contexts = a->contexts;
	o->n_contexts = a->n_contexts;
	o->outputs = (const struct build_output *const *)a->outputs;
	o->n_outputs = a->n_outputs;
	return 0;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* An output on standard output: -q then prints no id over it. */
static bool
to_stdout(const struct build_options *o)
{
	for (size_t i = 0; i < o->n_outputs; i++)
		if (build_output_to_stdout(o->outputs[i]))
			return true;
	return false;
}

static int
run(struct cli *c, struct parsed *p, struct kl_error **err)
{
	struct cli_progress *progress = NULL;
	struct build_result res = {0};
	char id[DIGEST_STRING_SIZE];
	struct store *s;
	int r;

	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = cli_cancel_install(&p->so.cancel_fd, err);
	if (r < 0)
		return r;
	cli_solve_args_apply(&p->a.sa, &p->so, &p->src);
	if (!p->quiet) {
		progress = cli_progress_new(p->mode, stderr);
		p->so.progress = cli_progress_event;
		p->so.progress_userdata = progress;
	}
	p->o.solve = &p->so;
	p->o.sources = &p->src;
	p->o.warn = on_warning;
	p->o.now = (int64_t)time(NULL);
	p->o.docker_host = getenv("DOCKER_HOST");
	p->o.keep_image = (p->quiet && !to_stdout(&p->o)) || p->o.iidfile || p->o.metadata_file;
	raise_nofile();
	r = build_run(s, &p->o, &res, err);
	if (progress)
		cli_progress_finish(progress);
	cli_progress_free(progress);
	cli_cancel_remove();
	if (r < 0 && cli_cancel_signal()) {
		kl_error_freep(err);
		c->exit_status = 128 + cli_cancel_signal();
		r = kl_error_setf(err, ECANCELED, "build: cancelled");
	} else if (r < 0) {
		if (res.excerpt)
			fputs(res.excerpt, stderr);
		kl_error_prefix(err, "build");
		if (res.has_failed_tree) {
			kl_log(KL_LOG_ERROR, "%s", (*err)->msg);
			kl_error_freep(err);
			digest_to_string(&res.failed_tree, id);
			r = kl_error_setf(
			    err, ECHILD,
			    "build: the failed step's filesystem is tree %s (see it with "
			    "'kiln mount %s DIR')",
			    id, id);
		}
	} else if (p->quiet && !to_stdout(&p->o)) {
		printf("%s\n", digest_to_string(&res.image_id, id));
	}
	build_result_done(&res);
	return r;
}

int
cmd_build(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	_cleanup_(parsed_done) struct parsed p = {.mode = CLI_PROGRESS_AUTO};
	int opt, r = 0;

	p.src.auth_file = c->auth_file;
	p.so.cancel_fd = -1;
	if (cli_wants_help(argc, argv, usage))
		return 0;
	while ((opt = getopt_long(argc, argv, ":f:t:o:q", options, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return cli_option_error(c, err, "build", opt, argv);
		r = parse_one(c, &p, opt, err);
		if (r < 0)
			return r;
	}
	r = finish_args(c, &p, argc, argv, err);
	if (r < 0)
		return r;
	return run(c, &p, err);
}
