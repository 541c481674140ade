// SPDX-License-Identifier: Apache-2.0
/* The graph written as JSON: the versioned form graph_parse reads, and the canonical form of
 * a vertex that its digest hashes (defaults left out, inputs by digest, keys sorted). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/graph-internal.h"
#include "util/base64.h"
#include "util/xalloc.h"

static const char *const op_names[] = {"source", "file", "exec", "merge", "diff"};
static const char *const source_names[] = {"scratch", "local", "git", "image", "http"};
static const char *const action_names[] = {"copy", "mkdir", "mkfile", "rm", "symlink"};
static const char *const mount_names[] = {"bind", "cache", "tmpfs", "secret", "ssh"};
static const char *const sharing_names[] = {"shared", "private", "locked"};
static const char *const network_names[] = {"host", "none"};
static const char *const security_names[] = {"sandbox", "insecure"};

#define NAME(table, k) ((unsigned)(k) < sizeof(table) / sizeof(table[0]) ? table[k] : "?")

const char *
graph_op_name(enum graph_op_kind k)
{
	return NAME(op_names, k);
}

const char *
graph_source_name(enum graph_source_kind k)
{
	return NAME(source_names, k);
}

const char *
graph_action_name(enum graph_file_action_kind k)
{
	return NAME(action_names, k);
}

const char *
graph_mount_name(enum graph_mount_kind k)
{
	return NAME(mount_names, k);
}

const char *
graph_sharing_name(enum graph_cache_sharing k)
{
	return NAME(sharing_names, k);
}

const char *
graph_network_name(enum graph_network k)
{
	return NAME(network_names, k);
}

const char *
graph_security_name(enum graph_security k)
{
	return NAME(security_names, k);
}

/* Setters that leave a field out at its default. A value jansson refuses poisons the object
 * (see emit_ok): graph_add lets none in, so that is a programming error. */

struct emit {
	json_t *o;
	unsigned flags;
	bool bad;
};

static void
put(struct emit *e, const char *key, json_t *v)
{
	if (!v || json_object_set_new(e->o, key, v) < 0)
		e->bad = true;
}

static void
put_str(struct emit *e, const char *key, const char *s)
{
	if (s)
		put(e, key, json_string(s));
}

static void
put_bool(struct emit *e, const char *key, bool b)
{
	if (b)
		put(e, key, json_true());
}

static void
put_uint(struct emit *e, const char *key, uint64_t n)
{
	if (n)
		put(e, key, json_integer((json_int_t)n));
}

static void
put_mode(struct emit *e, const char *key, bool has, uint32_t mode)
{
	char buf[16];

	if (!has)
		return;
	if (e->flags & GRAPH_EMIT_CANONICAL) {
		put(e, key, json_integer(mode));
		return;
	}
	snprintf(buf, sizeof(buf), "%04o", mode);
	put(e, key, json_string(buf));
}

static void
put_strv(struct emit *e, const char *key, const struct graph_strv *v)
{
	json_t *a;

	if (!v->n)
		return;
	a = json_array();
	for (size_t i = 0; i < v->n; i++)
		if (json_array_append_new(a, json_string(v->v[i])) < 0)
			e->bad = true;
	put(e, key, a);
}

static json_t *emit_action(const struct graph_file_action *a, unsigned flags, bool *bad);

static void
put_owner(struct emit *e, const struct graph_owner *o)
{
	struct emit sub = {NULL, e->flags, false};

	if (!o->user)
		return;
	sub.o = json_object();
	put_str(&sub, "user", o->user);
	put_str(&sub, "group", o->group);
	e->bad |= sub.bad;
	put(e, "owner", sub.o);
}

static void
emit_source(struct emit *e, const struct graph_source *s)
{
	put_str(e, "type", graph_source_name(s->kind));
	switch (s->kind) {
	case GRAPH_SOURCE_LOCAL:
		put_str(e, "name", s->name);
		put_strv(e, "include", &s->include);
		put_strv(e, "exclude", &s->exclude);
		put_strv(e, "followpaths", &s->followpaths);
		break;
	case GRAPH_SOURCE_GIT:
		put_str(e, "ref", s->ref);
		put_bool(e, "keep_git_dir", s->keep_git_dir);
		break;
	case GRAPH_SOURCE_IMAGE:
		put_str(e, "ref", s->ref);
		put_str(e, "platform", s->platform);
		break;
	case GRAPH_SOURCE_HTTP:
		put_str(e, "url", s->ref);
		put_str(e, "checksum", s->checksum);
		put_str(e, "filename", s->filename);
		put_mode(e, "mode", s->mode != 0, s->mode);
		put_uint(e, "uid", s->uid);
		put_uint(e, "gid", s->gid);
		break;
	default:
		break;
	}
}

/* mkfile data: text when it is UTF-8 without NUL bytes, else base64. */
static void
put_data(struct emit *e, const struct graph_file_action *a)
{
	if (!a->data_len)
		return;
	if (!memchr(a->data, '\0', a->data_len)) {
		json_t *s = json_stringn(a->data, a->data_len);

		if (s) {
			put(e, "data", s);
			return;
		}
	}
	{
		char *b64 = kl_base64_encode(a->data, a->data_len);

		put(e, "data_base64", json_string(b64));
		free(b64);
	}
}

json_t *
graph_emit_action(const struct graph_file_action *a, unsigned flags)
{
	bool bad = false;
	json_t *o = emit_action(a, flags, &bad);

	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
emit_action(const struct graph_file_action *a, unsigned flags, bool *bad)
{
	struct emit e = {json_object(), flags, false};
	bool copy = a->kind == GRAPH_FILE_COPY;

	put_str(&e, "action", graph_action_name(a->kind));
	if (copy) {
		put(&e, "from", json_integer(a->from));
		put_str(&e, "src", a->src);
		put_str(&e, "dest", a->dest);
	} else {
		put_str(&e, "path", a->src);
	}
	put_str(&e, "cwd", a->cwd);
	if (a->kind == GRAPH_FILE_SYMLINK)
		put_str(&e, "target", a->target);
	if (a->kind == GRAPH_FILE_MKFILE)
		put_data(&e, a);
	if (copy || a->kind == GRAPH_FILE_MKDIR || a->kind == GRAPH_FILE_MKFILE)
		put_mode(&e, "mode", a->has_mode, a->mode);
	if (a->kind != GRAPH_FILE_RM) {
		put_owner(&e, &a->owner);
		if (a->has_timestamp)
			put(&e, "timestamp", json_integer(a->timestamp));
	}
	if (copy || a->kind == GRAPH_FILE_MKDIR)
		put_bool(&e, "create_parents", a->create_parents);
	if (copy || a->kind == GRAPH_FILE_RM)
		put_bool(&e, "allow_wildcard", a->allow_wildcard);
	if (a->kind == GRAPH_FILE_RM)
		put_bool(&e, "allow_not_found", a->allow_not_found);
	if (copy) {
		put_bool(&e, "follow_symlinks", a->follow_symlinks);
		put_bool(&e, "dir_contents", a->dir_contents);
		put_bool(&e, "allow_empty_wildcard", a->allow_empty_wildcard);
		put_bool(&e, "unpack", a->unpack);
		put_strv(&e, "include", &a->include);
		put_strv(&e, "exclude", &a->exclude);
	}
	*bad |= e.bad;
	return e.o;
}

static void
emit_file(struct emit *e, const struct graph_file *f)
{
	json_t *a = json_array();

	for (size_t i = 0; i < f->n_actions; i++)
		if (json_array_append_new(a, emit_action(&f->actions[i], e->flags, &e->bad)) < 0)
			e->bad = true;
	put(e, "actions", a);
}

static json_t *
emit_mount(const struct graph_mount *m, unsigned flags, bool *bad)
{
	struct emit e = {json_object(), flags, false};
	bool bind = m->kind == GRAPH_MOUNT_BIND, cache = m->kind == GRAPH_MOUNT_CACHE;
	bool secret = m->kind == GRAPH_MOUNT_SECRET, ssh = m->kind == GRAPH_MOUNT_SSH;

	put_str(&e, "type", graph_mount_name(m->kind));
	put_str(&e, "target", m->target);
	if ((bind || cache) && m->input != GRAPH_NO_INPUT)
		put(&e, "input", json_integer(m->input));
	if (bind || cache) {
		put_str(&e, "source", m->source);
		put_bool(&e, "readonly", m->readonly);
	}
	if (cache || secret || ssh)
		put_str(&e, "id", m->id);
	if (cache && m->sharing != GRAPH_CACHE_SHARED)
		put_str(&e, "sharing", graph_sharing_name(m->sharing));
	if (cache || secret || ssh) {
		put_mode(&e, "mode", m->has_mode, m->mode);
		put_uint(&e, "uid", m->uid);
		put_uint(&e, "gid", m->gid);
	}
	if (m->kind == GRAPH_MOUNT_TMPFS)
		put_uint(&e, "size", m->size);
	if (secret)
		put_str(&e, "env", m->env);
	if (secret || ssh)
		put_bool(&e, "required", m->required);
	*bad |= e.bad;
	return e.o;
}

static void
emit_exec(struct emit *e, const struct graph_exec *x)
{
	put_strv(e, "args", &x->args);
	put_strv(e, "env", &x->env);
	if (!(e->flags & GRAPH_EMIT_NO_PROXY))
		put_strv(e, "proxy_env", &x->proxy_env);
	put_str(e, "cwd", x->cwd);
	put_str(e, "user", x->user);
	put_str(e, "hostname", x->hostname);
	put_strv(e, "extra_hosts", &x->extra_hosts);
	if (x->network != GRAPH_NET_HOST)
		put_str(e, "network", graph_network_name(x->network));
	if (x->security != GRAPH_SECURITY_SANDBOX)
		put_str(e, "security", graph_security_name(x->security));
	if (x->n_mounts) {
		json_t *a = json_array();

		for (size_t i = 0; i < x->n_mounts; i++)
			if (json_array_append_new(a, emit_mount(&x->mounts[i], e->flags, &e->bad)) <
			    0)
				e->bad = true;
		put(e, "mounts", a);
	}
}

json_t *
graph_emit_op(const struct graph_vertex *v, unsigned flags)
{
	struct emit e = {json_object(), flags, false};

	switch (v->kind) {
	case GRAPH_OP_SOURCE:
		emit_source(&e, &v->source);
		break;
	case GRAPH_OP_FILE:
		emit_file(&e, &v->file);
		break;
	case GRAPH_OP_EXEC:
		emit_exec(&e, &v->exec);
		break;
	default:
		break;
	}
	if (e.bad) {
		json_decref(e.o);
		return NULL;
	}
	return e.o;
}

static char *
dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	if (!s)
		abort();
	return s;
}

char *
graph_canonical_json(const struct graph_vertex *v, const struct digest *const *ids)
{
	json_t *o = json_object(), *op = graph_emit_op(v, GRAPH_EMIT_CANONICAL);
	char *text;

	if (!op)
		abort(); /* graph_add checked every string */
	json_object_set_new(o, graph_op_name(v->kind), op);
	if (v->n_inputs) {
		json_t *a = json_array();

		for (size_t i = 0; i < v->n_inputs; i++) {
			char id[DIGEST_STRING_SIZE];

			json_array_append_new(a, ids[i] ? json_string(digest_to_string(ids[i], id))
			                                : json_null());
		}
		json_object_set_new(o, "inputs", a);
	}
	text = dump(o);
	json_decref(o);
	return text;
}

char *
graph_to_json(const struct graph *g)
{
	json_t *root = json_object(), *vs = json_array();
	char *text;

	json_object_set_new(root, "version", json_integer(GRAPH_VERSION));
	for (uint32_t i = 0; i < graph_count(g); i++) {
		const struct graph_vertex *v = graph_vertex(g, i);
		json_t *o = json_object(), *op = graph_emit_op(v, 0);

		if (!op)
			abort();
		json_object_set_new(o, "id", json_string(v->id));
		if (v->name)
			json_object_set_new(o, "name", json_string(v->name));
		if (v->ignore_cache)
			json_object_set_new(o, "ignore_cache", json_true());
		if (v->n_inputs) {
			json_t *a = json_array();

			for (size_t k = 0; k < v->n_inputs; k++)
				json_array_append_new(
				    a, v->inputs[k] == GRAPH_NO_INPUT
				           ? json_null()
				           : json_string(graph_vertex(g, v->inputs[k])->id));
			json_object_set_new(o, "inputs", a);
		}
		json_object_set_new(o, graph_op_name(v->kind), op);
		json_array_append_new(vs, o);
	}
	json_object_set_new(root, "vertices", vs);
	if (graph_result(g) != GRAPH_NO_INPUT)
		json_object_set_new(root, "result",
		                    json_string(graph_vertex(g, graph_result(g))->id));
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		abort();
	return text;
}
