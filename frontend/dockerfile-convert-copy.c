// SPDX-License-Identifier: Apache-2.0
/* COPY and ADD to file ops: sources from the context, a stage, an image, a named context, a
 * heredoc, an http(s) URL or a git URL, with BuildKit's --chown/--chmod/--link/--parents/
 * --exclude/--checksum/--keep-git-dir/--unpack rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-convert-internal.h"
#include "frontend/dockerfile-parse.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/strpool.h"
#include "util/xalloc.h"

#define MAX_INPUTS 200u /* sources of one COPY (each may need an input) */

struct copy_op {
	struct graph_file_action *actions;
	size_t n_actions;
	uint32_t inputs[MAX_INPUTS + 1];
	size_t n_inputs;
	struct kl_strpool owned;
	/* shared by every action */
	struct graph_owner owner;
	bool has_owner;
	bool has_mode;
	uint32_t mode;
	struct graph_strv exclude;
};

static void
copy_op_done(struct copy_op *op)
{
	kl_strpool_done(&op->owned);
	free(op->actions);
	free(op->exclude.v);
}

/* The input slot of vertex idx (GRAPH_NO_INPUT: an empty slot), added once. */
static int
input_of(struct cv *cv, const struct dockerfile_instr *in, struct copy_op *op, uint32_t idx,
         uint32_t *ret)
{
	for (size_t i = 1; i < op->n_inputs; i++)
		if (op->inputs[i] == idx) {
			*ret = (uint32_t)i;
			return 0;
		}
	if (op->n_inputs >= MAX_INPUTS)
		return cv_fail(cv, in, "too many sources (at most %u)", MAX_INPUTS);
	op->inputs[op->n_inputs] = idx;
	*ret = (uint32_t)op->n_inputs++;
	return 0;
}

static struct graph_file_action *
new_action(struct copy_op *op)
{
	struct graph_file_action *a;

	op->actions = xrealloc(op->actions, (op->n_actions + 1) * sizeof(*op->actions));
	a = &op->actions[op->n_actions++];
	*a = (struct graph_file_action){.kind = GRAPH_FILE_COPY};
	return a;
}

/* A copy with the instruction's common settings; files of a context are 0:0 (Docker's
 * rule) unless --chown says otherwise. */
static struct graph_file_action *
copy_action(struct copy_op *op, uint32_t from, const char *src, const char *dest,
            bool context_files)
{
	struct graph_file_action *a = new_action(op);

	a->from = from;
	a->src = (char *)src;
	a->dest = (char *)dest;
	a->follow_symlinks = true;
	a->dir_contents = true;
	a->create_parents = true;
	a->allow_wildcard = true;
	a->allow_empty_wildcard = true;
	a->has_mode = op->has_mode;
	a->mode = op->mode;
	a->exclude = op->exclude;
	if (op->has_owner)
		a->owner = op->owner;
	else if (context_files)
		a->owner = (struct graph_owner){.user = "0", .group = "0"};
	return a;
}

static bool
is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* BuildKit's gitutil: git@, git://, ssh://, or an http(s) URL of a .git path. */
static bool
is_git_url(const char *s)
{
	size_t n;

	if (!strncmp(s, "git@", 4) || !strncmp(s, "git://", 6) || !strncmp(s, "ssh://", 6))
		return true;
	if (!is_url(s))
		return false;
	n = strcspn(s, "#");
	return n >= 4 && !memcmp(s + n - 4, ".git", 4);
}

/* The last path component of a URL, BuildKit's default filename ("index" when none). */
static char *
url_filename(const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;
	const char *slash, *end;

	p = p ? p + 3 : url;
	n = strcspn(p, "?#");
	end = p + n;
	slash = memchr(p, '/', n) ? p + n : NULL;
	if (!slash)
		return xstrdup("index");
	for (slash = end; slash > p && slash[-1] != '/'; slash--)
		;
	if (slash == end || !memchr(p, '/', n))
		return xstrdup("index");
	return xstrndup(slash, (size_t)(end - slash));
}

static int
parse_chown(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in,
            struct copy_op *op)
{
	char *v = NULL, *colon;
	int r;

	if (!in->u.copy.chown)
		return 0;
	r = cv_expand(cv, st, in, in->u.copy.chown, &v);
	if (r < 0)
		return r;
	kl_strpool_own(&op->owned, v);
	if (!*v)
		return 0;
	colon = strchr(v, ':');
	if (colon)
		*colon++ = '\0';
	if (!*v)
		return cv_fail(cv, in, "invalid chown parameter: %s", in->u.copy.chown);
	op->owner.user = v;
	op->owner.group = colon && *colon ? colon : NULL;
	op->has_owner = true;
	return 0;
}

static int
parse_chmod(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in,
            struct copy_op *op)
{
	_cleanup_free_ char *v = NULL;
	char *end = NULL;
	unsigned long m;
	int r;

	if (!in->u.copy.chmod)
		return 0;
	r = cv_expand(cv, st, in, in->u.copy.chmod, &v);
	if (r < 0)
		return r;
	m = strtoul(v, &end, 8);
	if (!*v || *end || m > 07777)
		return cv_fail(cv, in, "invalid chmod parameter: %s", v);
	op->has_mode = true;
	op->mode = (uint32_t)m;
	return 0;
}

/* --parents: "a/./b/c" copies b/c below dest (the part after "/./"); no pivot keeps the
 * whole path. The directory before the pivot is what the copy starts from. */
static void
parents_split(const char *src, char **ret_base, char **ret_rel)
{
	const char *pivot = strstr(src, "/./");
	const char *rel;

	if (pivot) {
		*ret_base = xstrndup(src, (size_t)(pivot - src));
		rel = pivot + 3;
	} else {
		*ret_base = xstrdup("/");
		rel = src;
	}
	while (*rel == '/' || (rel[0] == '.' && rel[1] == '/'))
		rel += *rel == '/' ? 1 : 2;
	*ret_rel = xstrdup(rel);
	if (!**ret_base) {
		free(*ret_base);
		*ret_base = xstrdup("/");
	}
}

static int
add_source(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in,
           struct copy_op *op, const char *src, const char *dest, uint32_t from_vertex,
           bool from_given, bool is_context)
{
	const struct dockerfile_copy *c = &in->u.copy;
	bool add = in->kind == DOCKERFILE_ADD;
	struct graph_file_action *a;
	uint32_t slot = 0;
	int r;

	if (add && !from_given && is_git_url(src)) {
		struct graph_vertex g = {.kind = GRAPH_OP_SOURCE, .name = (char *)src};

		g.source.kind = GRAPH_SOURCE_GIT;
		g.source.ref = (char *)src;
		g.source.keep_git_dir = c->keep_git_dir;
		r = cv_add(cv, &g);
		if (r < 0)
			return r;
		r = input_of(cv, in, op, (uint32_t)r, &slot);
		if (r < 0)
			return r;
		copy_action(op, slot, "/", dest, /* context_files= */ true);
		return 0;
	}
	if (add && !from_given && is_url(src)) {
		char *fname = kl_strpool_own(&op->owned, url_filename(src));
		_cleanup_free_ char *checksum = NULL;
		struct graph_vertex g = {.kind = GRAPH_OP_SOURCE, .name = (char *)src};
		size_t dl = strlen(dest);

		if (c->checksum) {
			r = cv_expand(cv, st, in, c->checksum, &checksum);
			if (r < 0)
				return r;
			if (strncmp(checksum, "sha256:", 7) || strlen(checksum) != 71)
				return cv_fail(cv, in, "invalid checksum digest format: %s",
				               checksum);
		}
		g.source.kind = GRAPH_SOURCE_HTTP;
		g.source.ref = (char *)src;
		g.source.checksum = checksum;
		g.source.filename = fname;
		r = cv_add(cv, &g);
		if (r < 0)
			return r;
		r = input_of(cv, in, op, (uint32_t)r, &slot);
		if (r < 0)
			return r;
		a = copy_action(op, slot, kl_strpool_own(&op->owned, xasprintf("/%s", fname)),
		                dl && dest[dl - 1] == '/'
		                    ? kl_strpool_own(&op->owned, xasprintf("%s%s", dest, fname))
		                    : dest,
		                /* context_files= */ true);
		a->unpack = c->unpack == 1;
		a->allow_wildcard = false;
		return 0;
	}
	if (c->checksum && add)
		return cv_fail(cv, in, "checksum can't be specified for non-HTTP(S) sources");
	if (!from_given) {
		r = cv_context(cv, src, &from_vertex);
		if (r < 0)
			return r;
		is_context = true;
	}
	r = input_of(cv, in, op, from_vertex, &slot);
	if (r < 0)
		return r;
	if (c->parents) {
		char *base, *rel;

		parents_split(src, &base, &rel);
		kl_strpool_own(&op->owned, base);
		kl_strpool_own(&op->owned, rel);
		a = copy_action(op, slot, base, dest, is_context);
		if (*rel) {
			a->include.v = xcalloc(2, sizeof(char *));
			a->include.v[0] = rel;
			a->include.n = 1;
		}
	} else {
		char *p = kl_strpool_own(&op->owned,
		                         src[0] == '/' ? xstrdup(src) : xasprintf("/%s", src));

		a = copy_action(op, slot, p, dest, is_context);
	}
	a->unpack = add && c->unpack != 0 && !from_given;
	return 0;
}

/* A heredoc source: a file on scratch, copied like any other. */
static int
add_inline(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in,
           struct copy_op *op, const struct dockerfile_inline_file *f, const char *dest)
{
	struct graph_file_action mk = {.kind = GRAPH_FILE_MKFILE};
	struct graph_vertex v = {.kind = GRAPH_OP_FILE, .name = "preparing inline document"};
	char *data = f->data;
	size_t len = f->len;
	uint32_t slot = 0;
	int r;

	if (f->expand) {
		struct dockerfile_expander ex;
		struct cv_lookup lk;

		cv_expander(cv, st, &lk, &ex);
		ex.flags = DOCKERFILE_EXPAND_SKIP_QUOTES;
		r = dockerfile_expand(&ex, f->data, f->len, &data, &len, cv->err);
		if (r < 0)
			return cv_fail(cv, in, "%s", (*cv->err)->msg);
		kl_strpool_own(&op->owned, data);
	}
	mk.src = kl_strpool_own(&op->owned, xasprintf("/%s", f->name));
	mk.data = data;
	mk.data_len = len;
	mk.has_mode = true;
	mk.mode = op->has_mode ? op->mode : 0644;
	if (cv->has_epoch) {
		mk.has_timestamp = true;
		mk.timestamp = cv->epoch;
	}
	v.file = (struct graph_file){&mk, 1};
	r = cv_add(cv, &v);
	if (r < 0)
		return r;
	r = input_of(cv, in, op, (uint32_t)r, &slot);
	if (r < 0)
		return r;
	copy_action(op, slot, mk.src, dest, /* context_files= */ true);
	return 0;
}

static char *
history_text(const struct dockerfile_instr *in, char **srcs, size_t n, const char *dest)
{
	struct kl_strbuf b = {0};

	kl_strbuf_puts(&b, dockerfile_instr_name(in->kind));
	for (size_t i = 0; i < n; i++)
		kl_strbuf_printf(&b, " %s", srcs[i]);
	for (size_t i = 0; i < in->u.copy.n_inline_sources; i++)
		kl_strbuf_printf(&b, " <<%s", in->u.copy.inline_sources[i].name);
	kl_strbuf_printf(&b, " %s # buildkit", dest);
	return kl_strbuf_steal(&b, NULL);
}

/* dest as BuildKit's: relative to the working directory, a trailing '/' kept. */
static char *
copy_dest(const struct cv_stage *st, const char *d)
{
	const char *wd = cv_workdir(st);
	size_t n = strlen(d);
	bool dir = !n || d[n - 1] == '/' || !strcmp(d, ".");
	struct kl_strbuf b = {0};
	char *out;

	if (d[0] == '/')
		kl_strbuf_puts(&b, d);
	else
		kl_strbuf_printf(&b, "%s/%s", wd, d);
	out = kl_strbuf_steal(&b, NULL);
	/* clean: drop "/." and duplicate slashes, keep the directory mark */
	{
		char *w = out;

		for (char *r = out; *r;) {
			if (r[0] == '/' && r[1] == '/') {
				r++;
				continue;
			}
			if (r[0] == '/' && r[1] == '.' && (r[2] == '/' || !r[2])) {
				r += 2;
				continue;
			}
			*w++ = *r++;
		}
		*w = '\0';
		n = strlen(out);
		while (n > 1 && out[n - 1] == '/')
			out[--n] = '\0';
		if (!n) {
			free(out);
			out = xstrdup("/");
			n = 1;
		}
	}
	if (dir && strcmp(out, "/")) {
		char *with = xasprintf("%s/", out);

		free(out);
		out = with;
	}
	return out;
}

int
cv_copy(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in)
{
	const struct dockerfile_copy *c = &in->u.copy;
	_cleanup_(copy_op_done) struct copy_op op = {0};
	_cleanup_free_ char *d = NULL, *from = NULL, *text = NULL, *name = NULL, *hist = NULL;
	struct graph_vertex v = {.kind = GRAPH_OP_FILE};
	uint32_t from_vertex = GRAPH_NO_INPUT, lower = st->tree;
	bool is_context = false;
	char **srcs;
	size_t n_srcs = c->sources.n;
	char *dest;
	int r;

	r = cv_expand(cv, st, in, c->dest, &d);
	if (r < 0)
		return r;
	if (n_srcs + c->n_inline_sources > 1 && d[strlen(d) ? strlen(d) - 1 : 0] != '/')
		return cv_fail(cv, in,
		               "When using %s with more than one source file, the destination must "
		               "be a directory and end with a /",
		               dockerfile_instr_name(in->kind));
	dest = kl_strpool_own(&op.owned, copy_dest(st, d));
	r = parse_chown(cv, st, in, &op);
	if (r >= 0)
		r = parse_chmod(cv, st, in, &op);
	if (r < 0)
		return r;
	if (c->excludes.n) {
		op.exclude.v = xcalloc(c->excludes.n + 1, sizeof(char *));
		for (size_t i = 0; i < c->excludes.n && r >= 0; i++) {
			char *e = NULL;

			r = cv_expand(cv, st, in, c->excludes.v[i], &e);
			if (r >= 0)
				op.exclude.v[op.exclude.n++] = kl_strpool_own(&op.owned, e);
		}
		if (r < 0)
			return r;
	}
	if (c->from) {
		r = cv_expand(cv, st, in, c->from, &from);
		if (r < 0)
			return r;
		r = cv_from_ref(cv, st, in, from, &from_vertex, &is_context);
		if (r < 0)
			return r;
	}
	op.inputs[0] = c->link ? GRAPH_NO_INPUT : st->tree;
	op.n_inputs = 1;
	srcs = xcalloc(n_srcs + 1, sizeof(*srcs));
	for (size_t i = 0; i < n_srcs && r >= 0; i++) {
		r = cv_expand(cv, st, in, c->sources.v[i], &srcs[i]);
		if (r >= 0)
			r = add_source(cv, st, in, &op, srcs[i], dest, from_vertex, c->from != NULL,
			               is_context);
	}
	for (size_t i = 0; i < c->n_inline_sources && r >= 0; i++)
		r = add_inline(cv, st, in, &op, &c->inline_sources[i], dest);
	if (r >= 0 && !op.n_actions)
		r = cv_fail(cv, in, "%s requires at least one source",
		            dockerfile_instr_name(in->kind));
	if (r >= 0) {
		hist = history_text(in, srcs, n_srcs, d);
		text = cv_instr_text(cv, st, in);
		name = cv_step_name(cv, st, text);
	}
	for (size_t i = 0; i < n_srcs; i++)
		free(srcs[i]);
	free(srcs);
	if (r < 0)
		goto out;
	v.name = name;
	v.inputs = op.inputs;
	v.n_inputs = op.n_inputs;
	v.ignore_cache = st->ignore_cache;
	v.file = (struct graph_file){op.actions, op.n_actions};
	r = cv_add(cv, &v);
	if (r < 0)
		goto out;
	if (c->link) {
		/* --link: the copy onto scratch, merged over the stage (BuildKit's MergeOp) */
		uint32_t ins[2] = {st->tree, (uint32_t)r};
		struct graph_vertex m = {.kind = GRAPH_OP_MERGE, .inputs = ins, .n_inputs = 2};
		_cleanup_free_ char *mname = xasprintf("%s (merge)", name);

		m.name = mname;
		m.ignore_cache = st->ignore_cache;
		r = cv_add(cv, &m);
		if (r < 0)
			goto out;
	}
	st->tree = (uint32_t)r;
	cv_config_history(cv, st, hist, false);
	cv_add_layer(st, lower);
	r = 0;
out:
	for (size_t i = 0; i < op.n_actions; i++)
		if (op.actions[i].include.v)
			free(op.actions[i].include.v);
	return r;
}
