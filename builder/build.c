// SPDX-License-Identifier: Apache-2.0
/* A build: the Dockerfile read, parsed and converted, the graph solved, the layers diffed, the
 * image exported under its names and to the outputs. */
#include "builder/build.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/build-internal.h"
#include "builder/build-metadata.h"
#include "builder/build-output.h"
#include "exporters/export.h"
#include "exporters/layer.h"
#include "frontend/dockerfile-convert.h"
#include "frontend/dockerfile-diag.h"
#include "frontend/dockerfile-instr.h"
#include "frontend/dockerfile-lex.h"
#include "frontend/dockerfile-parse.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "solver/graph.h"
#include "solver/solve.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

/* The state of one build_run. */
struct bld {
	struct store *s;
	const struct build_options *o;
	struct build_result *res;
	struct dockerfile_source src;
	char *text; /* the Dockerfile's bytes when read here */
	char *name;
	struct dockerfile *df;
	struct dockerfile_instrs instrs;
	struct dockerfile_build b;
	struct build_images images;
	struct dockerfile_context *contexts;
	char **owned;
	size_t n_owned;
	struct solve_local *locals;
	size_t n_locals;
	struct solve_result sr;
	struct provider_set *ps; /* for the outputs, made on first use */
	struct export_provenance_info prov;
	bool has_id;   /* res->image_id is known (the index holds the image, or it was exported) */
	bool exported; /* first holds the first export's result */
	struct export_result first;
	uint32_t next_internal; /* progress index of the next internal vertex */
	int64_t started_ns;
	int64_t read_ns; /* when the Dockerfile was read */
};

static char *
own(struct bld *b, char *s)
{
	b->owned = xrealloc(b->owned, (b->n_owned + 1) * sizeof(*b->owned));
	b->owned[b->n_owned++] = s;
	return s;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
warn(struct bld *b, const char *line)
{
	if (b->o->warn)
		b->o->warn(b->o->warn_userdata, line);
}

/* Progress of what kiln does around the graph ("[internal] load build definition…"), as
 * vertices numbered past the graph's. */
static void
internal_vertex(struct bld *b, const char *name, int64_t started, const char *log)
{
	const struct solve_options *so = b->o->solve;
	struct progress_event ev = {.name = name};
	int64_t now = now_ns();

	if (!so || !so->progress)
		return;
	ev.vertex = b->next_internal++;
	ev.kind = PROGRESS_VERTEX_STARTED;
	ev.time_ns = started;
	so->progress(&ev, so->progress_userdata);
	if (log) {
		ev.kind = PROGRESS_VERTEX_LOG;
		ev.stream = 1;
		ev.data = log;
		ev.len = strlen(log);
		ev.time_ns = now;
		so->progress(&ev, so->progress_userdata);
	}
	ev = (struct progress_event){
	    .kind = PROGRESS_VERTEX_DONE,
	    .vertex = ev.vertex,
	    .name = name,
	    .time_ns = now,
	    .started_ns = started,
	    .duration_ns = (uint64_t)(now - started),
	};
	so->progress(&ev, so->progress_userdata);
}

/* A file of a tree (a git context's Dockerfile), read through the source providers. */
static int
read_tree_file(struct bld *b, const struct digest *tree, const char *path, char **ret,
               size_t *ret_len, struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	_cleanup_(provider_set_freep) struct provider_set *ps = NULL;
	_cleanup_close_ int fd = -1;
	struct provider_request req = {.path = path};
	struct tree_entry e;
	struct digest d;
	uint32_t idx;
	int r;

	while (*path == '/')
		path++;
	r = tree_load(b->s, tree, &t, err);
	if (r < 0)
		return r;
	r = tree_lookup(t, path, strlen(path), &idx);
	if (r < 0)
		return kl_error_setf(err, ENOENT, "the git context has no '%s'", path);
	tree_entry_at(t, tree_resolve_hardlink(t, idx), &e);
	if (e.type != TREE_REG)
		return kl_error_setf(err, EINVAL, "'%s' in the git context is not a file", path);
	if (e.size > DOCKERFILE_MAX_SIZE)
		return kl_error_setf(err, EFBIG, "'%s' is larger than %u MiB", path,
		                     DOCKERFILE_MAX_SIZE >> 20);
	ps = provider_set_new_default(b->s, NULL);
	source_add_providers(ps, b->s, b->o->sources);
	req.locator = e.locator;
	req.locator_len = e.locator_len;
	req.digest = (e.flags & TREE_ENTRY_HAS_DIGEST) ? &e.digest : NULL;
	req.size = e.size;
	if (e.size == 0) {
		*ret = xstrdup("");
		*ret_len = 0;
		return 0;
	}
	fd = provider_set_open(ps, NULL, &req, &d, err);
	if (fd < 0)
		return fd;
	r = kl_io_read_all(fd, DOCKERFILE_MAX_SIZE, ret, ret_len);
	if (r < 0)
		return kl_error_set(err, -r, "reading '%s' of the git context", path);
	return 0;
}

static int
read_dockerfile(struct bld *b, struct kl_error **err)
{
	const struct build_options *o = b->o;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	int64_t t0 = now_ns();
	size_t len = 0;
	const char *base;
	int r;

	if (o->dockerfile_text) {
		b->src.data = o->dockerfile_text;
		b->src.len = o->dockerfile_len;
		b->name = xstrdup("Dockerfile");
		goto done;
	}
	if (o->context_git && !o->dockerfile_path) {
		struct digest tree;
		_cleanup_free_ char *sub = NULL;

		r = source_resolve(b->s, o->context_git, o->sources, &tree, err);
		if (r >= 0)
			r = read_tree_file(b, &tree, "Dockerfile", &b->text, &len, err);
		if (r < 0)
			return r;
		b->name = xstrdup("Dockerfile");
		b->src.data = b->text;
		b->src.len = len;
		goto done;
	}
	if (o->dockerfile_path)
		path = xstrdup(o->dockerfile_path);
	else if (o->context_dir)
		path = xasprintf("%s/Dockerfile", o->context_dir);
	else
		return kl_error_setf(err, EINVAL, "no Dockerfile: give -f FILE or a context");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return kl_error_set(err, errno, "opening the Dockerfile '%s'", path);
	r = kl_io_read_all(fd, DOCKERFILE_MAX_SIZE, &b->text, &len);
	if (r == -EFBIG)
		return kl_error_setf(err, EFBIG, "'%s' is larger than %u MiB", path,
		                     DOCKERFILE_MAX_SIZE >> 20);
	if (r < 0)
		return kl_error_set(err, -r, "reading the Dockerfile '%s'", path);
	base = strrchr(path, '/');
	b->name = xstrdup(base ? base + 1 : path);
	b->src.data = b->text;
	b->src.len = len;
done:
	b->src.name = b->name;
	b->read_ns = t0;
	return 0;
}

static void
set_excerpt(struct bld *b, unsigned line, unsigned end_line)
{
	free(b->res->excerpt);
	b->res->excerpt = dockerfile_excerpt(&b->src, line, end_line);
}

static void
report_warnings(struct bld *b)
{
	const struct dockerfile_warnings *w = &b->df->warnings;

	for (size_t i = 0; i < w->n; i++) {
		_cleanup_free_ char *line =
		    w->v[i].line ? xasprintf("%s:%u: %s", b->name, w->v[i].line, w->v[i].message)
		                 : xasprintf("%s: %s", b->name, w->v[i].message);

		warn(b, line);
	}
}

static int
parse(struct bld *b, struct kl_error **err)
{
	struct dockerfile_error *detail = NULL;
	struct dockerfile_parse_options po = {.error = &detail};
	int r;

	r = dockerfile_parse(&b->src, &po, &b->df, err);
	if (r >= 0)
		r = dockerfile_instrs_parse(b->df, &b->src, &b->instrs, &detail, err);
	if (r < 0 && detail)
		set_excerpt(b, detail->line, detail->end_line);
	dockerfile_error_free(detail);
	if (r >= 0)
		report_warnings(b);
	return r;
}

/* --build-context values: an image spec, a git URL, or a directory. */
static int
named_contexts(struct bld *b, struct kl_error **err)
{
	const struct build_options *o = b->o;
	struct stat st;

	b->contexts = xcalloc(o->n_contexts + 1, sizeof(*b->contexts));
	for (size_t i = 0; i < o->n_contexts; i++) {
		const struct build_context *c = &o->contexts[i];
		struct dockerfile_context *d = &b->contexts[i];

		d->name = c->name;
		if (!strncmp(c->value, "docker-image://", 15) ||
		    !strncmp(c->value, "oci-layout://", 13)) {
			d->kind = DOCKERFILE_CONTEXT_IMAGE;
			d->value = c->value;
		} else if (stat(c->value, &st) == 0 && S_ISDIR(st.st_mode) &&
		           source_classify(c->value) == SOURCE_CONTEXT) {
			d->kind = DOCKERFILE_CONTEXT_LOCAL;
			d->value = own(b, xasprintf("context:%s", c->name));
			b->locals = xrealloc(b->locals, (b->n_locals + 1) * sizeof(*b->locals));
			b->locals[b->n_locals++] = (struct solve_local){d->value, c->value, NULL};
		} else if (source_classify(c->value) == SOURCE_GIT) {
			d->kind = DOCKERFILE_CONTEXT_GIT;
			d->value = c->value;
		} else {
			return kl_error_setf(err, EINVAL,
			                     "--build-context %s=%s: not a directory, a git URL, "
			                     "docker-image:// or oci-layout://",
			                     c->name, c->value);
		}
	}
	return 0;
}

static bool
arg_true(const struct build_options *o, const char *key)
{
	size_t n = strlen(key);
	bool on = false;

	for (size_t i = 0; i < o->n_build_args; i++)
		if (!strncmp(o->build_args[i], key, n) && o->build_args[i][n] == '=')
			on = !strcmp(o->build_args[i] + n + 1, "1") ||
			     !strcmp(o->build_args[i] + n + 1, "true");
	return on;
}

static int
convert(struct bld *b, struct kl_error **err)
{
	const struct build_options *o = b->o;
	struct dockerfile_error *detail = NULL;
	struct dockerfile_convert_options co = {
	    .src = &b->src,
	    .target = o->target,
	    .build_args = o->build_args,
	    .n_build_args = o->n_build_args,
	    .labels = o->labels,
	    .n_labels = o->n_labels,
	    .target_platform = o->platform,
	    .context_name = o->context_dir ? "context" : NULL,
	    .context_git = o->context_git,
	    .context_keep_git_dir = arg_true(o, "BUILDKIT_CONTEXT_KEEP_GIT_DIR"),
	    .contexts = b->contexts,
	    .n_contexts = o->n_contexts,
	    .no_cache_stages = o->no_cache_filter,
	    .n_no_cache_stages = o->n_no_cache_filter,
	    .no_cache = o->no_cache,
	    .network_none = o->network_none,
	    .resolve = build_resolve,
	    .userdata = &b->images,
	    .now = o->now ? o->now : (int64_t)time(NULL),
	    .warnings = &b->df->warnings,
	    .error = &detail,
	};
	int r;

	b->images.s = b->s;
	b->images.src = o->sources;
	b->images.pull_policy = o->pull_policy;
	if (o->sources && o->sources->platform && !o->platform)
		co.target_platform = o->sources->platform;
	r = dockerfile_convert(b->df, &b->instrs, &co, &b->b, err);
	if (r < 0 && detail)
		set_excerpt(b, detail->line, detail->end_line);
	dockerfile_error_free(detail);
	if (r < 0)
		return r;
	b->next_internal = (uint32_t)graph_count(b->b.graph);
	if (b->b.n_unused_args) {
		struct kl_strbuf line = {0};

		kl_strbuf_puts(&line, "[Warning] One or more build-args [");
		for (size_t i = 0; i < b->b.n_unused_args; i++)
			kl_strbuf_printf(&line, "%s%s", i ? " " : "", b->b.unused_args[i]);
		kl_strbuf_puts(&line, "] were not consumed");
		warn(b, line.buf);
		kl_strbuf_done(&line);
	}
	return 0;
}

/* What happened before the graph existed, numbered past its vertices. */
static void
report_images(struct bld *b)
{
	{
		_cleanup_free_ char *vn =
		    xasprintf("[internal] load build definition from %s", b->name);
		_cleanup_free_ char *log =
		    xasprintf("transferring dockerfile: %zuB done", b->src.len);

		internal_vertex(b, vn, b->read_ns, log);
	}
	for (size_t i = 0; i < b->images.n; i++) {
		_cleanup_free_ char *name =
		    xasprintf("[internal] load metadata for %s", b->images.names[i]);

		internal_vertex(b, name, b->images.started_ns[i], NULL);
	}
}

static int
bind_locals(struct bld *b)
{
	const struct build_options *o = b->o;
	const struct solve_options *so = o->solve;
	struct solve_local *all;
	size_t n = 0;

	all = xcalloc((so ? so->n_locals : 0) + b->n_locals + 2, sizeof(*all));
	for (size_t i = 0; so && i < so->n_locals; i++)
		all[n++] = so->locals[i];
	if (o->context_dir) {
		const char *ignore = NULL;

		if (o->dockerfile_path) {
			char *p = own(b, xasprintf("%s.dockerignore", o->dockerfile_path));

			if (access(p, R_OK) == 0)
				ignore = p;
		}
		all[n++] = (struct solve_local){"context", o->context_dir, ignore};
		if (ignore) {
			int64_t t0 = now_ns();

			internal_vertex(b, "[internal] load .dockerignore", t0, ignore);
		}
	}
	for (size_t i = 0; i < b->n_locals; i++)
		all[n++] = b->locals[i];
	free(b->locals);
	b->locals = all;
	b->n_locals = n;
	return 0;
}

/* The graph again with another result: for a tree the first solve did not give (a step
 * behind a cached one whose own record is gone), and when it was made. */
static int
solve_vertex(struct bld *b, const struct solve_options *so, uint32_t idx, struct digest *ret,
             int64_t *ret_created, struct kl_error **err)
{
	_cleanup_free_ char *text = graph_to_json(b->b.graph);
	_cleanup_(graph_freep) struct graph *g = NULL;
	struct solve_result sr = {0};
	json_t *j = json_loads(text, 0, NULL);
	char *again;
	int r;

	if (!j)
		return kl_error_setf(err, EIO, "re-reading the build graph");
	json_object_set_new(j, "result", json_string(graph_vertex(b->b.graph, idx)->id));
	again = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	r = graph_parse(again, strlen(again), "build", &g, err);
	free(again);
	if (r >= 0)
		r = solve_run(b->s, g, so, &sr, err);
	if (r >= 0) {
		*ret = sr.tree;
		*ret_created = sr.created[graph_result(g)];
	}
	solve_result_done(&sr);
	return r;
}

static bool
is_zero(const struct digest *d)
{
	static const struct digest zero;

	return !memcmp(d, &zero, sizeof(zero));
}

static int
solve(struct bld *b, struct kl_error **err)
{
	struct solve_options so =
	    b->o->solve ? *b->o->solve : (struct solve_options){.cancel_fd = -1};
	const struct dockerfile_stage_result *t = &b->b.stages[b->b.target];
	int r;

	bind_locals(b);
	so.locals = b->locals;
	so.n_locals = b->n_locals;
	so.sources = b->o->sources;
	r = solve_run(b->s, b->b.graph, &so, &b->sr, err);
	if (r < 0) {
		b->res->has_failed_tree = b->sr.has_failed_tree;
		b->res->failed_tree = b->sr.failed_tree;
		if (b->sr.failed_vertex >= 0 && r != -ECANCELED) {
			unsigned line = b->b.lines[2 * (size_t)b->sr.failed_vertex];

			if (line) {
				set_excerpt(b, line,
				            b->b.lines[2 * (size_t)b->sr.failed_vertex + 1]);
				kl_error_prefix(err, "%s:%u", b->name, line);
			}
		}
		return r;
	}
	/* every tree the layers and the stages need */
	for (size_t i = 0; i < t->n_layers; i++) {
		uint32_t v[2] = {t->layers[i].lower, t->layers[i].upper};

		for (int k = 0; k < 2; k++) {
			if (v[k] == GRAPH_NO_INPUT || !is_zero(&b->sr.trees[v[k]]))
				continue;
			r = solve_vertex(b, &so, v[k], &b->sr.trees[v[k]], &b->sr.created[v[k]],
			                 err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* The image: the base's layers as its record has them, then one diff per layer; its history
 * times those of the layers' vertices (when their results were first made, so that a no-op
 * rebuild gives the same image), unless SOURCE_DATE_EPOCH set them. */
static int
make_image(struct bld *b, struct imgstore_image *im, struct kl_error **err)
{
	const struct dockerfile_stage_result *t = &b->b.stages[b->b.target];
	_cleanup_free_ struct digest *diffs = xcalloc(t->n_layers + 1, sizeof(*diffs));
	_cleanup_free_ bool *empty = xcalloc(t->n_layers + 1, sizeof(*empty));
	_cleanup_free_ int64_t *created = xcalloc(t->n_layers + 1, sizeof(*created));
	const struct imgstore_image *base = t->base_image >= 0 ? &b->images.v[t->base_image] : NULL;
	size_t n_base = base ? base->n_layers : 0, n = 0;
	int r;

	r = build_layer_diffs(b->s, t, b->sr.trees, diffs, empty, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < t->n_layers; i++)
		if (t->layers[i].upper < b->sr.n_vertices)
			created[i] = b->sr.created[t->layers[i].upper];
	im->config = dockerfile_stage_config(t, empty, b->b.has_epoch ? NULL : created);
	im->config_len = strlen(im->config);
	im->layers = xcalloc(n_base + t->n_layers + 1, sizeof(*im->layers));
	/* base layers are lent from the base image's record (the caller must not free them) */
	for (size_t i = 0; i < n_base; i++)
		im->layers[n++] = base->layers[i];
	for (size_t i = 0; i < t->n_layers; i++)
		if (!empty[i])
			im->layers[n++] = (struct imgstore_layer){.tree = diffs[i]};
	im->n_layers = n;
	im->tree = b->sr.tree;
	digest_buffer(im->config, im->config_len, &im->id);
	return 0;
}

static void
image_release(struct imgstore_image *im)
{
	free(im->config);
	free(im->layers);
	*im = (struct imgstore_image){0};
}

static struct provider_set *
providers(struct bld *b)
{
	if (!b->ps) {
		b->ps = provider_set_new_default(b->s, NULL);
		source_add_providers(b->ps, b->s, b->o->sources);
	}
	return b->ps;
}

static void
make_provenance(struct bld *b)
{
	const char **names = xcalloc(b->n_locals + 1, sizeof(*names));
	struct build_provenance_input in = {
	    .mode = (enum export_provenance)b->o->provenance,
	    .opts = b->o,
	    .graph = b->b.graph,
	    .sr = &b->sr,
	    .images = &b->images,
	    .dockerfile_name = b->name,
	    .locals = names,
	    .n_locals = b->n_locals,
	    .started = b->started_ns / 1000000000,
	    .finished = now_ns() / 1000000000,
	    .has_epoch = b->b.has_epoch,
	};

	for (size_t i = 0; i < b->n_locals; i++)
		names[i] = b->locals[i].name;
	digest_buffer(b->src.data, b->src.len, &in.dockerfile_digest);
	build_provenance(&in, &b->prov);
	free(names);
}

/* The progress of one export, as BuildKit shows its exporters. */
static void
report_export(struct bld *b, const struct export_options *eo, const struct export_result *res,
              int64_t t0)
{
	struct kl_strbuf log = {0};
	char id[DIGEST_STRING_SIZE];
	const char *vn = eo->type == EXPORT_OCI      ? "exporting to oci image format"
	                 : eo->type == EXPORT_DOCKER ? "exporting to docker image format"
	                                             : "exporting to image";

	kl_strbuf_printf(&log, "exporting layers: %zu made, %zu reused\n", res->layers_made,
	                 res->layers_reused);
	kl_strbuf_printf(&log, "exporting config %s done\n", digest_to_string(&res->config, id));
	kl_strbuf_printf(&log, "exporting manifest %s done\n",
	                 digest_to_string(&res->manifest, id));
	if (eo->push)
		kl_strbuf_printf(&log, "pushing layers: %llu bytes sent, %zu blobs mounted\n",
		                 (unsigned long long)res->bytes_pushed, res->blobs_mounted);
	if (res->names)
		kl_strbuf_printf(&log, "naming to %s done\n", res->names);
	kl_strbuf_printf(&log, "writing image %s done", digest_to_string(&res->digest, id));
	internal_vertex(b, vn, t0, log.buf);
	kl_strbuf_done(&log);
}

/* export_run with the caller's fields filled; the first export gives the image id and the
 * metadata. */
static int
export_image(struct bld *b, const struct imgstore_image *im, const struct export_options *given,
             struct kl_error **err)
{
	const struct source_options *src = b->o->sources;
	struct export_options eo = *given; /* a shallow copy: given keeps what it owns */
	struct export_result res = {0};
	int64_t t0 = now_ns();
	int r;

	eo.has_epoch = b->b.has_epoch;
	eo.epoch = b->b.epoch;
	eo.docker_host = b->o->docker_host;
	eo.registry_chunk = b->o->registry_chunk;
	if (src) {
		eo.auth_file = src->auth_file;
		eo.insecure_registries = src->insecure_registries;
		eo.n_insecure_registries = src->n_insecure_registries;
		eo.registry_timeout_ms = src->registry_timeout_ms;
	}
	if (b->prov.mode != EXPORT_PROVENANCE_NONE)
		eo.provenance = b->prov;
	r = export_run(b->s, providers(b), im, &eo, &res, err);
	if (r < 0)
		return r;
	report_export(b, &eo, &res, t0);
	b->res->layers_made += res.layers_made;
	b->res->layers_reused += res.layers_reused;
	if (!b->exported) {
		b->first = res;
		b->exported = true;
		b->has_id = true;
		b->res->image_id = res.config;
	} else {
		export_result_done(&res);
	}
	return 0;
}

static bool
has_image_output(const struct build_options *o)
{
	for (size_t i = 0; i < o->n_outputs; i++)
		if (o->outputs[i]->type == BUILD_OUTPUT_IMAGE)
			return true;
	return false;
}

/* An output kiln's own index takes: type=image, neither pushed nor for containerd. */
static bool
is_index_output(const struct build_output *out)
{
	return out->type == BUILD_OUTPUT_IMAGE && out->image.type == EXPORT_IMAGE &&
	       !out->image.push && !out->image.store_containerd;
}

/* Whether the image goes into kiln's index: -t, an index output, or -q/--iidfile/
 * --metadata-file wanting an id that no other output gives. */
static bool
wants_index(const struct build_options *o)
{
	if (o->n_tags || (o->keep_image && !has_image_output(o)))
		return true;
	for (size_t i = 0; i < o->n_outputs; i++)
		if (is_index_output(o->outputs[i]))
			return true;
	return false;
}

/* The image as kiln's index keeps it, as Buildah keeps its images: layers as diff trees,
 * nothing compressed, but every layer's diff id known (the new ones' tars hashed and dropped,
 * recorded so that a rebuild hashes none) and the config finished as an export finishes it,
 * so its id is the config digest every later export of it (kiln push, kiln save) keeps. */
static int
finish_image(struct bld *b, struct imgstore_image *im, struct kl_error **err)
{
	const struct layer_options lo = {.has_epoch = b->b.has_epoch, .epoch = b->b.epoch};
	_cleanup_free_ struct digest *ids = xcalloc(im->n_layers + 1, sizeof(*ids));
	char *cfg = NULL;
	size_t len = 0;
	int r;

	for (size_t i = 0; i < im->n_layers; i++) {
		struct imgstore_layer *l = &im->layers[i];
		_cleanup_(tree_unrefp) struct tree *t = NULL;

		if (!l->has_diff_id) {
			r = tree_load(b->s, &l->tree, &t, err);
			if (r >= 0)
				r = layer_diff_id(b->s, providers(b), t, &lo, &l->diff_id, NULL,
				                  err);
			if (r < 0) {
				kl_error_prefix(err, "layer %zu", i + 1);
				return r;
			}
			l->has_diff_id = true;
		}
		ids[i] = l->diff_id;
	}
	r = export_config_finish(im->config, im->config_len, ids, im->n_layers, b->b.has_epoch,
	                         b->b.epoch, &cfg, &len, err);
	if (r < 0)
		return r;
	if (r == 1) {
		free(im->config);
		im->config = cfg;
		im->config_len = len;
	}
	digest_buffer(im->config, im->config_len, &im->id);
	return 0;
}

/* The finished image into kiln's index under names (none: its record alone). */
static int
store_in_index(struct bld *b, const struct imgstore_image *im, const char *const *names, size_t n,
               struct kl_error **err)
{
	struct imgstore_image copy = *im; /* imgstore_put sets the id it already has */
	struct kl_strbuf log = {0};
	char id[DIGEST_STRING_SIZE];
	int64_t t0 = now_ns();
	int r;

	r = imgstore_keep(b->s, &copy, names, n, /* ret= */ NULL, err);
	if (r < 0)
		return r;
	kl_strbuf_printf(&log, "keeping %zu layers as diff trees, nothing compressed\n",
	                 im->n_layers);
	kl_strbuf_printf(&log, "writing image %s done", digest_to_string(&im->id, id));
	for (size_t i = 0; i < n; i++)
		kl_strbuf_printf(&log, "\nnaming to %s done", names[i]);
	internal_vertex(b, "exporting to image", t0, log.buf);
	kl_strbuf_done(&log);
	b->has_id = true;
	b->res->image_id = im->id;
	return 0;
}

/* -t NAME…: the image into kiln's index under those names (or, to know its id, none). */
static int
export_tags(struct bld *b, const struct imgstore_image *im, struct kl_error **err)
{
	int r;

	if (!b->o->n_tags && !(b->o->keep_image && !has_image_output(b->o)))
		return 0;
	r = store_in_index(b, im, b->o->tags, b->o->n_tags, err);
	if (r < 0)
		kl_error_prefix(err, "-t");
	return r;
}

static int
write_outputs(struct bld *b, const struct imgstore_image *im, struct kl_error **err)
{
	int r;

	for (size_t i = 0; i < b->o->n_outputs; i++) {
		const struct build_output *out = b->o->outputs[i];
		int64_t t0 = now_ns();

		if (is_index_output(out)) {
			r = store_in_index(b, im, (const char *const *)out->image.names,
			                   out->image.n_names, err);
			if (r < 0)
				return r;
			continue;
		}
		if (out->type == BUILD_OUTPUT_IMAGE) {
			r = export_image(b, im, &out->image, err);
			if (r < 0)
				return r;
			continue;
		}
		r = build_output_write(b->s, providers(b), out, &b->sr.tree, err);
		if (r < 0)
			return r;
		if (out->type == BUILD_OUTPUT_LOCAL) {
			_cleanup_free_ char *log = xasprintf("copying files to %s done", out->dest);

			internal_vertex(b, "exporting to client directory", t0, log);
		} else {
			internal_vertex(b, "exporting to client tarball", t0, NULL);
		}
	}
	return 0;
}

/* BuildKit's keys of the first export (containerimage.digest, .descriptor, .config.digest,
 * image.name), then kiln's: the tree, the stages' trees, the layers the exports made. */
static int
write_metadata(struct bld *b, struct kl_error **err)
{
	const struct build_metadata md = {
	    .export = b->exported ? &b->first : NULL,
	    .image_id = b->has_id ? &b->res->image_id : NULL,
	    .tags = b->o->tags,
	    .n_tags = b->o->n_tags,
	    .tree = b->res->tree,
	    .layers_made = b->res->layers_made,
	    .layers_reused = b->res->layers_reused,
	    .stages = b->res->stages,
	    .n_stages = b->res->n_stages,
	};
	int r;

	if (b->o->iidfile && b->has_id) {
		r = build_iidfile_write(b->o->iidfile, &b->res->image_id, err);
		if (r < 0)
			return r;
	}
	return b->o->metadata_file ? build_metadata_write(b->o->metadata_file, &md, err) : 0;
}

static void
fill_stages(struct bld *b)
{
	struct build_result *res = b->res;

	res->n_stages = b->b.n_stages;
	res->stages = xcalloc(res->n_stages + 1, sizeof(*res->stages));
	for (size_t i = 0; i < res->n_stages; i++) {
		const struct dockerfile_stage_result *st = &b->b.stages[i];

		res->stages[i].name = xstrdup(st->name);
		res->stages[i].built = st->built;
		if (st->built && st->tree != GRAPH_NO_INPUT && st->tree < b->sr.n_vertices)
			res->stages[i].tree = b->sr.trees[st->tree];
		else if (st->built && i == b->b.target)
			res->stages[i].tree = b->sr.tree;
	}
}

static void
bld_done(struct bld *b)
{
	for (size_t i = 0; i < b->n_owned; i++)
		free(b->owned[i]);
	free(b->owned);
	free(b->locals);
	free(b->contexts);
	provider_set_free(b->ps);
	export_provenance_info_done(&b->prov);
	export_result_done(&b->first);
	solve_result_done(&b->sr);
	build_images_done(&b->images);
	dockerfile_build_done(&b->b);
	dockerfile_instrs_done(&b->instrs);
	dockerfile_free(b->df);
	free(b->text);
	free(b->name);
}

int
build_run(struct store *s, const struct build_options *opts, struct build_result *ret,
          struct kl_error **err)
{
	_cleanup_(bld_done) struct bld b = {.s = s, .o = opts, .res = ret};
	struct imgstore_image im = {0};
	int r;

	*ret = (struct build_result){0};
	b.started_ns = now_ns();
	r = read_dockerfile(&b, err);
	if (r >= 0)
		r = parse(&b, err);
	if (r >= 0)
		r = named_contexts(&b, err);
	if (r >= 0)
		r = convert(&b, err);
	if (r < 0)
		return r;
	report_images(&b);
	r = solve(&b, err);
	if (r < 0)
		return r;
	r = make_image(&b, &im, err);
	if (r >= 0 && wants_index(opts))
		r = finish_image(&b, &im, err);
	if (r >= 0) {
		ret->tree = b.sr.tree;
		ret->config = xstrdup(im.config);
		fill_stages(&b);
		make_provenance(&b);
		r = export_tags(&b, &im, err);
	}
	if (r >= 0)
		r = write_outputs(&b, &im, err);
	if (r >= 0)
		r = write_metadata(&b, err);
	image_release(&im);
	return r;
}

void
build_result_done(struct build_result *r)
{
	for (size_t i = 0; i < r->n_stages; i++)
		free(r->stages[i].name);
	free(r->stages);
	free(r->config);
	free(r->excerpt);
	*r = (struct build_result){0};
}
