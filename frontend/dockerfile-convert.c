// SPDX-License-Identifier: Apache-2.0
/* Stages to one build graph: the target's stages dispatched on demand, FROM, ARG, WORKDIR,
 * ONBUILD triggers, and the per-stage results (as BuildKit's dockerfile2llb). */
#include "frontend/dockerfile-convert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "frontend/dockerfile-convert-internal.h"
#include "frontend/dockerfile-diag.h"
#include "frontend/dockerfile-parse.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/timestamp.h"
#include "util/xalloc.h"

static const char *const proxy_args[] = {
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
    "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
};

/* Build args kiln itself reads: never reported as unused. */
static const char *const builtin_args[] = {
    "SOURCE_DATE_EPOCH",     "BUILDKIT_CONTEXT_KEEP_GIT_DIR", "BUILDKIT_SANDBOX_HOSTNAME",
    "BUILDKIT_INLINE_CACHE", "BUILDKIT_MULTI_PLATFORM",
};

static const char *const platform_args[] = {
    "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
    "BUILDPLATFORM",  "BUILDOS",  "BUILDARCH",  "BUILDVARIANT",
};

static bool
in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

#define IN_LIST(l, s) in_list(l, sizeof(l) / sizeof(l[0]), s)

int
cv_add(struct cv *cv, struct graph_vertex *v)
{
	int r = graph_add(cv->g, v, cv->err);

	if (r < 0)
		return r;
	cv->lines = xgrow(cv->lines, &cv->cap_lines, 2 * ((size_t)r + 1), sizeof(*cv->lines));
	cv->lines[2 * (size_t)r] = cv->cur ? cv->cur->start_line : 0;
	cv->lines[2 * (size_t)r + 1] = cv->cur ? cv->cur->end_line : 0;
	cv->vertex_count = (size_t)r + 1;
	return r;
}

char *
cv_step_name(struct cv *cv, struct cv_stage *st, const char *text)
{
	struct kl_strbuf b = {0};
	int width = 1;

	for (unsigned t = st->cmd_total; t >= 10; t /= 10)
		width++;
	if (st->cmd_index < st->cmd_total)
		st->cmd_index++;
	kl_strbuf_putc(&b, '[');
	if (cv->n_st > 1 || st->name) {
		size_t idx = (size_t)(st - cv->st);

		if (st->name)
			kl_strbuf_printf(&b, "%s ", st->name);
		else
			kl_strbuf_printf(&b, "stage-%zu ", idx);
	}
	kl_strbuf_printf(&b, "%*u/%u] %s", width, st->cmd_index, st->cmd_total, text);
	return kl_strbuf_steal(&b, NULL);
}

char *
cv_instr_text(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	const char *orig = in->node && in->node->original ? in->node->original : "";
	struct dockerfile_expander ex;
	struct cv_lookup lk;
	size_t skip = strspn(orig, " \t"), word = strcspn(orig + skip, " \t"), len;
	char *out = NULL;
	struct kl_strbuf b = {0};

	/* the instruction word in capitals, the rest with variables expanded where they are set
	 * (BuildKit's processCmdEnv): what progress shows */
	kl_strbuf_puts(&b, dockerfile_instr_name(in->kind));
	cv_expander(cv, st, &lk, &ex);
	ex.flags = DOCKERFILE_EXPAND_RAW_QUOTES | DOCKERFILE_EXPAND_RAW_ESCAPES |
	           DOCKERFILE_EXPAND_SKIP_UNSET;
	orig += skip + word;
	if (dockerfile_expand(&ex, orig, strlen(orig), &out, &len, NULL) >= 0) {
		kl_strbuf_puts(&b, out);
		free(out);
	} else {
		kl_strbuf_puts(&b, orig);
	}
	/* heredoc bodies are not part of the name */
	{
		char *nl = strchr(b.buf, '\n');

		if (nl)
			b.len = (size_t)(nl - b.buf), *nl = '\0';
	}
	return kl_strbuf_steal(&b, NULL);
}

void
cv_add_layer(struct cv_stage *st, uint32_t lower)
{
	json_t *h = json_object_get(st->image, "history");

	st->layers = xgrow(st->layers, &st->cap_layers, st->n_layers + 1, sizeof(*st->layers));
	st->layers[st->n_layers++] = (struct dockerfile_layer){
	    .lower = lower,
	    .upper = st->tree,
	    .history = json_is_array(h) && json_array_size(h) ? json_array_size(h) - 1 : 0,
	};
}

/* Stages. */

static struct cv_stage *
stage_by_name(struct cv *cv, const char *name, size_t before)
{
	char *end = NULL;
	unsigned long idx;

	for (size_t i = 0; i < before && i < cv->n_st; i++)
		if (cv->st[i].name && !strcasecmp(cv->st[i].name, name))
			return &cv->st[i];
	idx = strtoul(name, &end, 10);
	if (*name >= '0' && *name <= '9' && !*end && idx < before && idx < cv->n_st)
		return &cv->st[idx];
	return NULL;
}

static const struct dockerfile_context *
named_context(struct cv *cv, const char *name, size_t *ret_idx)
{
	for (size_t i = 0; i < cv->o->n_contexts; i++)
		if (!strcmp(cv->o->contexts[i].name, name)) {
			*ret_idx = i;
			return &cv->o->contexts[i];
		}
	return NULL;
}

/* The images the resolver gave: each reference resolved once for both passes. */
static int
resolve_image(struct cv *cv, const struct dockerfile_instr *in, const char *ref,
              const char *platform, struct cv_image **ret)
{
	_cleanup_free_ char *key = xasprintf("%s\n%s", ref, platform);
	struct cv_image *ci;
	int r;

	for (size_t i = 0; i < cv->n_images; i++)
		if (!strcmp(cv->images[i].key, key)) {
			*ret = &cv->images[i];
			return 0;
		}
	if (!cv->o->resolve)
		return cv_fail(cv, in, "no image resolver: cannot use image '%s'", ref);
	cv->images = xgrow(cv->images, &cv->cap_images, cv->n_images + 1, sizeof(*cv->images));
	ci = &cv->images[cv->n_images];
	*ci = (struct cv_image){.vertex = GRAPH_NO_INPUT};
	r = cv->o->resolve(cv->o->userdata, ref, platform, &ci->im, cv->err);
	if (r < 0) {
		kl_error_prefix(cv->err, "%s:%u: failed to resolve source metadata for %s",
		                cv->o->src->name ? cv->o->src->name : "Dockerfile",
		                in ? in->start_line : 0, ref);
		return r;
	}
	ci->key = TAKE_PTR(key);
	cv->n_images++;
	*ret = ci;
	return 0;
}

static int
image_vertex(struct cv *cv, struct cv_image *ci, const char *platform, char *name, uint32_t *ret)
{
	struct graph_vertex v = {.kind = GRAPH_OP_SOURCE, .name = name};
	int r;

	v.source.kind = GRAPH_SOURCE_IMAGE;
	v.source.ref = ci->im.ref;
	v.source.platform = (char *)platform;
	r = cv_add(cv, &v);
	if (r < 0)
		return r;
	*ret = (uint32_t)r;
	return 0;
}

static int
git_vertex(struct cv *cv, const char *url, bool keep_git_dir, const char *name, uint32_t *ret)
{
	struct graph_vertex v = {.kind = GRAPH_OP_SOURCE, .name = (char *)name};
	int r;

	v.source.kind = GRAPH_SOURCE_GIT;
	v.source.ref = (char *)url;
	v.source.keep_git_dir = keep_git_dir;
	r = cv_add(cv, &v);
	if (r < 0)
		return r;
	*ret = (uint32_t)r;
	return 0;
}

static int
local_vertex(struct cv *cv, const char *binding, char **followpaths, size_t n, const char *name,
             uint32_t *ret)
{
	struct graph_vertex v = {.kind = GRAPH_OP_SOURCE, .name = (char *)name};
	int r;

	v.source.kind = GRAPH_SOURCE_LOCAL;
	v.source.name = (char *)binding;
	v.source.followpaths = (struct graph_strv){followpaths, n};
	r = cv_add(cv, &v);
	if (r < 0)
		return r;
	*ret = (uint32_t)r;
	return 0;
}

/* The directory a context path names, wildcards cut off ("a/b/x*.c" is "a/b"); "" when the
 * path selects the whole context. */
static char *
context_path(const char *path)
{
	const char *p = path;
	char *out, *wild;

	while (*p == '/' || (p[0] == '.' && (p[1] == '/' || !p[1]))) {
		p += *p == '/' ? 1 : (p[1] ? 2 : 1);
	}
	out = xstrdup(p);
	wild = strpbrk(out, "*?[\\");
	if (wild) {
		*wild = '\0';
		wild = strrchr(out, '/');
		if (wild)
			*wild = '\0';
		else
			*out = '\0';
	}
	/* a path reaching up is the whole context (the copy itself refuses what leaves it) */
	if (!strcmp(out, "..") || !strncmp(out, "../", 3) || strstr(out, "/../"))
		*out = '\0';
	{
		size_t n = strlen(out);

		while (n && out[n - 1] == '/')
			out[--n] = '\0';
	}
	return out;
}

int
cv_context(struct cv *cv, const char *path, uint32_t *ret)
{
	_cleanup_free_ char *p = context_path(path ? path : "");
	int r;

	if (!*p)
		cv->context_all = true;
	else if (!cv_vars_get(&cv->paths, p))
		cv_vars_set(&cv->paths, p, "");
	if (cv->context != GRAPH_NO_INPUT) {
		*ret = cv->context;
		return 0;
	}
	if (cv->o->context_git) {
		r = git_vertex(cv, cv->o->context_git, cv->o->context_keep_git_dir,
		               "[internal] load git source", &cv->context);
	} else if (cv->o->context_name) {
		/* the paths every use needs, learnt by the first pass */
		char **fp = NULL;
		size_t n = 0;

		if (!cv->collect && !cv->context_all) {
			fp = xcalloc(cv->paths.n + 1, sizeof(*fp));
			for (size_t i = 0; i < cv->paths.n; i++)
				fp[n++] = xstrndup(cv->paths.kv[i], strcspn(cv->paths.kv[i], "="));
		}
		r = local_vertex(cv, cv->o->context_name, fp, n, "[internal] load build context",
		                 &cv->context);
		dockerfile_words_free(fp, n);
	} else {
		*ret = GRAPH_NO_INPUT;
		return 0;
	}
	if (r < 0)
		return r;
	*ret = cv->context;
	return 0;
}

static int dispatch_stage(struct cv *cv, struct cv_stage *st);
static int dispatch_one(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in);

int
cv_from_ref(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in, const char *ref,
            uint32_t *ret, bool *ret_is_context)
{
	size_t self = (size_t)(st - cv->st), idx;
	const struct dockerfile_context *nc;
	struct cv_stage *dep;
	struct cv_image *ci;
	int r;

	*ret_is_context = false;
	dep = stage_by_name(cv, ref, cv->n_st);
	if (dep == st)
		return cv_fail(cv, in, "circular dependency detected on stage: %s", ref);
	if (dep) {
		if (dep->state == CV_STAGE_BUSY)
			return cv_fail(cv, in, "circular dependency detected on stage: %s", ref);
		r = dispatch_stage(cv, dep);
		if (r < 0)
			return r;
		*ret = dep->tree;
		return 0;
	}
	(void)self;
	nc = named_context(cv, ref, &idx);
	if (nc) {
		if (cv->named[idx] != GRAPH_NO_INPUT) {
			*ret = cv->named[idx];
			*ret_is_context = nc->kind == DOCKERFILE_CONTEXT_LOCAL;
			return 0;
		}
		switch (nc->kind) {
		case DOCKERFILE_CONTEXT_LOCAL: {
			_cleanup_free_ char *name = xasprintf("[context %s] load from client", ref);

			r = local_vertex(cv, nc->value, NULL, 0, name, &cv->named[idx]);
			*ret_is_context = true;
			break;
		}
		case DOCKERFILE_CONTEXT_GIT:
			r = git_vertex(cv, nc->value, false, nc->value, &cv->named[idx]);
			break;
		default:
			r = resolve_image(cv, in, nc->value, st->platform, &ci);
			if (r >= 0) {
				char *name = xasprintf("[context %s] %s", ref, ci->im.display);

				r = image_vertex(cv, ci, st->platform, name, &cv->named[idx]);
				free(name);
			}
			break;
		}
		if (r < 0)
			return r;
		*ret = cv->named[idx];
		return 0;
	}
	if (!strcmp(ref, "scratch")) {
		*ret = GRAPH_NO_INPUT;
		return 0;
	}
	r = resolve_image(cv, in, ref, st->platform, &ci);
	if (r < 0)
		return r;
	if (ci->vertex == GRAPH_NO_INPUT) {
		char *name = xasprintf("FROM %s", ci->im.display ? ci->im.display : ref);

		r = image_vertex(cv, ci, st->platform, name, &ci->vertex);
		free(name);
		if (r < 0)
			return r;
	}
	*ret = ci->vertex;
	return 0;
}

/* Platforms and the automatic ARGs. */

static void
platform_parts(const char *p, char **os, char **arch, char **variant)
{
	_cleanup_free_ char *c = xstrdup(p);
	char *a = strchr(c, '/'), *v = NULL;

	if (a) {
		*a++ = '\0';
		v = strchr(a, '/');
		if (v)
			*v++ = '\0';
	}
	*os = xstrdup(c);
	*arch = xstrdup(a ? a : "");
	*variant = xstrdup(v ? v : "");
}

static void
set_platform_args(struct cv_vars *v, const char *prefix, const char *platform)
{
	_cleanup_free_ char *os = NULL, *arch = NULL, *variant = NULL;
	char key[32];

	platform_parts(platform, &os, &arch, &variant);
	snprintf(key, sizeof(key), "%sPLATFORM", prefix);
	cv_vars_set(v, key, platform);
	snprintf(key, sizeof(key), "%sOS", prefix);
	cv_vars_set(v, key, os);
	snprintf(key, sizeof(key), "%sARCH", prefix);
	cv_vars_set(v, key, arch);
	snprintf(key, sizeof(key), "%sVARIANT", prefix);
	cv_vars_set(v, key, variant);
}

static const char *
given_arg(struct cv *cv, const char *key)
{
	for (size_t i = cv->given.n; i-- > 0;) {
		size_t n = strcspn(cv->given.kv[i], "=");

		if (n == strlen(key) && !memcmp(cv->given.kv[i], key, n)) {
			cv->given_used[i] = true;
			return cv->given.kv[i][n] ? cv->given.kv[i] + n + 1 : "";
		}
	}
	return NULL;
}

/* ARG in a stage (st) or before the first FROM (st NULL). */
static int
dispatch_arg(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	struct kl_strbuf msg = {0};
	int r = 0;

	kl_strbuf_puts(&msg, "ARG");
	for (size_t i = 0; i < in->u.kvs.n; i++) {
		const struct dockerfile_kv *kv = &in->u.kvs.v[i];
		_cleanup_free_ char *def = NULL;
		const char *value = given_arg(cv, kv->key);

		if (kv->value) {
			r = cv_expand(cv, st, in, kv->value, &def);
			if (r < 0)
				break;
		}
		kl_strbuf_printf(&msg, " %s%s%s", kv->key, def ? "=" : "", def ? def : "");
		if (!value)
			value = def;
		if (!value && st)
			value = cv_vars_get(&cv->meta, kv->key);
		if (IN_LIST(proxy_args, kv->key)) {
			/* proxies stay out of the config and the cache: RUN gets them as proxy_env
			 */
			if (value)
				cv_vars_set(&cv->proxy, kv->key, value);
			continue;
		}
		if (!st) {
			if (value)
				cv_vars_set(&cv->meta, kv->key, value);
			continue;
		}
		if (value)
			cv_vars_set(&st->args, kv->key, value);
	}
	if (r >= 0 && st)
		cv_config_history(cv, st, msg.buf, true);
	kl_strbuf_done(&msg);
	return r;
}

/* path.Join(cwd, p), cleaned. */
static char *
join_clean(const char *cwd, const char *p)
{
	_cleanup_free_ char *full = p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", cwd, p);
	char **parts = xcalloc(strlen(full) + 1, sizeof(*parts));
	size_t n = 0;
	struct kl_strbuf b = {0};
	char *save = NULL;

	for (char *c = strtok_r(full, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (n)
				n--;
			continue;
		}
		parts[n++] = c;
	}
	for (size_t i = 0; i < n; i++)
		kl_strbuf_printf(&b, "/%s", parts[i]);
	if (!n)
		kl_strbuf_putc(&b, '/');
	free(parts);
	return kl_strbuf_steal(&b, NULL);
}

static int
dispatch_workdir(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	_cleanup_free_ char *w = NULL, *wd = NULL, *msg = NULL, *text = NULL, *name = NULL;
	struct graph_file_action a = {.kind = GRAPH_FILE_MKDIR};
	struct graph_vertex v = {.kind = GRAPH_OP_FILE};
	uint32_t input, lower = st->tree;
	const char *user = cv_user(st);
	int r;

	r = cv_expand(cv, st, in, in->u.str, &w);
	if (r < 0)
		return r;
	wd = join_clean(cv_workdir(st), w);
	json_object_set_new(cv_config_obj(st->image), "WorkingDir", json_string(wd));
	msg = xasprintf("WORKDIR %s", wd);
	if (!strcmp(wd, "/")) {
		cv_config_history(cv, st, msg, true);
		return 0;
	}
	/* BuildKit makes the directory, owned by the stage's user */
	text = cv_instr_text(cv, st, in);
	name = cv_step_name(cv, st, text);
	a.src = wd;
	a.mode = 0755;
	a.has_mode = true;
	a.create_parents = true;
	if (user) {
		_cleanup_free_ char *u = xstrdup(user);
		char *colon = strchr(u, ':');

		if (colon)
			*colon++ = '\0';
		a.owner.user = xstrdup(u);
		a.owner.group = colon ? xstrdup(colon) : NULL;
	}
	if (cv->has_epoch) {
		a.has_timestamp = true;
		a.timestamp = cv->epoch;
	}
	input = st->tree;
	v.name = name;
	v.inputs = &input;
	v.n_inputs = 1;
	v.ignore_cache = st->ignore_cache;
	v.file = (struct graph_file){&a, 1};
	r = cv_add(cv, &v);
	free(a.owner.user);
	free(a.owner.group);
	if (r < 0)
		return r;
	st->tree = (uint32_t)r;
	cv_config_history(cv, st, msg, false);
	cv_add_layer(st, lower);
	return 0;
}

static int
dispatch_instr(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	const struct dockerfile_instr *saved = cv->cur;
	int r;

	cv->cur = in;
	r = dispatch_one(cv, st, in);
	cv->cur = saved;
	return r;
}

static int
dispatch_one(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	switch (in->kind) {
	case DOCKERFILE_ARG:
		return dispatch_arg(cv, st, in);
	case DOCKERFILE_RUN:
		return cv_run(cv, st, in);
	case DOCKERFILE_COPY:
	case DOCKERFILE_ADD:
		return cv_copy(cv, st, in);
	case DOCKERFILE_WORKDIR:
		return dispatch_workdir(cv, st, in);
	case DOCKERFILE_FROM:
		return cv_fail(cv, in, "FROM inside a stage");
	default:
		return cv_config_instr(cv, st, in);
	}
}

static bool
makes_op(const struct dockerfile_instr *in)
{
	return in->kind == DOCKERFILE_RUN || in->kind == DOCKERFILE_COPY ||
	       in->kind == DOCKERFILE_ADD || in->kind == DOCKERFILE_WORKDIR;
}

/* ONBUILD triggers of the base image: parsed and run before the stage's own instructions. */
struct triggers {
	struct dockerfile **dfs;
	struct dockerfile_instr *v;
	size_t n, n_dfs;
};

static void
triggers_done(struct triggers *t)
{
	for (size_t i = 0; i < t->n; i++)
		dockerfile_instr_done(&t->v[i]);
	for (size_t i = 0; i < t->n_dfs; i++)
		dockerfile_free(t->dfs[i]);
	free(t->v);
	free(t->dfs);
}

static int
parse_triggers(struct cv *cv, struct cv_stage *st, struct triggers *t)
{
	json_t *c = cv_config_obj(st->image), *ob = json_object_get(c, "OnBuild");
	size_t n = json_is_array(ob) ? json_array_size(ob) : 0;

	for (size_t i = 0; i < n; i++) {
		const char *text = json_string_value(json_array_get(ob, i));
		struct dockerfile_source src = {.name = "ONBUILD trigger", .data = text};
		struct dockerfile *df = NULL;
		int r;

		if (!text)
			continue;
		src.len = strlen(text);
		r = dockerfile_parse(&src, NULL, &df, cv->err);
		if (r < 0) {
			kl_error_prefix(cv->err, "the base image's ONBUILD trigger '%s'", text);
			return r;
		}
		t->dfs = xrealloc(t->dfs, (t->n_dfs + 1) * sizeof(*t->dfs));
		t->dfs[t->n_dfs++] = df;
		for (size_t k = 0; k < df->n_nodes; k++) {
			_cleanup_free_ char *msg = NULL;
			struct dockerfile_instr in = {0};

			r = dockerfile_instr_parse(&df->nodes[k], df->escape, &in, NULL, &msg);
			if (r < 0)
				return cv_fail(cv, st->from,
				               "the base image's ONBUILD trigger '%s': %s", text,
				               msg);
			if (in.kind == DOCKERFILE_FROM || in.kind == DOCKERFILE_ONBUILD ||
			    in.kind == DOCKERFILE_MAINTAINER) {
				dockerfile_instr_done(&in);
				return cv_fail(cv, st->from,
				               "%s isn't allowed as an ONBUILD trigger",
				               dockerfile_instr_name(in.kind));
			}
			in.start_line = st->from->start_line;
			in.end_line = st->from->end_line;
			t->v = xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
			t->v[t->n++] = in;
		}
	}
	json_object_del(c, "OnBuild");
	return 0;
}

/* The ENV in scope: the config's Env. */
static void
seed_env(struct cv_stage *st)
{
	json_t *env = json_object_get(cv_config_obj(st->image), "Env"), *e;
	size_t i;

	json_array_foreach(env, i, e)
	{
		const char *kv = json_string_value(e);
		_cleanup_free_ char *k = NULL;
		const char *eq;

		if (!kv)
			continue;
		eq = strchr(kv, '=');
		k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
		cv_vars_set(&st->env, k, eq ? eq + 1 : "");
	}
}

/* FROM: the stage's filesystem and config to start from. */
static int
dispatch_from(struct cv *cv, struct cv_stage *st)
{
	const struct dockerfile_instr *in = st->from;
	_cleanup_free_ char *base = NULL, *platform = NULL;
	const struct dockerfile_context *nc;
	size_t self = (size_t)(st - cv->st), idx;
	struct cv_stage *parent;
	struct cv_image *ci;
	int r;

	r = cv_expand(cv, NULL, in, in->u.from.image, &base);
	if (r < 0)
		return r;
	if (!*base)
		return cv_fail(cv, in, "base name (%s) should not be blank", in->u.from.image);
	if (in->u.from.platform) {
		r = cv_expand(cv, NULL, in, in->u.from.platform, &platform);
		if (r < 0)
			return r;
	}
	free(st->platform);
	st->platform = xstrdup(platform ? platform : cv->target_platform);
	parent = stage_by_name(cv, base, self);
	if (parent && parent->name && !strcasecmp(parent->name, base)) {
		if (parent->state == CV_STAGE_BUSY)
			return cv_fail(cv, in, "circular dependency detected on stage: %s", base);
		r = dispatch_stage(cv, parent);
		if (r < 0)
			return r;
		st->tree = parent->tree;
		st->base_image = parent->base_image;
		st->n_base_history = parent->n_base_history;
		st->image = json_deep_copy(parent->image);
		cv_vars_copy(&st->env, &parent->env);
		for (size_t i = 0; i < parent->n_layers; i++) {
			st->layers = xgrow(st->layers, &st->cap_layers, st->n_layers + 1,
			                   sizeof(*st->layers));
			st->layers[st->n_layers++] = parent->layers[i];
		}
		free(st->platform);
		st->platform = xstrdup(parent->platform);
		return 0;
	}
	nc = named_context(cv, base, &idx);
	if (!strcmp(base, "scratch") && !nc) {
		st->tree = GRAPH_NO_INPUT;
		st->image = cv_config_empty(st->platform);
		seed_env(st);
		return 0;
	}
	if (nc && nc->kind != DOCKERFILE_CONTEXT_IMAGE) {
		bool is_ctx;

		st->image = cv_config_empty(st->platform);
		seed_env(st);
		r = cv_from_ref(cv, st, in, base, &st->tree, &is_ctx);
		if (r >= 0 && st->tree != GRAPH_NO_INPUT) {
			/* a directory or a git tree as the base: its files are the first layer */
			_cleanup_free_ char *msg = xasprintf("FROM %s", base);

			cv_config_history(cv, st, msg, false);
			cv_add_layer(st, GRAPH_NO_INPUT);
		}
		return r;
	}
	r = resolve_image(cv, in, nc ? nc->value : base, st->platform, &ci);
	if (r < 0)
		return r;
	r = cv_config_parse(ci->im.config, st->platform, &st->image, cv->err);
	if (r < 0)
		return cv_fail(cv, in, "%s: %s", base, (*cv->err)->msg);
	st->base_image = ci->im.handle;
	st->n_base_history = json_array_size(json_object_get(st->image, "history"));
	seed_env(st);
	{
		char *text = xasprintf("FROM %s", ci->im.display ? ci->im.display : base);
		char *name = cv_step_name(cv, st, text);

		/* one vertex per image, as BuildKit shows it, whichever stages start from it */
		r = 0;
		if (ci->vertex == GRAPH_NO_INPUT)
			r = image_vertex(cv, ci, st->platform, name, &ci->vertex);
		st->tree = ci->vertex;
		free(name);
		free(text);
	}
	return r;
}

static int
dispatch_stage(struct cv *cv, struct cv_stage *st)
{
	struct triggers t = {0};
	const char *base;
	int r;

	if (st->state == CV_STAGE_DONE)
		return 0;
	st->state = CV_STAGE_BUSY;
	st->base_image = -1;
	st->n_base_history = 0;
	st->tree = GRAPH_NO_INPUT;
	st->cmd_index = 0;
	st->cmd_total = 0;
	for (size_t i = st->first; i < st->end; i++)
		st->cmd_total += makes_op(&cv->in->v[i]);
	/* the FROM of an image is a step of its own */
	base = st->from->u.from.image;
	{
		size_t idx;
		bool stage = false;

		for (size_t i = 0; i < (size_t)(st - cv->st); i++)
			if (cv->st[i].name && !strcasecmp(cv->st[i].name, base))
				stage = true;
		if (!stage && strcmp(base, "scratch") && !named_context(cv, base, &idx))
			st->cmd_total++;
	}
	{
		const struct dockerfile_instr *saved = cv->cur;

		cv->cur = st->from;
		r = dispatch_from(cv, st);
		cv->cur = saved;
	}
	if (r >= 0)
		r = parse_triggers(cv, st, &t);
	for (size_t i = 0; r >= 0 && i < t.n; i++)
		st->cmd_total += makes_op(&t.v[i]);
	for (size_t i = 0; r >= 0 && i < t.n; i++)
		r = dispatch_instr(cv, st, &t.v[i]);
	for (size_t i = st->first; r >= 0 && i < st->end; i++)
		r = dispatch_instr(cv, st, &cv->in->v[i]);
	triggers_done(&t);
	if (r < 0)
		return r;
	json_object_set_new(st->image, "created", json_string(cv->created));
	st->state = CV_STAGE_DONE;
	return 0;
}

/* Setup. */

static void
format_created(struct cv *cv)
{
	char buf[KL_TIMESTAMP_SIZE];

	cv->created = xstrdup(kl_timestamp_format(cv->has_epoch ? cv->epoch : cv->o->now, buf));
}

static int
setup(struct cv *cv)
{
	const struct dockerfile_convert_options *o = cv->o;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < o->n_build_args; i++) {
		const char *kv = o->build_args[i];
		_cleanup_free_ char *k = xstrndup(kv, strcspn(kv, "="));

		/* "K" alone takes K from the environment: the caller did that */
		cv->given.kv =
		    xgrow(cv->given.kv, &cv->given.cap, cv->given.n + 1, sizeof(*cv->given.kv));
		cv->given.kv[cv->given.n++] = xstrdup(kv);
		if (IN_LIST(proxy_args, k))
			cv_vars_set(&cv->proxy, k, strchr(kv, '=') ? strchr(kv, '=') + 1 : "");
	}
	cv->given_used = xcalloc(cv->given.n + 1, sizeof(*cv->given_used));
	r = kl_source_date_epoch_parse("SOURCE_DATE_EPOCH", given_arg(cv, "SOURCE_DATE_EPOCH"),
	                               &cv->epoch, cv->err);
	if (r < 0)
		return r;
	cv->has_epoch = r > 0;
	format_created(cv);
	cv->build_platform = xstrdup(o->build_platform ? o->build_platform : "linux/amd64");
	cv->target_platform = xstrdup(o->target_platform ? o->target_platform : cv->build_platform);
	set_platform_args(&cv->meta, "BUILD", cv->build_platform);
	set_platform_args(&cv->meta, "TARGET", cv->target_platform);
	for (size_t i = 0; i < cv->in->n; i++)
		n += cv->in->v[i].kind == DOCKERFILE_FROM;
	cv->st = xcalloc(n + 1, sizeof(*cv->st));
	for (size_t i = cv->in->n_meta_args; i < cv->in->n; i++) {
		const struct dockerfile_instr *in = &cv->in->v[i];

		if (in->kind == DOCKERFILE_FROM) {
			struct cv_stage *st = &cv->st[cv->n_st++];

			st->from = in;
			st->first = st->end = i + 1;
			st->name = in->u.from.name ? xstrdup(in->u.from.name) : NULL;
			st->tree = GRAPH_NO_INPUT;
			st->base_image = -1;
			continue;
		}
		cv->st[cv->n_st - 1].end = i + 1;
	}
	if (!cv->n_st)
		return cv_fail(cv, NULL, "no build stage in the Dockerfile");
	for (size_t i = 0; i < cv->n_st; i++) {
		struct cv_stage *st = &cv->st[i];

		st->ignore_cache = o->no_cache;
		for (size_t k = 0; k < o->n_no_cache_stages; k++) {
			char auto_name[32];

			snprintf(auto_name, sizeof(auto_name), "stage-%zu", i);
			if ((st->name && !strcasecmp(st->name, o->no_cache_stages[k])) ||
			    !strcmp(auto_name, o->no_cache_stages[k]))
				st->ignore_cache = true;
		}
	}
	return 0;
}

static void
stage_reset(struct cv_stage *st)
{
	json_decref(st->image);
	st->image = NULL;
	free(st->layers);
	st->layers = NULL;
	st->n_layers = st->cap_layers = 0;
	cv_vars_done(&st->env);
	cv_vars_done(&st->args);
	st->state = CV_STAGE_NEW;
	st->cmd_set = false;
}

static void
cv_done(struct cv *cv)
{
	for (size_t i = 0; i < cv->n_st; i++) {
		stage_reset(&cv->st[i]);
		free(cv->st[i].name);
		free(cv->st[i].platform);
	}
	free(cv->st);
	for (size_t i = 0; i < cv->n_images; i++) {
		free(cv->images[i].key);
		free(cv->images[i].im.ref);
		free(cv->images[i].im.display);
		free(cv->images[i].im.config);
	}
	free(cv->images);
	cv_vars_done(&cv->meta);
	cv_vars_done(&cv->given);
	cv_vars_done(&cv->proxy);
	cv_vars_done(&cv->paths);
	free(cv->given_used);
	free(cv->named);
	free(cv->build_platform);
	free(cv->target_platform);
	free(cv->created);
	free(cv->lines);
	graph_free(cv->g);
}

/* One pass over what the target needs; the first learns the context paths. */
static int
pass(struct cv *cv, size_t target, bool collect)
{
	struct cv_vars meta = {0};
	int r = 0;

	cv->collect = collect;
	graph_free(cv->g);
	cv->g = graph_new();
	cv->context = cv->scratch = GRAPH_NO_INPUT;
	for (size_t i = 0; i < cv->n_images; i++)
		cv->images[i].vertex = GRAPH_NO_INPUT;
	for (size_t i = 0; i < cv->o->n_contexts; i++)
		cv->named[i] = GRAPH_NO_INPUT;
	for (size_t i = 0; i < cv->n_st; i++)
		stage_reset(&cv->st[i]);
	/* meta args start from the automatic platform ones each pass */
	cv_vars_copy(&meta, &cv->meta);
	for (size_t i = 0; r >= 0 && i < cv->in->n_meta_args; i++)
		r = dispatch_arg(cv, NULL, &cv->in->v[i]);
	if (r >= 0)
		r = dispatch_stage(cv, &cv->st[target]);
	cv_vars_done(&cv->meta);
	cv->meta = meta;
	return r;
}

static int
find_target(struct cv *cv, size_t *ret)
{
	if (!cv->o->target || !*cv->o->target) {
		*ret = cv->n_st - 1;
		return 0;
	}
	for (size_t i = 0; i < cv->n_st; i++)
		if (cv->st[i].name && !strcasecmp(cv->st[i].name, cv->o->target)) {
			*ret = i;
			return 0;
		}
	return kl_error_setf(cv->err, EINVAL, "target stage \"%s\" could not be found",
	                     cv->o->target);
}

static int
finish(struct cv *cv, size_t target, struct dockerfile_build *ret)
{
	struct cv_stage *t = &cv->st[target];
	uint32_t result = t->tree;
	int r;

	if (cv->o->n_labels) {
		json_t *c = cv_config_obj(t->image), *labels = json_object_get(c, "Labels");

		if (!json_is_object(labels)) {
			labels = json_object();
			json_object_set_new(c, "Labels", labels);
		}
		for (size_t i = 0; i < cv->o->n_labels; i++) {
			const char *kv = cv->o->labels[i], *eq = strchr(kv, '=');
			_cleanup_free_ char *k = xstrndup(kv, eq ? (size_t)(eq - kv) : strlen(kv));

			json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
		}
	}
	if (result == GRAPH_NO_INPUT) {
		struct graph_vertex v = {.kind = GRAPH_OP_SOURCE, .name = "scratch"};

		v.source.kind = GRAPH_SOURCE_SCRATCH;
		r = cv_add(cv, &v);
		if (r < 0)
			return r;
		result = (uint32_t)r;
	}
	r = graph_finish(cv->g, result, cv->err);
	if (r < 0)
		return r;
	*ret = (struct dockerfile_build){
	    .graph = TAKE_PTR(cv->g),
	    .n_stages = cv->n_st,
	    .target = target,
	    .context = cv->context,
	    .has_epoch = cv->has_epoch,
	    .epoch = cv->epoch,
	    .lines = xcalloc(2 * (cv->vertex_count + 1), sizeof(unsigned)),
	};
	if (cv->vertex_count)
		memcpy(ret->lines, cv->lines, 2 * cv->vertex_count * sizeof(unsigned));
	ret->stages = xcalloc(cv->n_st + 1, sizeof(*ret->stages));
	for (size_t i = 0; i < cv->n_st; i++) {
		struct cv_stage *st = &cv->st[i];
		struct dockerfile_stage_result *sr = &ret->stages[i];

		sr->name = st->name ? xstrdup(st->name) : xasprintf("stage-%zu", i);
		sr->built = st->state == CV_STAGE_DONE;
		sr->tree = i == target ? result : st->tree;
		sr->base_image = st->base_image;
		sr->platform = xstrdup(st->platform ? st->platform : cv->target_platform);
		if (!sr->built)
			continue;
		sr->layers = xcalloc(st->n_layers + 1, sizeof(*st->layers));
		if (st->n_layers)
			memcpy(sr->layers, st->layers, st->n_layers * sizeof(*st->layers));
		sr->n_layers = st->n_layers;
		sr->n_base_history = st->n_base_history;
		sr->config = json_dumps(st->image, JSON_COMPACT);
	}
	for (size_t i = 0; i < cv->given.n; i++) {
		_cleanup_free_ char *k = xstrndup(cv->given.kv[i], strcspn(cv->given.kv[i], "="));

		if (cv->given_used[i] || IN_LIST(proxy_args, k) || IN_LIST(builtin_args, k) ||
		    IN_LIST(platform_args, k))
			continue;
		ret->unused_args = xrealloc(ret->unused_args,
		                            (ret->n_unused_args + 1) * sizeof(*ret->unused_args));
		ret->unused_args[ret->n_unused_args++] = TAKE_PTR(k);
	}
	return 0;
}

int
dockerfile_convert(const struct dockerfile *df, const struct dockerfile_instrs *instrs,
                   const struct dockerfile_convert_options *opts, struct dockerfile_build *ret,
                   struct kl_error **err)
{
	_cleanup_(cv_done) struct cv cv = {.df = df, .in = instrs, .o = opts, .err = err};
	size_t target = 0;
	int r;

	cv.named = xcalloc(opts->n_contexts + 1, sizeof(*cv.named));
	r = setup(&cv);
	if (r >= 0)
		r = find_target(&cv, &target);
	if (r >= 0)
		r = pass(&cv, target, /* collect= */ true);
	if (r >= 0)
		r = pass(&cv, target, /* collect= */ false);
	if (r >= 0)
		r = finish(&cv, target, ret);
	return r;
}

void
dockerfile_build_done(struct dockerfile_build *b)
{
	graph_free(b->graph);
	for (size_t i = 0; i < b->n_stages; i++) {
		free(b->stages[i].name);
		free(b->stages[i].layers);
		free(b->stages[i].config);
		free(b->stages[i].platform);
	}
	free(b->stages);
	for (size_t i = 0; i < b->n_unused_args; i++)
		free(b->unused_args[i]);
	free(b->unused_args);
	free(b->lines);
	*b = (struct dockerfile_build){0};
}
