/* fileop-fixture — a temporary store with providers, synthetic trees and one-action file ops,
 * shared by the file-op unit tests. */
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "solver/fileop.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/path.h"
#include "util/xalloc.h"
#include "tests/unit/test-helpers.h"

struct fx {
	char *dir;
	struct store *store;
	struct provider_set *ps;
	struct fileop_env env;
};

static inline int
fx_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	char *root;

	f->dir = test_tmpdir();
	root = kl_path_join(f->dir, "store");
	if (store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL) < 0)
		return -1;
	free(root);
	f->ps = provider_set_new(f->store);
	f->env = (struct fileop_env){.store = f->store, .providers = f->ps};
	*state = f;
	return 0;
}

static inline int
fx_teardown(void **state)
{
	struct fx *f = *state;

	provider_set_free(f->ps);
	store_unref(f->store);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* A synthetic tree being built: entries are added with these helpers, then fx_build. */
struct spec {
	struct fx *f;
	struct tree_builder *b;
};

static inline struct spec
fx_spec(struct fx *f)
{
	return (struct spec){f, tree_builder_new()};
}

static inline struct tree_entry
fx_entry(const char *path, enum tree_entry_type type, uint32_t mode)
{
	const char *slash = strrchr(path, '/');
	struct tree_entry e = {
	    .path = path,
	    .path_len = strlen(path),
	    .name = slash ? slash + 1 : path,
	    .type = type,
	    .mode = mode,
	    .mtime_sec = 1600000000,
	};

	e.name_len = strlen(e.name);
	return e;
}

static inline void
fx_add(struct spec *s, const struct tree_entry *e)
{
	struct kl_error *err = NULL;

	if (tree_builder_add(s->b, e, NULL, 0, &err) < 0)
		fail_msg("adding '%s': %s", e->path, err->msg);
}

/* A regular file whose content is in the store. */
static inline void
fx_file(struct spec *s, const char *path, const char *content, uint32_t mode)
{
	struct tree_entry e = fx_entry(path, TREE_REG, mode);

	assert_int_equal(
	    store_ingest_buffer(s->f->store, content, strlen(content), &e.digest, NULL), 0);
	e.flags = TREE_ENTRY_HAS_DIGEST;
	e.size = strlen(content);
	fx_add(s, &e);
}

static inline void
fx_dir(struct spec *s, const char *path, uint32_t mode)
{
	struct tree_entry e = fx_entry(path, TREE_DIR, mode);

	fx_add(s, &e);
}

static inline void
fx_link(struct spec *s, const char *path, enum tree_entry_type type, const char *target)
{
	struct tree_entry e = fx_entry(path, type, 0777);

	e.link = target;
	e.link_len = strlen(target);
	e.size = type == TREE_SYMLINK ? strlen(target) : 0;
	fx_add(s, &e);
}

static inline void
release_owned(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static inline struct tree *
fx_build(struct spec *s)
{
	struct kl_error *err = NULL;
	struct tree *t = NULL;
	char *buf;
	size_t len;

	if (tree_builder_serialize(s->b, &buf, &len, &err) < 0)
		fail_msg("serializing: %s", err->msg);
	tree_builder_free(s->b);
	s->b = NULL;
	if (tree_parse(buf, len, release_owned, &t, &err) < 0)
		fail_msg("parsing: %s", err->msg);
	return t;
}

/* Runs actions a[0..n) over base with inputs[0..n_in); the result tree, or NULL with *ret_err
 * set (when ret_err is non-NULL; otherwise a failure fails the test). */
static inline struct tree *
fx_run(struct fx *f, const struct tree *base, struct graph_file_action *a, size_t n,
       const struct tree *const *inputs, size_t n_in, struct kl_error **ret_err)
{
	struct graph_file op = {.actions = a, .n_actions = n};
	struct kl_error *err = NULL;
	struct tree *t = NULL;
	struct digest id;

	if (fileop_apply(&f->env, &op, base, inputs, n_in, &id, &err) < 0) {
		if (!ret_err)
			fail_msg("file op: %s", err->msg);
		*ret_err = err;
		return NULL;
	}
	if (tree_load(f->store, &id, &t, &err) < 0)
		fail_msg("loading the result: %s", err->msg);
	return t;
}

/* A copy action from input 0. */
static inline struct graph_file_action
fx_copy(const char *src, const char *dest)
{
	return (struct graph_file_action){
	    .kind = GRAPH_FILE_COPY,
	    .src = (char *)src,
	    .dest = (char *)dest,
	    .follow_symlinks = true,
	    .dir_contents = true,
	    .create_parents = true,
	    .allow_wildcard = true,
	};
}

/* Runs one action expected to fail with code and a message holding want. */
static inline void
fx_fails(struct fx *f, const struct tree *base, struct graph_file_action a,
         const struct tree *input, int code, const char *want)
{
	struct kl_error *err = NULL;
	const struct tree *in[] = {input};

	assert_null(fx_run(f, base, &a, 1, in, 1, &err));
	assert_non_null(err);
	if (err->code != code || !strstr(err->msg, want))
		fail_msg("got '%s' (%d), want %d with '%s'", err->msg, err->code, code, want);
	kl_error_free(err);
}

static inline bool
fx_lookup(const struct tree *t, const char *path, struct tree_entry *ret)
{
	uint32_t idx;

	if (tree_lookup(t, path, strlen(path), &idx) < 0)
		return false;
	if (ret)
		tree_entry_at(t, idx, ret);
	return true;
}

/* The entry at path, which must exist. */
static inline struct tree_entry
fx_get(const struct tree *t, const char *path)
{
	struct tree_entry e;

	if (!fx_lookup(t, path, &e))
		fail_msg("'%s' missing", path);
	return e;
}

/* The paths of t, space-separated, for whole-tree comparisons. */
static inline void
fx_assert_paths(const struct tree *t, const char *want)
{
	char *s = xstrdup("");

	for (uint32_t i = 1; i < tree_count(t); i++) {
		struct tree_entry e;
		char *n;

		tree_entry_at(t, i, &e);
		n = xasprintf("%s%s%s", s, *s ? " " : "", e.path);
		free(s);
		s = n;
	}
	if (strcmp(s, want))
		fail_msg("paths '%s', want '%s'", s, want);
	free(s);
}
