// SPDX-License-Identifier: Apache-2.0
/* Cache keys: the canonical definition of an op, its inputs' keys and the identity of the
 * content it depends on, hashed as one canonical JSON text. */
#include "solver/cachekey.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree.h"
#include "solver/fileop.h"
#include "solver/graph-internal.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/xalloc.h"

/* The content key's input, built in one buffer and hashed at once: a tree of thousands of
 * entries is one digest update, not a dozen per entry. Fields are framed by their length, so
 * no two different entries give the same bytes. */
struct framer {
	char *buf;
	size_t len, cap;
};

static void
put_bytes(struct framer *f, const void *p, size_t n)
{
	uint64_t len = n;

	f->buf = xgrow(f->buf, &f->cap, f->len + sizeof(len) + n, 1);
	memcpy(f->buf + f->len, &len, sizeof(len));
	if (n)
		memcpy(f->buf + f->len + sizeof(len), p, n);
	f->len += sizeof(len) + n;
}

static void
put_u64(struct framer *f, uint64_t v)
{
	f->buf = xgrow(f->buf, &f->cap, f->len + sizeof(v), 1);
	memcpy(f->buf + f->len, &v, sizeof(v));
	f->len += sizeof(v);
}

int
cachekey_tree_content(const struct tree *t, struct digest *ret, struct kl_error **err)
{
	struct framer f = {0};
	uint32_t n = tree_count(t);

	f.buf = xgrow(NULL, &f.cap, (size_t)n * 96 + 64, 1);
	put_bytes(&f, "kiln tree content v1", 20);
	for (uint32_t i = 0; i < n; i++) {
		struct tree_entry e;

		tree_entry_at(t, i, &e);
		if (e.type == TREE_REG && e.size && !(e.flags & TREE_ENTRY_HAS_DIGEST)) {
			free(f.buf);
			return kl_error_setf(err, EINVAL, "'%s' has no content digest", e.path);
		}
		put_bytes(&f, e.path, e.path_len);
		put_u64(&f, e.type);
		put_u64(&f, e.mode);
		put_u64(&f, e.uid);
		put_u64(&f, e.gid);
		put_u64(&f, e.rdev);
		put_bytes(&f, e.link ? e.link : "", e.link ? e.link_len : 0);
		if (e.type == TREE_REG)
			put_bytes(&f, e.flags & TREE_ENTRY_HAS_DIGEST ? e.digest.bytes : NULL,
			          e.flags & TREE_ENTRY_HAS_DIGEST ? DIGEST_SIZE : 0);
		put_u64(&f, e.n_xattrs);
		for (uint32_t k = 0; k < e.n_xattrs; k++) {
			struct tree_xattr x;

			tree_entry_xattr(t, &e, k, &x);
			put_bytes(&f, x.name, x.name_len);
			put_bytes(&f, x.value, x.value_len);
		}
	}
	digest_buffer(f.buf, f.len, ret);
	free(f.buf);
	return 0;
}

/* The key of (t, what) from the memo, or computed by fn and told to the memo. */
static int
memoized(const struct cachekey_ctx *c, const struct tree *t, const struct digest *what,
         int (*fn)(const void *arg, const struct tree *t, struct digest *ret,
                   struct kl_error **err),
         const void *arg, struct digest *ret, struct kl_error **err)
{
	int r;

	if (c->memo && c->memo->get(c->memo->userdata, tree_id(t), what, ret) == 0)
		return 0;
	r = fn(arg, t, ret, err);
	if (r >= 0 && c->memo)
		c->memo->put(c->memo->userdata, tree_id(t), what, ret);
	return r;
}

static int
content_fn(const void *arg, const struct tree *t, struct digest *ret, struct kl_error **err)
{
	(void)arg;
	return cachekey_tree_content(t, ret, err);
}

static int
selection_fn(const void *arg, const struct tree *t, struct digest *ret, struct kl_error **err)
{
	return fileop_selection_key(arg, t, ret, err);
}

/* What names a copy's selection in the memo: the action's canonical form. */
static void
selection_what(const struct graph_file_action *a, struct digest *ret)
{
	json_t *o = graph_emit_action(a, GRAPH_EMIT_CANONICAL);
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	struct digest_ctx *d = digest_ctx_new();

	if (!o || !text)
		abort();
	digest_ctx_update(d, "kiln selection key 1", 21);
	digest_ctx_update(d, text, strlen(text));
	digest_ctx_final(d, ret);
	digest_ctx_free(d);
	free(text);
	json_decref(o);
}

static bool
is_local(const struct graph *g, uint32_t idx)
{
	const struct graph_vertex *v = graph_vertex(g, idx);

	return v->kind == GRAPH_OP_SOURCE && v->source.kind == GRAPH_SOURCE_LOCAL;
}

static json_t *
digest_json(const struct digest *d)
{
	char s[DIGEST_STRING_SIZE];

	return json_string(digest_to_string(d, s));
}

/* A file op's input slot is keyed by content when it holds a local source that only copies
 * read (the base, slot 0, is a whole tree the op works on). */
static bool
slot_by_content(const struct cachekey_ctx *c, const struct graph_vertex *v, size_t slot)
{
	return v->kind == GRAPH_OP_FILE && slot > 0 && v->inputs[slot] != GRAPH_NO_INPUT &&
	       is_local(c->g, v->inputs[slot]) && c->local_trees[v->inputs[slot]];
}

static int
file_content(const struct cachekey_ctx *c, const struct graph_vertex *v, json_t *content,
             struct kl_error **err)
{
	for (size_t i = 0; i < v->file.n_actions; i++) {
		const struct graph_file_action *a = &v->file.actions[i];
		struct digest sel;
		int r;

		if (a->kind != GRAPH_FILE_COPY || !slot_by_content(c, v, a->from)) {
			json_array_append_new(content, json_null());
			continue;
		}
		{
			struct digest what;

			selection_what(a, &what);
			r = memoized(c, c->local_trees[v->inputs[a->from]], &what, selection_fn, a,
			             &sel, err);
		}
		if (r < 0)
			return r;
		json_array_append_new(content, digest_json(&sel));
	}
	return 0;
}

static int
source_content(const struct cachekey_ctx *c, uint32_t idx, const struct graph_vertex *v,
               const char *resolved, json_t *content, struct kl_error **err)
{
	struct digest d;
	int r;

	switch (v->source.kind) {
	case GRAPH_SOURCE_LOCAL:
		if (!c->local_trees || !c->local_trees[idx])
			return kl_error_setf(err, EINVAL,
			                     "vertex '%s': the local source is not scanned", v->id);
		{
			struct digest what;

			digest_buffer("kiln content key 1", 18, &what);
			r = memoized(c, c->local_trees[idx], &what, content_fn, NULL, &d, err);
		}
		if (r < 0) {
			kl_error_prefix(err, "vertex '%s'", v->id);
			return r;
		}
		json_array_append_new(content, digest_json(&d));
		return 0;
	case GRAPH_SOURCE_GIT:
	case GRAPH_SOURCE_IMAGE:
		if (!resolved)
			return kl_error_setf(err, EINVAL,
			                     "vertex '%s': the %s source is not resolved", v->id,
			                     graph_source_name(v->source.kind));
		json_array_append_new(content, json_string(resolved));
		return 0;
	case GRAPH_SOURCE_HTTP:
		if (v->source.checksum)
			return 0;
		if (!resolved)
			return kl_error_setf(err, EINVAL, "vertex '%s': the download has no digest",
			                     v->id);
		json_array_append_new(content, json_string(resolved));
		return 0;
	default:
		return 0;
	}
}

int
cachekey_vertex(const struct cachekey_ctx *c, uint32_t idx, const char *content, struct digest *ret,
                struct kl_error **err)
{
	const struct graph_vertex *v = graph_vertex(c->g, idx);
	json_t *o = json_object(), *inputs = json_array(), *cont = json_array();
	char *text;
	int r = 0;

	json_object_set_new(o, "v", json_integer(CACHEKEY_VERSION));
	json_object_set_new(o, graph_op_name(v->kind),
	                    graph_emit_op(v, GRAPH_EMIT_CANONICAL | GRAPH_EMIT_NO_PROXY));
	for (size_t i = 0; i < v->n_inputs; i++) {
		if (v->inputs[i] == GRAPH_NO_INPUT)
			json_array_append_new(inputs, json_null());
		else if (slot_by_content(c, v, i))
			json_array_append_new(inputs, json_string("content"));
		else
			json_array_append_new(inputs, digest_json(&c->keys[v->inputs[i]]));
	}
	json_object_set_new(o, "inputs", inputs);
	if (v->kind == GRAPH_OP_SOURCE)
		r = source_content(c, idx, v, content, cont, err);
	else if (v->kind == GRAPH_OP_FILE)
		r = file_content(c, v, cont, err);
	json_object_set_new(o, "content", cont);
	if (r < 0) {
		json_decref(o);
		return r;
	}
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		abort();
	digest_buffer(text, strlen(text), ret);
	free(text);
	return 0;
}
