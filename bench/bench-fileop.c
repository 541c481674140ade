// SPDX-License-Identifier: Apache-2.0
/* Times the file-op tree algebra: a 10-change diff applied to a large tree (streaming merge
 * against a rebuild of every entry through the builder), a COPY of a 1 GiB file between two
 * trees (with the content bytes it writes), and a COPY into the large tree.
 *
 * usage: bench-fileop [ENTRIES] [ROUNDS]; prints the median of each measurement. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/store.h"
#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "solver/fileop.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/path.h"
#include "util/xalloc.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void
release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static struct tree *
build(struct tree_builder *b)
{
	struct tree *t = NULL;
	char *buf;
	size_t len;

	if (tree_builder_serialize(b, &buf, &len, NULL) < 0 ||
	    tree_parse(buf, len, release, &t, NULL) < 0)
		abort();
	tree_builder_free(b);
	return t;
}

static void
add(struct tree_builder *b, const char *path, enum tree_entry_type type, uint64_t size)
{
	struct tree_entry e = {.path = path, .path_len = strlen(path), .type = type};

	e.mode = type == TREE_DIR ? 0755 : 0644;
	e.mtime_sec = 1700000000;
	if (type == TREE_REG) {
		e.size = size;
		e.flags = TREE_ENTRY_HAS_DIGEST;
		digest_buffer(path, strlen(path), &e.digest);
	} else if (type == TREE_WHITEOUT) {
		e.mode = 0;
	}
	if (tree_builder_add(b, &e, NULL, 0, NULL) < 0)
		abort();
}

/* usr/dNNNN/file-NNN: dirs of 100 files, ~n entries. */
static struct tree *
big_tree(uint32_t n)
{
	struct tree_builder *b = tree_builder_new();
	char path[64];

	for (uint32_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "usr/d%04u/file-%03u", i / 100, i % 100);
		add(b, path, TREE_REG, 4096);
	}
	return build(b);
}

/* Every entry of t added to a builder and serialized: the cost of the old tree_apply. */
static void
rebuild(const struct tree *t)
{
	struct tree_builder *b = tree_builder_new();
	char *buf;
	size_t len;

	for (uint32_t i = 0; i < tree_count(t); i++)
		if (tree_builder_add_from(b, t, i, NULL) < 0)
			abort();
	if (tree_builder_serialize(b, &buf, &len, NULL) < 0)
		abort();
	free(buf);
	tree_builder_free(b);
}

static int
count_blob(const struct digest *d, uint64_t size, void *userdata)
{
	uint64_t *n = userdata;

	(void)d;
	n[0]++;
	n[1] += size;
	return 0;
}

static double
time_copy(struct store *s, const struct tree *base, const struct tree *src,
          struct graph_file_action *a, int rounds, uint64_t *ret_blobs, uint64_t *ret_bytes)
{
	struct fileop_env env = {.store = s};
	struct graph_file op = {.actions = a, .n_actions = 1};
	double *t = xcalloc((size_t)rounds, sizeof(*t)), m;
	uint64_t before[2] = {0}, after[2] = {0};
	struct kl_error *err = NULL;
	struct digest id;

	(void)store_foreach_blob(s, count_blob, before, NULL);
	for (int r = 0; r < rounds; r++) {
		double t0 = now_ms();

		if (fileop_apply(&env, &op, base, &src, 1, &id, &err) < 0) {
			fprintf(stderr, "bench-fileop: %s\n", err->msg);
			exit(1);
		}
		t[r] = now_ms() - t0;
	}
	(void)store_foreach_blob(s, count_blob, after, NULL);
	*ret_blobs = after[0] - before[0];
	*ret_bytes = after[1] - before[1];
	m = median(t, rounds);
	free(t);
	return m;
}

static void
bench_apply(const struct tree *base, int rounds)
{
	static const char *changes[] = {
	    "usr/d0000/new",      "usr/d0123/file-007", "usr/d0250/extra",
	    "usr/d0250/file-048", "usr/d0499/zz",       "usr/new/dir/file",
	    "usr/d0300/file-000", "usr/d0301/file-001", "usr/d0302/file-002"};
	struct tree_builder *db = tree_builder_new();
	double *ts = xcalloc((size_t)rounds, sizeof(*ts)),
	       *tr = xcalloc((size_t)rounds, sizeof(*tr));
	struct tree *diff, *result = NULL;

	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		add(db, changes[i], TREE_REG, 1);
	add(db, "usr/d0042", TREE_WHITEOUT, 0);
	diff = build(db);
	for (int r = 0; r < rounds; r++) {
		struct tree_writer *w = NULL;
		double t0 = now_ms();
		char *buf;
		size_t len;

		if (tree_apply(base, diff, &w, NULL) < 0 ||
		    tree_writer_finish(w, &buf, &len, NULL) < 0)
			abort();
		ts[r] = now_ms() - t0;
		tree_writer_free(w);
		if (result)
			free(buf);
		else if (tree_parse(buf, len, release, &result, NULL) < 0)
			abort();
		t0 = now_ms();
		rebuild(result);
		tr[r] = now_ms() - t0;
	}
	printf("apply of 10 changes to a %u-entry tree: streaming %.2f ms, rebuilt entry by entry "
	       "%.2f ms\n",
	       tree_count(base), median(ts, rounds), median(tr, rounds));
	tree_unref(result);
	tree_unref(diff);
	free(ts);
	free(tr);
}

static void
bench_copies(struct store *s, const struct tree *big, int rounds, const char *how)
{
	struct tree_builder *sb = tree_builder_new(), *bb = tree_builder_new();
	struct graph_file_action a = {
	    .kind = GRAPH_FILE_COPY,
	    .src = "/big.bin",
	    .dest = "/data/",
	    .follow_symlinks = true,
	    .dir_contents = true,
	    .create_parents = true,
	};
	struct tree *src, *small;
	uint64_t blobs, bytes;
	double ms;

	add(sb, "big.bin", TREE_REG, 1ull << 30); /* a valid digest of bytes no store holds */
	for (int i = 0; i < 5; i++) {
		char path[32];

		snprintf(path, sizeof(path), "app/src/f%d.c", i);
		add(sb, path, TREE_REG, 1000);
	}
	src = build(sb);
	add(bb, "etc/hostname", TREE_REG, 6);
	add(bb, "bin/sh", TREE_REG, 100000);
	small = build(bb);
	ms = time_copy(s, small, src, &a, rounds, &blobs, &bytes);
	printf("%s: COPY of a 1 GiB file into a %u-entry tree: %.3f ms, %llu blob(s) of %llu bytes "
	       "written (the result tree), 0 content bytes\n",
	       how, tree_count(small), ms, (unsigned long long)blobs, (unsigned long long)bytes);
	a.src = "/app/src";
	a.dest = "/usr/d0250/";
	ms = time_copy(s, big, src, &a, rounds, &blobs, &bytes);
	printf("%s: COPY of a 5-file dir into a %u-entry tree: %.2f ms (merge, hash and write of "
	       "the %llu-byte result)\n",
	       how, tree_count(big), ms, (unsigned long long)bytes);
	tree_unref(src);
	tree_unref(small);
}

int
main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 11;
	const char *tmp = getenv("TMPDIR");
	struct kl_error *err = NULL;
	struct tree *big;

	if (n < 1000 || rounds < 1) {
		fprintf(stderr, "usage: bench-fileop [ENTRIES >= 1000] [ROUNDS >= 1]\n");
		return 2;
	}
	big = big_tree(n);
	bench_apply(big, rounds);
	for (int sync = 0; sync < 2; sync++) {
		char *dir = xasprintf("%s/kiln-bench.XXXXXX", tmp && *tmp ? tmp : "/var/tmp");
		struct store_options o = {.flags = sync ? 0 : STORE_NO_SYNC};
		struct store *s = NULL;

		if (!mkdtemp(dir) || store_open(dir, &o, &s, &err) < 0) {
			fprintf(stderr, "bench-fileop: %s\n", err ? err->msg : "mkdtemp failed");
			return 1;
		}
		bench_copies(s, big, rounds, sync ? "store with fsync" : "store without fsync");
		store_unref(s);
		(void)kl_path_rm_rf_at(AT_FDCWD, dir);
		free(dir);
	}
	tree_unref(big);
	return 0;
}
