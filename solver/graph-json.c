// SPDX-License-Identifier: Apache-2.0
/* Reading a graph's versioned JSON form (docs/graph.md) with jansson; every error names the
 * field by its JSON path. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/graph-internal.h"
#include "util/base64.h"
#include "util/error.h"
#include "util/xalloc.h"

#define MAX_STRING (1u << 20) /* bytes of one string (mkfile data: the whole JSON) */

struct parser {
	const char *origin;
	char *path; /* the JSON path of the value being read */
	size_t len, cap;
	struct graph *g;
	struct kl_error **err;
};

/* Appends a path component; returns the length to restore with pop(). */
static size_t __attribute__((format(printf, 2, 3))) push(struct parser *p, const char *fmt, ...)
{
	size_t saved = p->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p->path = xgrow(p->path, &p->cap, p->len + (size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(p->path + p->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	p->len += (size_t)n;
	return saved;
}

static void
pop(struct parser *p, size_t saved)
{
	p->len = saved;
	p->path[saved] = '\0';
}

static int __attribute__((format(printf, 2, 3))) fail(struct parser *p, const char *fmt, ...)
{
	char *msg;
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	r = kl_error_setf(p->err, EINVAL, "%s: %s: %s", p->origin, p->len ? p->path : "(top)", msg);
	free(msg);
	return r;
}

/* Fails on a member of o not in allowed (a NULL-terminated list). */
static int
check_keys(struct parser *p, json_t *o, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v)
	{
		bool ok = false;

		for (size_t i = 0; allowed[i] && !ok; i++)
			ok = !strcmp(key, allowed[i]);
		if (!ok)
			return fail(p, "unknown field '%s'", key);
	}
	return 0;
}

static int
want_object(struct parser *p, json_t *v)
{
	return json_is_object(v) ? 0 : fail(p, "expected an object");
}

/* Member readers: absent members leave *ret alone (required ones fail). */

static int
get_string(struct parser *p, json_t *o, const char *key, bool required, char **ret)
{
	json_t *v = json_object_get(o, key);
	size_t saved;
	int r = 0;

	if (!v)
		return required ? fail(p, "missing field '%s'", key) : 0;
	saved = push(p, ".%s", key);
	if (!json_is_string(v))
		r = fail(p, "expected a string");
	else if (json_string_length(v) > MAX_STRING)
		r = fail(p, "longer than %u bytes", MAX_STRING);
	else if (required && !json_string_length(v))
		r = fail(p, "must not be empty");
	else
		*ret = xstrdup(json_string_value(v));
	pop(p, saved);
	return r;
}

static int
get_bool(struct parser *p, json_t *o, const char *key, bool *ret)
{
	json_t *v = json_object_get(o, key);
	size_t saved;

	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		int r;

		saved = push(p, ".%s", key);
		r = fail(p, "expected true or false");
		pop(p, saved);
		return r;
	}
	*ret = json_is_true(v);
	return 0;
}

static int
int_of(struct parser *p, json_t *v, json_int_t min, json_int_t max, json_int_t *ret)
{
	if (!json_is_integer(v))
		return fail(p, "expected an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return fail(p, "%lld is out of range (%lld to %lld)",
		            (long long)json_integer_value(v), (long long)min, (long long)max);
	*ret = json_integer_value(v);
	return 0;
}

static int
get_int(struct parser *p, json_t *o, const char *key, json_int_t min, json_int_t max,
        json_int_t *ret)
{
	json_t *v = json_object_get(o, key);
	size_t saved;
	int r;

	if (!v)
		return 0;
	saved = push(p, ".%s", key);
	r = int_of(p, v, min, max, ret);
	pop(p, saved);
	return r;
}

static int
get_u32(struct parser *p, json_t *o, const char *key, uint32_t *ret)
{
	json_int_t n = *ret;
	int r = get_int(p, o, key, 0, UINT32_MAX, &n);

	*ret = (uint32_t)n;
	return r;
}

/* A mode: a number, or a string of octal digits ("0755"). Sets *has when present. */
static int
get_mode(struct parser *p, json_t *o, const char *key, bool *has, uint32_t *ret)
{
	json_t *v = json_object_get(o, key);
	json_int_t n = 0;
	size_t saved;
	int r = 0;

	if (!v)
		return 0;
	saved = push(p, ".%s", key);
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		unsigned long m;

		m = strtoul(s, &end, 8);
		if (!*s || *end || strspn(s, "01234567") != strlen(s) || strlen(s) > 6 || m > 07777)
			r = fail(p, "'%s' is not an octal mode up to 07777", s);
		n = (json_int_t)m;
	} else {
		r = int_of(p, v, 0, 07777, &n);
	}
	pop(p, saved);
	if (r < 0)
		return r;
	*has = true;
	*ret = (uint32_t)n;
	return 0;
}

static int
get_strv(struct parser *p, json_t *o, const char *key, struct graph_strv *ret)
{
	json_t *v = json_object_get(o, key), *s;
	size_t saved, i;
	int r = 0;

	if (!v)
		return 0;
	saved = push(p, ".%s", key);
	if (!json_is_array(v)) {
		r = fail(p, "expected an array of strings");
		pop(p, saved);
		return r;
	}
	ret->v = xcalloc(json_array_size(v) + 1, sizeof(*ret->v));
	json_array_foreach(v, i, s)
	{
		if (!json_is_string(s)) {
			size_t s2 = push(p, "[%zu]", i);

			r = fail(p, "expected a string");
			pop(p, s2);
			break;
		}
		ret->v[ret->n++] = xstrdup(json_string_value(s));
	}
	pop(p, saved);
	return r;
}

/* An index into the vertex's inputs ("from", "input"): an integer, or null for none. */
static int
get_input_index(struct parser *p, json_t *o, const char *key, size_t n_inputs, bool nullable,
                uint32_t *ret)
{
	json_t *v = json_object_get(o, key);
	size_t saved;
	json_int_t n;
	int r = 0;

	if (!v)
		return 0;
	saved = push(p, ".%s", key);
	if (json_is_null(v) && nullable)
		*ret = GRAPH_NO_INPUT;
	else if (!json_is_integer(v))
		r = fail(p, "expected the index of one of the vertex's inputs");
	else if (json_integer_value(v) < 0 || (size_t)json_integer_value(v) >= n_inputs)
		r = fail(p, "%lld is not the index of one of the vertex's %zu inputs",
		         (long long)json_integer_value(v), n_inputs);
	else if ((n = json_integer_value(v)) >= 0)
		*ret = (uint32_t)n;
	pop(p, saved);
	return r;
}

static int
get_enum(struct parser *p, json_t *o, const char *key, const char *(*name)(int), int max,
         const char *expected, int *ret)
{
	json_t *v = json_object_get(o, key);
	size_t saved;

	if (!v)
		return 0;
	saved = push(p, ".%s", key);
	if (json_is_string(v)) {
		for (int k = 0; k < max; k++) {
			if (!strcmp(json_string_value(v), name(k))) {
				*ret = k;
				pop(p, saved);
				return 0;
			}
		}
	}
	{
		int r = fail(p, "expected %s", expected);

		pop(p, saved);
		return r;
	}
}

/* Each enum's name function, with an int argument for get_enum. */
static const char *
source_name(int k)
{
	return graph_source_name((enum graph_source_kind)k);
}
static const char *
action_name(int k)
{
	return graph_action_name((enum graph_file_action_kind)k);
}
static const char *
mount_name(int k)
{
	return graph_mount_name((enum graph_mount_kind)k);
}
static const char *
sharing_name(int k)
{
	return graph_sharing_name((enum graph_cache_sharing)k);
}
static const char *
network_name(int k)
{
	return graph_network_name((enum graph_network)k);
}
static const char *
security_name(int k)
{
	return graph_security_name((enum graph_security)k);
}

/* Sources. */

static int
parse_source(struct parser *p, json_t *o, struct graph_source *s)
{
	static const char *const scratch[] = {"type", NULL};
	static const char *const local[] = {"type",    "name",        "include",
	                                    "exclude", "followpaths", NULL};
	static const char *const git[] = {"type", "ref", "keep_git_dir", NULL};
	static const char *const image[] = {"type", "ref", "platform", NULL};
	static const char *const http[] = {"type", "url", "checksum", "filename",
	                                   "mode", "uid", "gid",      NULL};
	static const char *const *const allowed[] = {scratch, local, git, image, http};
	int kind = -1, r;
	bool has_mode = false;

	r = want_object(p, o);
	if (r >= 0 && !json_object_get(o, "type"))
		r = fail(p, "missing field 'type'");
	if (r >= 0)
		r = get_enum(p, o, "type", source_name, _GRAPH_SOURCE_MAX,
		             "scratch, local, git, image or http", &kind);
	if (r < 0)
		return r;
	s->kind = (enum graph_source_kind)kind;
	r = check_keys(p, o, allowed[kind]);
	if (r < 0)
		return r;
	switch (s->kind) {
	case GRAPH_SOURCE_LOCAL:
		r = get_string(p, o, "name", true, &s->name);
		if (r >= 0)
			r = get_strv(p, o, "include", &s->include);
		if (r >= 0)
			r = get_strv(p, o, "exclude", &s->exclude);
		if (r >= 0)
			r = get_strv(p, o, "followpaths", &s->followpaths);
		break;
	case GRAPH_SOURCE_GIT:
		r = get_string(p, o, "ref", true, &s->ref);
		if (r >= 0)
			r = get_bool(p, o, "keep_git_dir", &s->keep_git_dir);
		break;
	case GRAPH_SOURCE_IMAGE:
		r = get_string(p, o, "ref", true, &s->ref);
		if (r >= 0)
			r = get_string(p, o, "platform", false, &s->platform);
		break;
	case GRAPH_SOURCE_HTTP:
		r = get_string(p, o, "url", true, &s->ref);
		if (r >= 0)
			r = get_string(p, o, "checksum", false, &s->checksum);
		if (r >= 0)
			r = get_string(p, o, "filename", false, &s->filename);
		if (r >= 0)
			r = get_mode(p, o, "mode", &has_mode, &s->mode);
		if (r >= 0)
			r = get_u32(p, o, "uid", &s->uid);
		if (r >= 0)
			r = get_u32(p, o, "gid", &s->gid);
		break;
	default:
		break;
	}
	return r;
}

/* File actions. */

static int
parse_owner(struct parser *p, json_t *o, struct graph_owner *ret)
{
	static const char *const allowed[] = {"user", "group", NULL};
	json_t *v = json_object_get(o, "owner");
	size_t saved;
	int r;

	if (!v)
		return 0;
	saved = push(p, ".owner");
	r = want_object(p, v);
	if (r >= 0)
		r = check_keys(p, v, allowed);
	if (r >= 0)
		r = get_string(p, v, "user", true, &ret->user);
	if (r >= 0)
		r = get_string(p, v, "group", false, &ret->group);
	pop(p, saved);
	return r;
}

static int
parse_data(struct parser *p, json_t *o, struct graph_file_action *a)
{
	json_t *text = json_object_get(o, "data"), *b64 = json_object_get(o, "data_base64");
	size_t saved, n;
	int r = 0;

	if (text && b64)
		return fail(p, "'data' and 'data_base64' exclude each other");
	if (text) {
		saved = push(p, ".data");
		if (!json_is_string(text))
			r = fail(p, "expected a string");
		else if (json_string_length(text))
			a->data = xmemdup(json_string_value(text),
			                  a->data_len = json_string_length(text));
		pop(p, saved);
	} else if (b64) {
		saved = push(p, ".data_base64");
		if (!json_is_string(b64)) {
			r = fail(p, "expected a base64 string");
		} else if (json_string_length(b64)) {
			a->data = xmalloc(KL_BASE64_DECODED_MAX(json_string_length(b64)));
			if (kl_base64_decode(json_string_value(b64), json_string_length(b64),
			                     (uint8_t *)a->data, &n) < 0)
				r = fail(p, "not base64");
			a->data_len = r < 0 ? 0 : n;
		}
		pop(p, saved);
	}
	return r;
}

static int
parse_action(struct parser *p, json_t *o, size_t n_inputs, struct graph_file_action *a)
{
	static const char *const copy[] = {"action",
	                                   "from",
	                                   "src",
	                                   "dest",
	                                   "cwd",
	                                   "mode",
	                                   "owner",
	                                   "timestamp",
	                                   "follow_symlinks",
	                                   "dir_contents",
	                                   "create_parents",
	                                   "allow_wildcard",
	                                   "allow_empty_wildcard",
	                                   "unpack",
	                                   "include",
	                                   "exclude",
	                                   NULL};
	static const char *const mkdir_[] = {"action",    "path",           "cwd", "mode", "owner",
	                                     "timestamp", "create_parents", NULL};
	static const char *const mkfile[] = {"action", "path",  "cwd",       "data", "data_base64",
	                                     "mode",   "owner", "timestamp", NULL};
	static const char *const rm[] = {"action",          "path",           "cwd",
	                                 "allow_not_found", "allow_wildcard", NULL};
	static const char *const symlink_[] = {"action", "path",      "target", "cwd",
	                                       "owner",  "timestamp", NULL};
	static const char *const *const allowed[] = {copy, mkdir_, mkfile, rm, symlink_};
	int kind = -1, r;
	json_int_t ts = 0;

	r = want_object(p, o);
	if (r >= 0 && !json_object_get(o, "action"))
		r = fail(p, "missing field 'action'");
	if (r >= 0)
		r = get_enum(p, o, "action", action_name, _GRAPH_FILE_ACTION_MAX,
		             "copy, mkdir, mkfile, rm or symlink", &kind);
	if (r >= 0)
		r = check_keys(p, o, allowed[kind]);
	if (r < 0)
		return r;
	a->kind = (enum graph_file_action_kind)kind;
	if (a->kind == GRAPH_FILE_COPY) {
		if (!json_object_get(o, "from"))
			return fail(p, "missing field 'from'");
		r = get_input_index(p, o, "from", n_inputs, false, &a->from);
		if (r >= 0)
			r = get_string(p, o, "src", true, &a->src);
		if (r >= 0)
			r = get_string(p, o, "dest", true, &a->dest);
	} else {
		r = get_string(p, o, "path", true, &a->src);
	}
	if (r >= 0)
		r = get_string(p, o, "cwd", false, &a->cwd);
	if (r >= 0 && a->kind == GRAPH_FILE_SYMLINK)
		r = get_string(p, o, "target", true, &a->target);
	if (r >= 0)
		r = parse_data(p, o, a);
	if (r >= 0)
		r = get_mode(p, o, "mode", &a->has_mode, &a->mode);
	if (r >= 0)
		r = parse_owner(p, o, &a->owner);
	if (r >= 0 && json_object_get(o, "timestamp")) {
		r = get_int(p, o, "timestamp", INT64_MIN, INT64_MAX, &ts);
		a->has_timestamp = true;
		a->timestamp = ts;
	}
	if (r >= 0)
		r = get_bool(p, o, "follow_symlinks", &a->follow_symlinks);
	if (r >= 0)
		r = get_bool(p, o, "dir_contents", &a->dir_contents);
	if (r >= 0)
		r = get_bool(p, o, "create_parents", &a->create_parents);
	if (r >= 0)
		r = get_bool(p, o, "allow_wildcard", &a->allow_wildcard);
	if (r >= 0)
		r = get_bool(p, o, "allow_empty_wildcard", &a->allow_empty_wildcard);
	if (r >= 0)
		r = get_bool(p, o, "allow_not_found", &a->allow_not_found);
	if (r >= 0)
		r = get_bool(p, o, "unpack", &a->unpack);
	if (r >= 0)
		r = get_strv(p, o, "include", &a->include);
	if (r >= 0)
		r = get_strv(p, o, "exclude", &a->exclude);
	return r;
}

static int
parse_file(struct parser *p, json_t *o, size_t n_inputs, struct graph_file *f)
{
	static const char *const allowed[] = {"actions", NULL};
	json_t *actions, *a;
	size_t saved, i;
	int r;

	r = want_object(p, o);
	if (r >= 0)
		r = check_keys(p, o, allowed);
	if (r < 0)
		return r;
	actions = json_object_get(o, "actions");
	saved = push(p, ".actions");
	if (!json_is_array(actions) || !json_array_size(actions)) {
		r = fail(p, actions ? "expected a non-empty array" : "missing");
		pop(p, saved);
		return r;
	}
	f->actions = xcalloc(json_array_size(actions), sizeof(*f->actions));
	json_array_foreach(actions, i, a)
	{
		size_t s2 = push(p, "[%zu]", i);

		f->n_actions++;
		r = parse_action(p, a, n_inputs, &f->actions[i]);
		pop(p, s2);
		if (r < 0)
			break;
	}
	pop(p, saved);
	return r;
}

/* Exec. */

static int
parse_mount(struct parser *p, json_t *o, size_t n_inputs, struct graph_mount *m)
{
	static const char *const bind[] = {"type", "target", "input", "source", "readonly", NULL};
	static const char *const cache[] = {"type",     "target", "input",   "source",
	                                    "readonly", "id",     "sharing", "mode",
	                                    "uid",      "gid",    NULL};
	static const char *const tmpfs[] = {"type", "target", "size", NULL};
	static const char *const secret[] = {"type", "target", "id",  "env", "required",
	                                     "mode", "uid",    "gid", NULL};
	static const char *const ssh[] = {"type", "target", "id",  "required",
	                                  "mode", "uid",    "gid", NULL};
	static const char *const *const allowed[] = {bind, cache, tmpfs, secret, ssh};
	int kind = -1, sharing = GRAPH_CACHE_SHARED, r;
	json_int_t size = 0;

	r = want_object(p, o);
	if (r >= 0 && !json_object_get(o, "type"))
		r = fail(p, "missing field 'type'");
	if (r >= 0)
		r = get_enum(p, o, "type", mount_name, _GRAPH_MOUNT_MAX,
		             "bind, cache, tmpfs, secret or ssh", &kind);
	if (r >= 0)
		r = check_keys(p, o, allowed[kind]);
	if (r < 0)
		return r;
	m->kind = (enum graph_mount_kind)kind;
	m->input = GRAPH_NO_INPUT;
	r = get_string(p, o, "target", m->kind != GRAPH_MOUNT_SECRET && m->kind != GRAPH_MOUNT_SSH,
	               &m->target);
	if (r >= 0 && m->target && m->target[0] != '/') {
		size_t saved = push(p, ".target");

		r = fail(p, "'%s' is not an absolute path", m->target);
		pop(p, saved);
	}
	if (r >= 0 && m->kind == GRAPH_MOUNT_BIND && !json_object_get(o, "input"))
		r = fail(p, "missing field 'input' (the input mounted; null for an empty tree)");
	if (r >= 0)
		r = get_input_index(p, o, "input", n_inputs, true, &m->input);
	if (r >= 0)
		r = get_string(p, o, "source", false, &m->source);
	if (r >= 0)
		r = get_bool(p, o, "readonly", &m->readonly);
	if (r >= 0)
		r = get_string(p, o, "id", m->kind == GRAPH_MOUNT_SECRET, &m->id);
	if (r >= 0)
		r = get_enum(p, o, "sharing", sharing_name, _GRAPH_CACHE_SHARING_MAX,
		             "shared, private or locked", &sharing);
	m->sharing = (enum graph_cache_sharing)sharing;
	if (r >= 0)
		r = get_mode(p, o, "mode", &m->has_mode, &m->mode);
	if (r >= 0)
		r = get_u32(p, o, "uid", &m->uid);
	if (r >= 0)
		r = get_u32(p, o, "gid", &m->gid);
	if (r >= 0)
		r = get_int(p, o, "size", 0, INT64_MAX, &size);
	m->size = (uint64_t)size;
	if (r >= 0)
		r = get_string(p, o, "env", false, &m->env);
	if (r >= 0)
		r = get_bool(p, o, "required", &m->required);
	return r;
}

static int
parse_exec(struct parser *p, json_t *o, size_t n_inputs, struct graph_exec *e)
{
	static const char *const allowed[] = {"args",     "env",      "proxy_env",   "cwd",
	                                      "user",     "hostname", "extra_hosts", "network",
	                                      "security", "mounts",   NULL};
	int network = GRAPH_NET_HOST, security = GRAPH_SECURITY_SANDBOX, r;
	json_t *mounts, *m;
	size_t i;

	r = want_object(p, o);
	if (r >= 0)
		r = check_keys(p, o, allowed);
	if (r >= 0 && !json_object_get(o, "args"))
		r = fail(p, "missing field 'args'");
	if (r >= 0)
		r = get_strv(p, o, "args", &e->args);
	if (r >= 0 && (!e->args.n || !*e->args.v[0])) {
		size_t saved = push(p, ".args");

		r = fail(p, "expected a command (a non-empty first string)");
		pop(p, saved);
	}
	if (r >= 0)
		r = get_strv(p, o, "env", &e->env);
	if (r >= 0)
		r = get_strv(p, o, "proxy_env", &e->proxy_env);
	if (r >= 0)
		r = get_string(p, o, "cwd", false, &e->cwd);
	if (r >= 0)
		r = get_string(p, o, "user", false, &e->user);
	if (r >= 0)
		r = get_string(p, o, "hostname", false, &e->hostname);
	if (r >= 0)
		r = get_strv(p, o, "extra_hosts", &e->extra_hosts);
	if (r >= 0)
		r = get_enum(p, o, "network", network_name, _GRAPH_NET_MAX, "host or none",
		             &network);
	if (r >= 0)
		r = get_enum(p, o, "security", security_name, _GRAPH_SECURITY_MAX,
		             "sandbox or insecure", &security);
	e->network = (enum graph_network)network;
	e->security = (enum graph_security)security;
	mounts = json_object_get(o, "mounts");
	if (r < 0 || !mounts)
		return r;
	{
		size_t saved = push(p, ".mounts");

		if (!json_is_array(mounts)) {
			r = fail(p, "expected an array");
			pop(p, saved);
			return r;
		}
		e->mounts = xcalloc(json_array_size(mounts) + 1, sizeof(*e->mounts));
		json_array_foreach(mounts, i, m)
		{
			size_t s2 = push(p, "[%zu]", i);

			e->n_mounts++;
			r = parse_mount(p, m, n_inputs, &e->mounts[i]);
			pop(p, s2);
			if (r < 0)
				break;
		}
		pop(p, saved);
	}
	return r;
}

/* Vertices. */

static int
parse_inputs(struct parser *p, json_t *o, struct graph_vertex *v)
{
	json_t *a = json_object_get(o, "inputs"), *in;
	size_t saved, i;
	int r = 0;

	if (!a)
		return 0;
	saved = push(p, ".inputs");
	if (!json_is_array(a))
		r = fail(p, "expected an array of vertex ids");
	else if (json_array_size(a) > GRAPH_MAX_INPUTS)
		r = fail(p, "%zu inputs is more than %u", json_array_size(a), GRAPH_MAX_INPUTS);
	if (r < 0) {
		pop(p, saved);
		return r;
	}
	v->inputs = xcalloc(json_array_size(a) + 1, sizeof(*v->inputs));
	json_array_foreach(a, i, in)
	{
		size_t s2 = push(p, "[%zu]", i);
		uint32_t idx;

		if (json_is_null(in))
			v->inputs[i] = GRAPH_NO_INPUT;
		else if (!json_is_string(in))
			r = fail(p, "expected a vertex id or null");
		else if (graph_find(p->g, json_string_value(in), &idx) < 0)
			r = fail(p, "'%s' is not the id of an earlier vertex",
			         json_string_value(in));
		else
			v->inputs[i] = idx;
		pop(p, s2);
		if (r < 0)
			break;
		v->n_inputs++;
	}
	pop(p, saved);
	return r;
}

static int
parse_vertex(struct parser *p, json_t *o, struct graph_vertex *v)
{
	static const char *const allowed[] = {"id",   "name", "ignore_cache", "inputs", "source",
	                                      "file", "exec", "merge",        "diff",   NULL};
	const char *op_key = NULL;
	size_t saved;
	json_t *op;
	int r;

	r = want_object(p, o);
	if (r >= 0)
		r = check_keys(p, o, allowed);
	if (r >= 0)
		r = get_string(p, o, "id", true, &v->id);
	if (r >= 0 && graph_find(p->g, v->id, &(uint32_t){0}) == 0) {
		saved = push(p, ".id");
		r = fail(p, "'%s' is the id of an earlier vertex", v->id);
		pop(p, saved);
	}
	if (r >= 0)
		r = get_string(p, o, "name", false, &v->name);
	if (r >= 0)
		r = get_bool(p, o, "ignore_cache", &v->ignore_cache);
	if (r >= 0)
		r = parse_inputs(p, o, v);
	if (r < 0)
		return r;
	for (int k = 0; k < _GRAPH_OP_MAX; k++) {
		if (!json_object_get(o, graph_op_name((enum graph_op_kind)k)))
			continue;
		if (op_key)
			return fail(p, "'%s' and '%s' exclude each other: one op a vertex", op_key,
			            graph_op_name((enum graph_op_kind)k));
		op_key = graph_op_name((enum graph_op_kind)k);
		v->kind = (enum graph_op_kind)k;
	}
	if (!op_key)
		return fail(p, "missing the op: one of 'source', 'file', 'exec', 'merge', 'diff'");
	op = json_object_get(o, op_key);
	saved = push(p, ".%s", op_key);
	switch (v->kind) {
	case GRAPH_OP_SOURCE:
		r = parse_source(p, op, &v->source);
		if (r >= 0 && v->n_inputs)
			r = fail(p, "a source takes no inputs");
		break;
	case GRAPH_OP_FILE:
		r = parse_file(p, op, v->n_inputs, &v->file);
		break;
	case GRAPH_OP_EXEC:
		r = parse_exec(p, op, v->n_inputs, &v->exec);
		break;
	default: /* merge, diff: an empty object */
		r = want_object(p, op);
		if (r >= 0)
			r = check_keys(p, op, (const char *const[]){NULL});
		if (r >= 0 && v->kind == GRAPH_OP_MERGE && !v->n_inputs)
			r = fail(p, "a merge needs at least one input");
		if (r >= 0 && v->kind == GRAPH_OP_DIFF && v->n_inputs != 2)
			r = fail(p, "a diff takes two inputs (lower, upper), not %zu", v->n_inputs);
		break;
	}
	pop(p, saved);
	return r;
}

static int
parse_top(struct parser *p, json_t *root, uint32_t *ret_result)
{
	static const char *const allowed[] = {"version", "vertices", "result", NULL};
	json_t *vs, *o;
	json_int_t version = 0;
	char *result = NULL;
	size_t i;
	int r;

	r = want_object(p, root);
	if (r >= 0)
		r = check_keys(p, root, allowed);
	if (r >= 0 && !json_object_get(root, "version"))
		r = fail(p, "missing field 'version' (this kiln reads version %d)", GRAPH_VERSION);
	if (r >= 0)
		r = get_int(p, root, "version", INT_MIN, INT_MAX, &version);
	if (r >= 0 && version != GRAPH_VERSION) {
		size_t saved = push(p, "version");

		r = fail(p, "version %lld is not known to this kiln, which reads version %d",
		         (long long)version, GRAPH_VERSION);
		pop(p, saved);
	}
	if (r < 0)
		return r;
	vs = json_object_get(root, "vertices");
	if (!json_is_array(vs) || !json_array_size(vs)) {
		size_t saved = push(p, "vertices");

		r = fail(p, vs ? "expected a non-empty array" : "missing");
		pop(p, saved);
		return r;
	}
	if (json_array_size(vs) > GRAPH_MAX_VERTICES)
		return fail(p, "%zu vertices is more than %u", json_array_size(vs),
		            GRAPH_MAX_VERTICES);
	json_array_foreach(vs, i, o)
	{
		struct graph_vertex v = {0};
		size_t saved = push(p, "vertices[%zu]", i);

		r = parse_vertex(p, o, &v);
		if (r >= 0) {
			r = graph_add(p->g, &v, p->err);
			if (r < 0)
				kl_error_prefix(p->err, "%s: %s", p->origin, p->path);
		}
		graph_vertex_done(&v);
		pop(p, saved);
		if (r < 0)
			return r;
	}
	r = get_string(p, root, "result", true, &result);
	if (r >= 0 && graph_find(p->g, result, ret_result) < 0) {
		size_t saved = push(p, "result");

		r = fail(p, "'%s' is not the id of a vertex", result);
		pop(p, saved);
	}
	free(result);
	return r;
}

/* Messages quote ids and values, which may hold any character: one line stays one line. */
static void
one_line(struct kl_error **err)
{
	if (!err || !*err || !(*err)->msg)
		return;
	for (char *c = (*err)->msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

int
graph_parse(const char *json, size_t len, const char *origin, struct graph **ret,
            struct kl_error **err)
{
	_cleanup_(graph_freep) struct graph *g = NULL;
	struct parser p = {.origin = origin ? origin : "graph", .err = err};
	uint32_t result = 0;
	json_error_t je;
	json_t *root;
	int r;

	if (len > GRAPH_MAX_JSON)
		return kl_error_setf(err, EFBIG, "%s: %zu bytes is more than the limit of %u",
		                     p.origin, len, GRAPH_MAX_JSON);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		r = kl_error_setf(err, EINVAL, "%s:%d:%d: malformed JSON: %s", p.origin, je.line,
		                  je.column, je.text);
		one_line(err);
		return r;
	}
	g = graph_new();
	p.g = g;
	p.path = xgrow(NULL, &p.cap, 64, 1);
	p.path[0] = '\0';
	r = parse_top(&p, root, &result);
	json_decref(root);
	free(p.path);
	if (r >= 0)
		r = graph_finish(g, result, err);
	if (r < 0) {
		one_line(err);
		return r;
	}
	*ret = TAKE_PTR(g);
	return 0;
}
