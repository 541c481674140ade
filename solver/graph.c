// SPDX-License-Identifier: Apache-2.0
/* The build graph in memory: vertices copied in, checked, given defaults and display names,
 * and digested over their canonical form when the graph is finished. */
#include "solver/graph.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/graph-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

#define DISPLAY_MAX 240u /* bytes of a generated display name */

struct graph {
	struct graph_vertex *v;
	size_t n, cap;
	json_t *ids; /* id → index (an object of integers) */
	uint32_t result;
	bool finished;
};

struct graph *
graph_new(void)
{
	struct graph *g = xcalloc(1, sizeof(*g));

	g->ids = json_object();
	if (!g->ids)
		abort();
	g->result = GRAPH_NO_INPUT;
	return g;
}

/* Copies and frees. */

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Adds src's strings to dst (copies; dst empty before). */
static void
graph_strv_copy(struct graph_strv *dst, const struct graph_strv *src)
{
	*dst = (struct graph_strv){0};
	if (!src->n)
		return;
	dst->v = xcalloc(src->n, sizeof(*dst->v));
	for (size_t i = 0; i < src->n; i++)
		dst->v[i] = xstrdup(src->v[i]);
	dst->n = src->n;
}

static void
graph_strv_done(struct graph_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
	*v = (struct graph_strv){0};
}

static void
source_copy(struct graph_source *d, const struct graph_source *s)
{
	*d = *s;
	d->name = dup_or_null(s->name);
	d->ref = dup_or_null(s->ref);
	d->platform = dup_or_null(s->platform);
	d->checksum = dup_or_null(s->checksum);
	d->filename = dup_or_null(s->filename);
	graph_strv_copy(&d->include, &s->include);
	graph_strv_copy(&d->exclude, &s->exclude);
	graph_strv_copy(&d->followpaths, &s->followpaths);
}

static void
source_done(struct graph_source *s)
{
	free(s->name);
	free(s->ref);
	free(s->platform);
	free(s->checksum);
	free(s->filename);
	graph_strv_done(&s->include);
	graph_strv_done(&s->exclude);
	graph_strv_done(&s->followpaths);
}

static void
action_copy(struct graph_file_action *d, const struct graph_file_action *s)
{
	*d = *s;
	d->src = dup_or_null(s->src);
	d->dest = dup_or_null(s->dest);
	d->target = dup_or_null(s->target);
	d->cwd = dup_or_null(s->cwd);
	d->data = s->data_len ? xmemdup(s->data, s->data_len) : NULL;
	d->owner.user = dup_or_null(s->owner.user);
	d->owner.group = dup_or_null(s->owner.group);
	graph_strv_copy(&d->include, &s->include);
	graph_strv_copy(&d->exclude, &s->exclude);
}

static void
action_done(struct graph_file_action *a)
{
	free(a->src);
	free(a->dest);
	free(a->target);
	free(a->cwd);
	free(a->data);
	free(a->owner.user);
	free(a->owner.group);
	graph_strv_done(&a->include);
	graph_strv_done(&a->exclude);
}

static void
mount_copy(struct graph_mount *d, const struct graph_mount *s)
{
	*d = *s;
	d->target = dup_or_null(s->target);
	d->source = dup_or_null(s->source);
	d->id = dup_or_null(s->id);
	d->env = dup_or_null(s->env);
}

static void
mount_done(struct graph_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->id);
	free(m->env);
}

static void
exec_copy(struct graph_exec *d, const struct graph_exec *s)
{
	*d = *s;
	graph_strv_copy(&d->args, &s->args);
	graph_strv_copy(&d->env, &s->env);
	graph_strv_copy(&d->proxy_env, &s->proxy_env);
	graph_strv_copy(&d->extra_hosts, &s->extra_hosts);
	d->cwd = dup_or_null(s->cwd);
	d->user = dup_or_null(s->user);
	d->hostname = dup_or_null(s->hostname);
	d->mounts = s->n_mounts ? xcalloc(s->n_mounts, sizeof(*d->mounts)) : NULL;
	for (size_t i = 0; i < s->n_mounts; i++)
		mount_copy(&d->mounts[i], &s->mounts[i]);
}

static void
exec_done(struct graph_exec *e)
{
	graph_strv_done(&e->args);
	graph_strv_done(&e->env);
	graph_strv_done(&e->proxy_env);
	graph_strv_done(&e->extra_hosts);
	free(e->cwd);
	free(e->user);
	free(e->hostname);
	for (size_t i = 0; i < e->n_mounts; i++)
		mount_done(&e->mounts[i]);
	free(e->mounts);
}

/* Copies only the member of v's kind: the others stay zero. */
static void
vertex_copy(struct graph_vertex *d, const struct graph_vertex *s)
{
	*d = (struct graph_vertex){
	    .id = dup_or_null(s->id),
	    .name = dup_or_null(s->name),
	    .kind = s->kind,
	    .n_inputs = s->n_inputs,
	    .ignore_cache = s->ignore_cache,
	};
	if (s->n_inputs)
		d->inputs = xmemdup(s->inputs, s->n_inputs * sizeof(*s->inputs));
	switch (s->kind) {
	case GRAPH_OP_SOURCE:
		source_copy(&d->source, &s->source);
		break;
	case GRAPH_OP_FILE:
		d->file.n_actions = s->file.n_actions;
		d->file.actions =
		    s->file.n_actions ? xcalloc(s->file.n_actions, sizeof(*d->file.actions)) : NULL;
		for (size_t i = 0; i < s->file.n_actions; i++)
			action_copy(&d->file.actions[i], &s->file.actions[i]);
		break;
	case GRAPH_OP_EXEC:
		exec_copy(&d->exec, &s->exec);
		break;
	default:
		break;
	}
}

void
graph_vertex_done(struct graph_vertex *v)
{
	free(v->id);
	free(v->name);
	free(v->display_name);
	free(v->inputs);
	source_done(&v->source);
	for (size_t i = 0; i < v->file.n_actions; i++)
		action_done(&v->file.actions[i]);
	free(v->file.actions);
	exec_done(&v->exec);
	*v = (struct graph_vertex){0};
}

struct graph *
graph_free(struct graph *g)
{
	if (!g)
		return NULL;
	for (size_t i = 0; i < g->n; i++)
		graph_vertex_done(&g->v[i]);
	free(g->v);
	json_decref(g->ids);
	free(g);
	return NULL;
}

/* Checks. Messages name the vertex by its id; the JSON parser adds the path. */

static bool
utf8_ok(const char *s)
{
	json_t *j;

	if (!s)
		return true;
	j = json_string(s); /* jansson refuses what is not UTF-8 */
	json_decref(j);
	return j != NULL;
}

static bool
strv_utf8_ok(const struct graph_strv *v)
{
	for (size_t i = 0; i < v->n; i++)
		if (!v->v[i] || !utf8_ok(v->v[i]))
			return false;
	return true;
}

#define BAD(err, v, ...) kl_error_setf(err, EINVAL, "vertex '%s': " __VA_ARGS__)

static int
check_source(const struct graph_vertex *v, struct kl_error **err)
{
	const struct graph_source *s = &v->source;
	bool ok = utf8_ok(s->name) && utf8_ok(s->ref) && utf8_ok(s->platform) &&
	          utf8_ok(s->checksum) && utf8_ok(s->filename) && strv_utf8_ok(&s->include) &&
	          strv_utf8_ok(&s->exclude) && strv_utf8_ok(&s->followpaths);

	if (!ok)
		return BAD(err, v, "a string of the source is not UTF-8", v->id);
	if ((unsigned)s->kind >= _GRAPH_SOURCE_MAX)
		return BAD(err, v, "unknown source kind %d", v->id, (int)s->kind);
	if (s->kind == GRAPH_SOURCE_LOCAL && (!s->name || !*s->name))
		return BAD(err, v, "a local source needs a name", v->id);
	if ((s->kind == GRAPH_SOURCE_GIT || s->kind == GRAPH_SOURCE_IMAGE ||
	     s->kind == GRAPH_SOURCE_HTTP) &&
	    (!s->ref || !*s->ref))
		return BAD(err, v, "a %s source needs a %s", v->id, graph_source_name(s->kind),
		           s->kind == GRAPH_SOURCE_HTTP ? "url" : "ref");
	if (s->mode > 07777)
		return BAD(err, v, "mode %o is more than 07777", v->id, s->mode);
	if (s->checksum &&
	    digest_parse(s->checksum, strlen(s->checksum), &(struct digest){{0}}, NULL) < 0)
		return BAD(err, v, "checksum '%s' is not sha256:<64 hex digits>", v->id,
		           s->checksum);
	if (s->filename && (!*s->filename || strchr(s->filename, '/') ||
	                    !strcmp(s->filename, ".") || !strcmp(s->filename, "..")))
		return BAD(err, v, "filename '%s' is not a plain file name", v->id, s->filename);
	return 0;
}

static int
check_action(const struct graph_vertex *v, size_t i, struct kl_error **err)
{
	const struct graph_file_action *a = &v->file.actions[i];
	bool ok = utf8_ok(a->src) && utf8_ok(a->dest) && utf8_ok(a->target) && utf8_ok(a->cwd) &&
	          utf8_ok(a->owner.user) && utf8_ok(a->owner.group) && strv_utf8_ok(&a->include) &&
	          strv_utf8_ok(&a->exclude);

	if (!ok)
		return BAD(err, v, "action %zu: a string is not UTF-8", v->id, i);
	if ((unsigned)a->kind >= _GRAPH_FILE_ACTION_MAX)
		return BAD(err, v, "action %zu: unknown kind %d", v->id, i, (int)a->kind);
	if (!a->src || !*a->src)
		return BAD(err, v, "action %zu (%s) needs a %s", v->id, i,
		           graph_action_name(a->kind), a->kind == GRAPH_FILE_COPY ? "src" : "path");
	if (a->kind == GRAPH_FILE_COPY && (!a->dest || !*a->dest))
		return BAD(err, v, "action %zu (copy) needs a dest", v->id, i);
	if (a->kind == GRAPH_FILE_COPY && a->from >= v->n_inputs)
		return BAD(err, v, "action %zu (copy): from %u is not one of its %zu inputs", v->id,
		           i, a->from, v->n_inputs);
	if (a->kind == GRAPH_FILE_SYMLINK && (!a->target || !*a->target))
		return BAD(err, v, "action %zu (symlink) needs a target", v->id, i);
	if (a->has_mode && a->mode > 07777)
		return BAD(err, v, "action %zu: mode %o is more than 07777", v->id, i, a->mode);
	if (a->data_len && !a->data)
		return BAD(err, v, "action %zu: data_len without data", v->id, i);
	if (a->owner.group && !a->owner.user)
		return BAD(err, v, "action %zu: an owner group needs a user", v->id, i);
	return 0;
}

static int
check_mount(const struct graph_vertex *v, size_t i, struct kl_error **err)
{
	const struct graph_mount *m = &v->exec.mounts[i];

	if (!utf8_ok(m->target) || !utf8_ok(m->source) || !utf8_ok(m->id) || !utf8_ok(m->env))
		return BAD(err, v, "mount %zu: a string is not UTF-8", v->id, i);
	if ((unsigned)m->kind >= _GRAPH_MOUNT_MAX)
		return BAD(err, v, "mount %zu: unknown type %d", v->id, i, (int)m->kind);
	if ((unsigned)m->sharing >= _GRAPH_CACHE_SHARING_MAX)
		return BAD(err, v, "mount %zu: unknown sharing %d", v->id, i, (int)m->sharing);
	if (m->target && m->target[0] != '/')
		return BAD(err, v, "mount %zu: target '%s' is not an absolute path", v->id, i,
		           m->target);
	if (!m->target && !(m->kind == GRAPH_MOUNT_SECRET && m->env))
		return BAD(err, v, "mount %zu (%s) needs a target", v->id, i,
		           graph_mount_name(m->kind));
	if (m->input != GRAPH_NO_INPUT && m->input >= v->n_inputs)
		return BAD(err, v, "mount %zu: input %u is not one of its %zu inputs", v->id, i,
		           m->input, v->n_inputs);
	if (m->kind == GRAPH_MOUNT_SECRET && (!m->id || !*m->id))
		return BAD(err, v, "mount %zu (secret) needs an id", v->id, i);
	if (m->has_mode && m->mode > 07777)
		return BAD(err, v, "mount %zu: mode %o is more than 07777", v->id, i, m->mode);
	return 0;
}

static int
check_exec(const struct graph_vertex *v, struct kl_error **err)
{
	const struct graph_exec *e = &v->exec;
	int r;

	if (!strv_utf8_ok(&e->args) || !strv_utf8_ok(&e->env) || !strv_utf8_ok(&e->proxy_env) ||
	    !strv_utf8_ok(&e->extra_hosts) || !utf8_ok(e->cwd) || !utf8_ok(e->user) ||
	    !utf8_ok(e->hostname))
		return BAD(err, v, "a string of the exec is not UTF-8", v->id);
	if (!e->args.n || !*e->args.v[0])
		return BAD(err, v, "an exec needs args", v->id);
	if ((unsigned)e->network >= _GRAPH_NET_MAX || (unsigned)e->security >= _GRAPH_SECURITY_MAX)
		return BAD(err, v, "unknown network or security mode", v->id);
	for (size_t i = 0; i < e->env.n; i++)
		if (!strchr(e->env.v[i], '=') || e->env.v[i][0] == '=')
			return BAD(err, v, "env '%s' is not NAME=VALUE", v->id, e->env.v[i]);
	for (size_t i = 0; i < e->proxy_env.n; i++)
		if (!strchr(e->proxy_env.v[i], '=') || e->proxy_env.v[i][0] == '=')
			return BAD(err, v, "proxy_env '%s' is not NAME=VALUE", v->id,
			           e->proxy_env.v[i]);
	for (size_t i = 0; i < e->extra_hosts.n; i++)
		if (!strchr(e->extra_hosts.v[i], '=') || e->extra_hosts.v[i][0] == '=')
			return BAD(err, v, "extra host '%s' is not HOST=IP", v->id,
			           e->extra_hosts.v[i]);
	if (e->cwd && e->cwd[0] != '/')
		return BAD(err, v, "cwd '%s' is not an absolute path", v->id, e->cwd);
	for (size_t i = 0; i < e->n_mounts; i++) {
		r = check_mount(v, i, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
check_vertex(const struct graph *g, const struct graph_vertex *v, struct kl_error **err)
{
	int r = 0;

	if ((unsigned)v->kind >= _GRAPH_OP_MAX)
		return BAD(err, v, "unknown op kind %d", v->id, (int)v->kind);
	if (v->n_inputs > GRAPH_MAX_INPUTS)
		return BAD(err, v, "%zu inputs is more than %u", v->id, v->n_inputs,
		           GRAPH_MAX_INPUTS);
	for (size_t i = 0; i < v->n_inputs; i++)
		if (v->inputs[i] != GRAPH_NO_INPUT && v->inputs[i] >= g->n)
			return BAD(err, v, "input %zu (%u) is not an earlier vertex", v->id, i,
			           v->inputs[i]);
	if (!utf8_ok(v->name))
		return BAD(err, v, "its name is not UTF-8", v->id);
	switch (v->kind) {
	case GRAPH_OP_SOURCE:
		if (v->n_inputs)
			return BAD(err, v, "a source takes no inputs", v->id);
		r = check_source(v, err);
		break;
	case GRAPH_OP_FILE:
		if (!v->file.n_actions)
			return BAD(err, v, "a file op needs actions", v->id);
		for (size_t i = 0; r >= 0 && i < v->file.n_actions; i++)
			r = check_action(v, i, err);
		break;
	case GRAPH_OP_EXEC:
		r = check_exec(v, err);
		break;
	case GRAPH_OP_MERGE:
		if (!v->n_inputs)
			return BAD(err, v, "a merge needs inputs", v->id);
		break;
	case GRAPH_OP_DIFF:
		if (v->n_inputs != 2)
			return BAD(err, v, "a diff takes two inputs (lower, upper), not %zu", v->id,
			           v->n_inputs);
		break;
	default:
		break;
	}
	return r;
}

/* Defaults that enter the canonical form. */
static void
fill_defaults(struct graph_vertex *v)
{
	size_t n_ssh = 0;

	if (v->kind != GRAPH_OP_EXEC)
		return;
	for (size_t i = 0; i < v->exec.n_mounts; i++) {
		struct graph_mount *m = &v->exec.mounts[i];

		if (m->kind == GRAPH_MOUNT_TMPFS || m->kind == GRAPH_MOUNT_SECRET ||
		    m->kind == GRAPH_MOUNT_SSH)
			m->input = GRAPH_NO_INPUT;
		if (m->kind == GRAPH_MOUNT_SSH && !m->id)
			m->id = xstrdup("default");
		if (m->kind == GRAPH_MOUNT_SECRET && !m->target && !m->env && m->id)
			m->target = xasprintf("/run/secrets/%s", m->id);
		if (m->kind == GRAPH_MOUNT_SSH && !m->target)
			m->target = xasprintf("/run/buildkit/ssh_agent.%zu", n_ssh);
		if (m->kind == GRAPH_MOUNT_SSH)
			n_ssh++;
	}
}

/* Display names. */

static void
append(char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n >= DISPLAY_MAX) {
		n = DISPLAY_MAX - 1 - *len;
		/* never cut a UTF-8 sequence in two */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

static char *
make_display_name(const struct graph_vertex *v)
{
	char buf[DISPLAY_MAX];
	size_t len = 0;

	buf[0] = '\0';
	switch (v->kind) {
	case GRAPH_OP_SOURCE:
		append(buf, &len, graph_source_name(v->source.kind));
		if (v->source.kind == GRAPH_SOURCE_LOCAL) {
			append(buf, &len, " ");
			append(buf, &len, v->source.name);
		} else if (v->source.ref) {
			append(buf, &len, " ");
			append(buf, &len, v->source.ref);
		}
		break;
	case GRAPH_OP_FILE: {
		const struct graph_file_action *a = &v->file.actions[0];

		append(buf, &len, graph_action_name(a->kind));
		append(buf, &len, " ");
		append(buf, &len, a->src);
		if (a->kind == GRAPH_FILE_COPY || a->kind == GRAPH_FILE_SYMLINK) {
			append(buf, &len, " ");
			append(buf, &len, a->kind == GRAPH_FILE_COPY ? a->dest : a->target);
		}
		if (v->file.n_actions > 1) {
			char more[32];

			snprintf(more, sizeof(more), " (+%zu)", v->file.n_actions - 1);
			append(buf, &len, more);
		}
		break;
	}
	case GRAPH_OP_EXEC:
		append(buf, &len, "exec");
		for (size_t i = 0; i < v->exec.args.n && len < DISPLAY_MAX - 1; i++) {
			append(buf, &len, " ");
			append(buf, &len, v->exec.args.v[i]);
		}
		break;
	default:
		append(buf, &len, graph_op_name(v->kind));
		break;
	}
	/* one line: control characters of args become spaces */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20)
			buf[i] = ' ';
	return xstrdup(buf);
}

int
graph_add(struct graph *g, const struct graph_vertex *v, struct kl_error **err)
{
	struct graph_vertex *d;
	char *gen = NULL;
	int r;

	if (g->finished)
		return kl_error_setf(err, EINVAL, "the graph is finished: no vertex can be added");
	if (g->n >= GRAPH_MAX_VERTICES)
		return kl_error_setf(err, EINVAL, "more than %u vertices", GRAPH_MAX_VERTICES);
	if (!v->id)
		gen = xasprintf("v%zu", g->n);
	else if (!*v->id || !utf8_ok(v->id))
		return kl_error_setf(err, EINVAL, "vertex %zu: its id is empty or not UTF-8", g->n);
	if (json_object_get(g->ids, gen ? gen : v->id)) {
		r = kl_error_setf(err, EINVAL, "vertex id '%s' is used twice", gen ? gen : v->id);
		free(gen);
		return r;
	}
	g->v = xgrow(g->v, &g->cap, g->n + 1, sizeof(*g->v));
	d = &g->v[g->n];
	vertex_copy(d, v);
	if (gen) {
		free(d->id);
		d->id = gen;
	}
	fill_defaults(d);
	r = check_vertex(g, d, err);
	if (r < 0) {
		graph_vertex_done(d);
		return r;
	}
	d->display_name = d->name ? xstrdup(d->name) : make_display_name(d);
	if (json_object_set_new(g->ids, d->id, json_integer((json_int_t)g->n)) < 0)
		abort();
	return (int)g->n++;
}

int
graph_finish(struct graph *g, uint32_t result, struct kl_error **err)
{
	const struct digest **ids = NULL;
	size_t cap = 0;

	if (g->finished)
		return kl_error_setf(err, EINVAL, "the graph is finished already");
	if (result >= g->n)
		return kl_error_setf(err, EINVAL, "the result (%u) is not a vertex of the graph",
		                     result);
	for (size_t i = 0; i < g->n; i++) {
		struct graph_vertex *v = &g->v[i];
		char *text;

		ids = xgrow(ids, &cap, v->n_inputs + 1, sizeof(*ids));
		for (size_t k = 0; k < v->n_inputs; k++)
			ids[k] = v->inputs[k] == GRAPH_NO_INPUT ? NULL : &g->v[v->inputs[k]].digest;
		text = graph_canonical_json(v, ids);
		digest_buffer(text, strlen(text), &v->digest);
		free(text);
	}
	free(ids);
	g->result = result;
	g->finished = true;
	return 0;
}

size_t
graph_count(const struct graph *g)
{
	return g->n;
}

const struct graph_vertex *
graph_vertex(const struct graph *g, uint32_t idx)
{
	return idx < g->n ? &g->v[idx] : NULL;
}

uint32_t
graph_result(const struct graph *g)
{
	return g->result;
}

int
graph_find(const struct graph *g, const char *id, uint32_t *ret)
{
	json_t *j = json_object_get(g->ids, id);

	if (!j)
		return -ENOENT;
	*ret = (uint32_t)json_integer_value(j);
	return 0;
}

const char *
graph_vertex_display_name(const struct graph_vertex *v)
{
	return v->display_name ? v->display_name : v->name ? v->name : graph_op_name(v->kind);
}
