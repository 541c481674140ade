// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/tree-apply: the streaming merge gives the same bytes as a merge that adds
 * every entry to a builder, hardlinks whose targets go are rewritten wherever they sit, and a
 * small diff over a large tree is cheap (timed against the entry-by-entry merge). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "util/error.h"
#include "util/xalloc.h"

static void
release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static struct tree *
build(struct tree_builder *b)
{
	struct kl_error *err = NULL;
	struct tree *t = NULL;
	char *buf;
	size_t len;

	if (tree_builder_serialize(b, &buf, &len, &err) < 0)
		fail_msg("serializing: %s", err->msg);
	tree_builder_free(b);
	if (tree_parse(buf, len, release, &t, &err) < 0)
		fail_msg("parsing: %s", err->msg);
	return t;
}

static int
apply(const struct tree *base, const struct tree *diff, struct tree **ret)
{
	struct tree_writer *w = NULL;
	int r;

	r = tree_apply(base, diff, &w, NULL);
	if (r >= 0)
		r = tree_writer_finish_tree(w, ret, NULL);
	tree_writer_free(w);
	return r;
}

/* The reference: every result entry added to a builder, as tree_apply did before it streamed.
 * Same rules, no shortcuts. */

#define FATE_KEEP TREE_NONE
#define FATE_REMOVED (TREE_NONE - 1)

struct ref {
	const struct tree *base, *diff;
	uint32_t *fate;
	uint32_t *promoted;
	struct tree_builder *b;
};

static int
cmp_at(const struct tree *a, uint32_t i, const struct tree *b, uint32_t j)
{
	struct tree_entry x, y;

	if (i >= tree_count(a))
		return 1;
	if (j >= tree_count(b))
		return -1;
	tree_entry_at(a, i, &x);
	tree_entry_at(b, j, &y);
	return tree_path_compare(x.path, x.path_len, y.path, y.path_len);
}

static int
ref_add(struct ref *r, const struct tree *t, const struct tree_entry *e)
{
	struct tree_xattr x[8];

	assert_true(e->n_xattrs <= 8);
	for (uint32_t k = 0; k < e->n_xattrs; k++)
		tree_entry_xattr(t, e, k, &x[k]);
	return tree_builder_add(r->b, e, x, e->n_xattrs, NULL);
}

static int
ref_promote(struct ref *r, struct tree_entry *e, uint32_t target)
{
	struct tree_entry te;

	if (r->promoted[target] != TREE_NONE) {
		tree_entry_at(r->base, r->promoted[target], &te);
		e->link = te.path;
		e->link_len = te.path_len;
		return ref_add(r, r->base, e);
	}
	r->promoted[target] = e->index;
	tree_entry_at(r->base, target, &te);
	te.path = e->path;
	te.path_len = e->path_len;
	te.name = e->name;
	te.name_len = e->name_len;
	return ref_add(r, r->base, &te);
}

static int
ref_add_base(struct ref *r, uint32_t i)
{
	uint32_t target = tree_resolve_hardlink(r->base, i);
	struct tree_entry e, de;

	tree_entry_at(r->base, i, &e);
	e.flags &= ~(uint32_t)TREE_ENTRY_IMPLICIT;
	if (target == i || r->fate[target] == FATE_KEEP)
		return ref_add(r, r->base, &e);
	if (r->fate[target] == FATE_REMOVED)
		return ref_promote(r, &e, target);
	tree_entry_at(r->diff, r->fate[target], &de);
	if (de.type == TREE_REG)
		return ref_add(r, r->base, &e);
	if (de.type == TREE_HARDLINK) {
		e.link = de.link;
		e.link_len = de.link_len;
		return ref_add(r, r->base, &e);
	}
	return ref_promote(r, &e, target);
}

static int
reference_apply(const struct tree *base, const struct tree *diff, struct tree **ret)
{
	uint32_t bn = tree_count(base), dn = tree_count(diff), i = 0, j = 0, *out;
	struct ref r = {.base = base, .diff = diff, .b = tree_builder_new()};
	size_t n_out = 0;
	int rc = 0;

	r.fate = xmalloc(bn * sizeof(*r.fate));
	r.promoted = xmalloc(bn * sizeof(*r.promoted));
	memset(r.fate, 0xff, bn * sizeof(*r.fate));
	memset(r.promoted, 0xff, bn * sizeof(*r.promoted));
	out = xmalloc(((size_t)bn + dn) * sizeof(*out));
	while (i < bn || j < dn) {
		int c = cmp_at(base, i, diff, j);
		struct tree_entry be, de;
		uint32_t end;

		if (c < 0) {
			out[n_out++] = i++;
			continue;
		}
		tree_entry_at(diff, j, &de);
		if (c > 0) {
			if (de.type != TREE_WHITEOUT)
				out[n_out++] = j | (1u << 31);
			j++;
			continue;
		}
		tree_entry_at(base, i, &be);
		end = tree_subtree_end(base, i);
		if (de.type == TREE_DIR && be.type == TREE_DIR &&
		    (de.flags & TREE_ENTRY_IMPLICIT)) {
			out[n_out++] = i;
		} else {
			if (de.type != TREE_WHITEOUT)
				out[n_out++] = j | (1u << 31);
			r.fate[i] = de.type == TREE_WHITEOUT ? FATE_REMOVED : j;
		}
		if (de.type == TREE_DIR && be.type == TREE_DIR && !(de.flags & TREE_ENTRY_OPAQUE))
			end = i + 1;
		for (uint32_t k = i + 1; k < end; k++)
			r.fate[k] = FATE_REMOVED;
		i = end;
		j++;
	}
	for (size_t k = 0; rc >= 0 && k < n_out; k++) {
		if (out[k] & (1u << 31)) {
			struct tree_entry e;

			tree_entry_at(diff, out[k] & ~(1u << 31), &e);
			e.flags &= ~(uint32_t)(TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT);
			rc = ref_add(&r, diff, &e);
		} else {
			rc = ref_add_base(&r, out[k]);
		}
	}
	free(out);
	free(r.fate);
	free(r.promoted);
	if (rc < 0) {
		tree_builder_free(r.b);
		return rc;
	}
	{
		char *buf;
		size_t len;

		rc = tree_builder_serialize(r.b, &buf, &len, NULL);
		tree_builder_free(r.b);
		if (rc < 0)
			return rc;
		return tree_parse(buf, len, release, ret, NULL);
	}
}

/* Random trees. */

struct rng {
	uint64_t s;
};

static uint32_t
rnd(struct rng *r, uint32_t n)
{
	r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(r->s >> 33) % n;
}

static struct tree_entry
mk(const char *path, enum tree_entry_type type)
{
	const char *slash = strrchr(path, '/');
	struct tree_entry e = {
	    .path = path,
	    .path_len = strlen(path),
	    .name = slash ? slash + 1 : path,
	    .type = type,
	    .mode = type == TREE_DIR ? 0755 : 0644,
	    .mtime_sec = 1000,
	};

	e.name_len = strlen(e.name);
	return e;
}

struct side {
	struct tree_builder *b;
	char *regs[256];
	size_t n_regs;
	bool is_diff;
};

enum kind { K_NONE, K_REG, K_DIR, K_SYMLINK, K_WHITEOUT, _K_MAX };

static void
gen_entry(struct rng *r, struct side *s, const char *path, enum kind k)
{
	static const enum tree_entry_type types[] = {TREE_REG, TREE_REG, TREE_DIR, TREE_SYMLINK,
	                                             TREE_WHITEOUT};
	struct tree_xattr x = {"user.x", 6, rnd(r, 2) ? "b" : "a", 1};
	struct tree_entry e = mk(path, types[k]);

	e.mode = rnd(r, 2) ? 0600 : e.mode;
	e.uid = rnd(r, 3);
	if (k == K_SYMLINK) {
		e.link = "t";
		e.link_len = 1;
	}
	if (k == K_DIR && s->is_diff)
		e.flags = (rnd(r, 3) == 0 ? TREE_ENTRY_OPAQUE : 0) |
		          (rnd(r, 3) == 0 ? TREE_ENTRY_IMPLICIT : 0);
	if (k == K_REG) {
		e.flags = TREE_ENTRY_HAS_DIGEST;
		e.digest.bytes[0] = (uint8_t)rnd(r, 256);
		if (s->n_regs < 256)
			s->regs[s->n_regs++] = xstrdup(path);
	}
	assert_int_equal(tree_builder_add(s->b, &e, &x, k != K_WHITEOUT && rnd(r, 3) == 0, NULL),
	                 0);
}

static void
gen(struct rng *r, struct side *base, struct side *diff, const char *dir, int depth)
{
	static const char *names[] = {"a", "b", "c", "d.e"};

	for (size_t i = 0; i < 4; i++) {
		char *path = *dir ? xasprintf("%s/%s", dir, names[i]) : xstrdup(names[i]);
		enum kind bk = base ? (enum kind)rnd(r, depth < 3 ? K_WHITEOUT : K_DIR) : K_NONE;
		enum kind dk = diff ? (enum kind)rnd(r, depth < 3 ? _K_MAX : K_DIR) : K_NONE;

		if (diff && rnd(r, 3) == 0)
			dk = K_NONE; /* the diff leaves most of base alone */
		if (depth == 0 && i == 0 && base)
			bk = K_DIR; /* for the deep links */
		if (bk != K_NONE)
			gen_entry(r, base, path, bk);
		if (dk != K_NONE)
			gen_entry(r, diff, path, dk);
		if (bk == K_DIR || dk == K_DIR)
			gen(r, bk == K_DIR ? base : NULL, dk == K_DIR ? diff : NULL, path,
			    depth + 1);
		free(path);
	}
}

/* Hardlinks in base to its files, and in the diff to its own files or to a base path. */
static void
gen_links(struct rng *r, struct side *base, struct side *diff)
{
	for (int k = 0; k < 4; k++) {
		char name[16];
		struct tree_entry e;

		snprintf(name, sizeof(name), "h%d", k);
		if (base->n_regs && rnd(r, 3)) {
			e = mk(name, TREE_HARDLINK);
			e.link = base->regs[rnd(r, (uint32_t)base->n_regs)];
			e.link_len = strlen(e.link);
			assert_int_equal(tree_builder_add(base->b, &e, NULL, 0, NULL), 0);
		}
		snprintf(name, sizeof(name), "a/h%d", k); /* deep, below a directory of base */
		if (base->n_regs && rnd(r, 2)) {
			e = mk(name, TREE_HARDLINK);
			e.link = base->regs[0];
			e.link_len = strlen(e.link);
			assert_int_equal(tree_builder_add(base->b, &e, NULL, 0, NULL), 0);
		}
		snprintf(name, sizeof(name), "i%d", k);
		if (diff->n_regs && rnd(r, 3) == 0) {
			e = mk(name, TREE_HARDLINK);
			e.link = diff->regs[rnd(r, (uint32_t)diff->n_regs)];
			e.link_len = strlen(e.link);
			assert_int_equal(tree_builder_add(diff->b, &e, NULL, 0, NULL), 0);
		}
	}
}

static void
side_free(struct side *s)
{
	for (size_t i = 0; i < s->n_regs; i++)
		free(s->regs[i]);
}

static void
test_streaming_merge_matches_the_entrywise_merge(void **state)
{
	unsigned compared = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 1500; seed++) {
		struct rng r = {seed};
		struct side base = {.b = tree_builder_new()}, diff = {.b = tree_builder_new()};
		struct tree *bt, *dt, *want = NULL, *got = NULL;
		int rw, rg;

		diff.is_diff = true;
		gen(&r, &base, &diff, "", 0);
		gen_links(&r, &base, &diff);
		bt = build(base.b);
		dt = build(diff.b);
		rw = reference_apply(bt, dt, &want);
		rg = apply(bt, dt, &got);
		if ((rw < 0) != (rg < 0))
			fail_msg("seed %llu: reference %d, streaming %d", (unsigned long long)seed,
			         rw, rg);
		if (rw >= 0) {
			if (!digest_equal(tree_id(want), tree_id(got)))
				fail_msg("seed %llu: different results", (unsigned long long)seed);
			compared++;
		}
		tree_unref(want);
		tree_unref(got);
		tree_unref(bt);
		tree_unref(dt);
		side_free(&base);
		side_free(&diff);
	}
	assert_true(compared > 1000); /* most cases are valid merges */
}

static bool
lookup(const struct tree *t, const char *path, struct tree_entry *ret)
{
	uint32_t idx;

	if (tree_lookup(t, path, strlen(path), &idx) < 0)
		return false;
	tree_entry_at(t, idx, ret);
	return true;
}

static void
add_plain(struct tree_builder *b, const char *path, enum tree_entry_type type)
{
	struct tree_entry e = mk(path, type);

	assert_int_equal(tree_builder_add(b, &e, NULL, 0, NULL), 0);
}

static void
add_link(struct tree_builder *b, const char *path, const char *target)
{
	struct tree_entry e = mk(path, TREE_HARDLINK);

	e.link = target;
	e.link_len = strlen(target);
	assert_int_equal(tree_builder_add(b, &e, NULL, 0, NULL), 0);
}

/* Links deep in directories the diff never enters are still rewritten: to a copy of a removed
 * target, or to where a target that became a hardlink now links. */
static void
test_links_below_untouched_dirs_are_rewritten(void **state)
{
	struct tree_builder *bb = tree_builder_new(), *db = tree_builder_new();
	struct tree_entry t = mk("t", TREE_REG), u = mk("u", TREE_REG), o = mk("other", TREE_REG);
	struct tree *base, *diff, *got, *want;
	struct tree_entry e;

	(void)state;
	t.flags = u.flags = o.flags = TREE_ENTRY_HAS_DIGEST;
	t.digest.bytes[0] = 1;
	u.digest.bytes[0] = 2;
	o.digest.bytes[0] = 3;
	assert_int_equal(tree_builder_add(bb, &t, NULL, 0, NULL), 0);
	assert_int_equal(tree_builder_add(bb, &u, NULL, 0, NULL), 0);
	add_plain(bb, "keep/x/y/plain", TREE_FIFO);
	add_link(bb, "keep/x/y/l1", "t");
	add_link(bb, "keep/x/z/l2", "t");
	add_link(bb, "keep/x/z/m", "u");
	add_link(bb, "a-first", "u");
	add_plain(db, "t", TREE_WHITEOUT);
	assert_int_equal(tree_builder_add(db, &o, NULL, 0, NULL), 0);
	add_link(db, "u", "other");
	base = build(bb);
	diff = build(db);
	assert_int_equal(apply(base, diff, &got), 0);
	assert_int_equal(reference_apply(base, diff, &want), 0);
	assert_true(digest_equal(tree_id(got), tree_id(want)));
	assert_true(lookup(got, "keep/x/y/l1", &e));
	assert_int_equal(e.type, TREE_REG); /* the first link in tree order: t's content */
	assert_int_equal(e.digest.bytes[0], 1);
	assert_true(lookup(got, "keep/x/z/l2", &e));
	assert_int_equal(e.type, TREE_HARDLINK);
	assert_string_equal(e.link, "keep/x/y/l1");
	assert_true(lookup(got, "keep/x/z/m", &e));
	assert_string_equal(e.link, "other");
	assert_true(lookup(got, "a-first", &e));
	assert_string_equal(e.link, "other");
	assert_int_equal(tree_nlink(got, e.index), 4);
	assert_true(lookup(got, "keep/x/y/plain", &e));
	tree_unref(got);
	tree_unref(want);
	tree_unref(base);
	tree_unref(diff);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 100k entries: 500 dirs of 4 subdirs of 49 files, plus the dirs. */
static struct tree *
big_tree(void)
{
	struct tree_builder *b = tree_builder_new();
	char path[64];

	for (unsigned d = 0; d < 500; d++) {
		for (unsigned s = 0; s < 4; s++) {
			for (unsigned f = 0; f < 49; f++) {
				struct tree_entry e;

				snprintf(path, sizeof(path), "usr/d%03u/s%u/file-%02u.txt", d, s,
				         f);
				e = mk(path, TREE_REG);
				e.flags = TREE_ENTRY_HAS_DIGEST;
				e.size = 4096;
				e.digest.bytes[0] = (uint8_t)f;
				assert_int_equal(tree_builder_add(b, &e, NULL, 0, NULL), 0);
			}
		}
	}
	return build(b);
}

static void
test_small_diff_over_100k_entries_streams(void **state)
{
	static const char *files[] = {"usr/d000/new",
	                              "usr/d123/s1/file-07.txt",
	                              "usr/d250/s0/extra",
	                              "usr/d250/s3/file-48.txt",
	                              "usr/d499/s3/zz",
	                              "usr/new/dir/file",
	                              "usr/d300/s2/file-00.txt",
	                              "usr/d301/s2/file-01.txt",
	                              "usr/d302/s2/file-02.txt"};
	struct tree_builder *db = tree_builder_new();
	struct tree *base = big_tree(), *diff, *got = NULL, *want = NULL;
	double t_ref = 1e9, t_stream = 1e9, t_parse = 1e9;

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct tree_entry e = mk(files[i], TREE_REG);

		e.size = 1;
		assert_int_equal(tree_builder_add(db, &e, NULL, 0, NULL), 0);
	}
	add_plain(db, "usr/d042", TREE_WHITEOUT);
	diff = build(db);
	assert_true(tree_count(base) > 100000);
	for (int k = 0; k < 5; k++) {
		struct tree_writer *w = NULL;
		double t0 = now_ms(), t1, t2;
		char *buf;
		size_t len;

		assert_int_equal(tree_apply(base, diff, &w, NULL), 0);
		assert_int_equal(tree_writer_finish(w, &buf, &len, NULL), 0);
		tree_writer_free(w);
		t1 = now_ms();
		tree_unref(got);
		assert_int_equal(tree_parse(buf, len, release, &got, NULL), 0);
		t2 = now_ms();
		tree_unref(want);
		assert_int_equal(reference_apply(base, diff, &want), 0);
		t_ref = t_ref < now_ms() - t2 ? t_ref : now_ms() - t2;
		t_stream = t_stream < t1 - t0 ? t_stream : t1 - t0;
		t_parse = t_parse < t2 - t1 ? t_parse : t2 - t1;
	}
	assert_true(digest_equal(tree_id(got), tree_id(want)));
	print_message("apply of 10 changes (%u diff entries with their parents) to a %u-entry "
	              "tree: streaming %.2f ms (+ %.2f ms to parse and hash the result), entry by "
	              "entry %.2f ms\n",
	              tree_count(diff), tree_count(base), t_stream, t_parse, t_ref);
	/* The margin is wide (measured ~10x) so a loaded machine does not fail it. */
	assert_true(t_stream * 2 < t_ref);
	tree_unref(got);
	tree_unref(want);
	tree_unref(diff);
	tree_unref(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_streaming_merge_matches_the_entrywise_merge),
	    cmocka_unit_test(test_links_below_untouched_dirs_are_rewritten),
	    cmocka_unit_test(test_small_diff_over_100k_entries_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
