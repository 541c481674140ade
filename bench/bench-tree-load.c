// SPDX-License-Identifier: Apache-2.0
/* Times loading a 100k-entry tree from a store and looking up every path in it.
 *
 * usage: bench-tree-load [ENTRIES] [ROUNDS]; prints the median of each measurement. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "util/error.h"
#include "util/path.h"
#include "util/xalloc.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint32_t
rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33) % n;
}

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
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* A name like "libfoo-bar.so" or "Locale": 3 to ~16 bytes. */
static char *
random_name(bool is_dir)
{
	static const char *parts[] = {"lib",  "share",   "python", "locale", "doc",
	                              "perl", "x86",     "gnu",    "base",   "core",
	                              "util", "site",    "data",   "icons",  "Collate",
	                              "man",  "include", "linux",  "net",    "zone"};
	static const char *exts[] = {".so", ".h", ".py", ".gz", ".mo", ".txt", ".pm", ""};
	const char *a = parts[rnd(20)], *b = parts[rnd(20)];

	if (is_dir)
		return rnd(2) ? xasprintf("%s%u", a, rnd(100)) : xasprintf("%s-%s", a, b);
	return xasprintf("%s%s%u%s", a, rnd(2) ? "_" : "", rnd(1000), exts[rnd(8)]);
}

/* Mixed dirs (15%), files, symlinks and hardlinks under six top-level directories. */
static struct tree_builder *
generate(uint32_t n, double *avg_path)
{
	struct tree_builder *b = tree_builder_new();
	char **dirs = xmalloc(n * sizeof(*dirs)), **files = xmalloc(n * sizeof(*files));
	uint8_t *depth = xcalloc(n + 6, 1);
	uint32_t n_dirs = 0, n_files = 0, count = 0;
	uint64_t path_bytes = 0;
	int r;
	static const char *top[] = {"usr", "etc", "var", "opt", "lib", "home"};

	for (size_t i = 0; i < 6; i++)
		dirs[n_dirs++] = xstrdup(top[i]);
	while (count < n) {
		uint32_t k = rnd(100);
		bool is_dir = k < 15;
		uint32_t parent = rnd(n_dirs);
		char *name = random_name(is_dir);
		char *path = kl_path_join(dirs[parent], name);
		struct tree_entry e = {.path = path,
		                       .path_len = strlen(path),
		                       .mode = 0644,
		                       .mtime_sec = 1700000000 + rnd(1000000)};

		e.type = is_dir ? TREE_DIR : TREE_REG;
		if (is_dir) {
			e.mode = 0755;
		} else if (k < 22) {
			e.type = TREE_SYMLINK;
			e.link = name;
		} else if (k < 24 && n_files) {
			e.type = TREE_HARDLINK;
			e.link = files[rnd(n_files)];
		}
		e.link_len = e.link ? strlen(e.link) : 0;
		if (e.type == TREE_REG) {
			e.flags = TREE_ENTRY_HAS_DIGEST;
			e.size = rnd(1 << 20);
			for (size_t i = 0; i < DIGEST_SIZE; i++)
				e.digest.bytes[i] = (uint8_t)rnd(256);
		}
		r = tree_builder_add(b, &e, NULL, 0, NULL);
		free(name);
		if (r == -EEXIST) {
			free(path);
			continue;
		}
		count++;
		path_bytes += e.path_len;
		/* Directories deeper than six levels take no children: paths stay near the
		 * 50-70 bytes of a distribution's /usr. */
		if (is_dir && depth[parent] < 6) {
			depth[n_dirs] = depth[parent] + 1;
			dirs[n_dirs++] = path;
		} else if (is_dir)
			free(path);
		else if (e.type == TREE_REG)
			files[n_files++] = path;
		else
			free(path);
	}
	for (uint32_t i = 0; i < n_dirs; i++)
		free(dirs[i]);
	for (uint32_t i = 0; i < n_files; i++)
		free(files[i]);
	free(dirs);
	free(files);
	free(depth);
	*avg_path = (double)path_bytes / n;
	return b;
}

struct key {
	char *path;
	size_t len;
};

/* Every path of t in a random order, copied out of the tree. */
static struct key *
shuffled_keys(const struct tree *t)
{
	uint32_t n = tree_count(t);
	struct key *keys = xmalloc(n * sizeof(*keys));

	for (uint32_t i = 0; i < n; i++) {
		struct tree_entry e;
		tree_entry_at(t, i, &e);
		keys[i] = (struct key){xstrndup(e.path, e.path_len), e.path_len};
	}
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = rnd(i);
		struct key tmp = keys[i - 1];
		keys[i - 1] = keys[j];
		keys[j] = tmp;
	}
	return keys;
}

static int
run(struct store *s, uint32_t n, int rounds)
{
	struct tree_builder *b;
	struct tree *t = NULL;
	struct kl_error *err = NULL;
	struct digest id, d;
	double avg_path, t0, gen_ms, write_ms, *load = xcalloc(rounds, sizeof(double));
	double *look = xcalloc(rounds, sizeof(double)), *hash = xcalloc(rounds, sizeof(double));
	char *buf;
	size_t len;
	struct key *keys;

	t0 = now_ms();
	b = generate(n, &avg_path);
	gen_ms = now_ms() - t0;
	t0 = now_ms();
	if (tree_builder_serialize(b, &buf, &len, &err) < 0 ||
	    store_ingest_buffer(s, buf, len, &id, &err) < 0) {
		fprintf(stderr, "bench-tree-load: %s\n", err->msg);
		return 1;
	}
	write_ms = now_ms() - t0;
	tree_builder_free(b);
	if (tree_load(s, &id, &t, &err) < 0) {
		fprintf(stderr, "bench-tree-load: %s\n", err->msg);
		return 1;
	}
	keys = shuffled_keys(t);
	printf("tree: %u entries (%u asked), %zu bytes, average path %.1f bytes\n", tree_count(t),
	       n, len, avg_path);
	printf("build: add %.1f ms, serialize+ingest %.1f ms\n", gen_ms, write_ms);
	tree_unref(t);
	for (int r = 0; r < rounds; r++) {
		uint32_t idx, found = 0;

		t0 = now_ms();
		digest_buffer(buf, len, &d);
		hash[r] = now_ms() - t0;
		t0 = now_ms();
		if (tree_load(s, &id, &t, &err) < 0)
			return 1;
		load[r] = now_ms() - t0;
		t0 = now_ms();
		for (uint32_t i = 0; i < tree_count(t); i++)
			found += tree_lookup(t, keys[i].path, keys[i].len, &idx) == 0;
		look[r] = now_ms() - t0;
		if (found != tree_count(t))
			return 1;
		tree_unref(t);
	}
	printf("median of %d: tree_load %.2f ms (sha256 of the blob alone: %.2f ms), "
	       "%u tree_lookup %.2f ms (%.0f ns each)\n",
	       rounds, median(load, rounds), median(hash, rounds), n, median(look, rounds),
	       median(look, rounds) * 1e6 / n);
	for (uint32_t i = 0; i < n; i++)
		free(keys[i].path);
	free(keys);
	free(buf);
	free(load);
	free(look);
	free(hash);
	return 0;
}

int
main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 15;
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/kiln-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	struct store *s = NULL;
	struct kl_error *err = NULL;
	int r;

	if (n < 10 || rounds < 1 || !mkdtemp(dir)) {
		fprintf(stderr, "usage: bench-tree-load [ENTRIES >= 10] [ROUNDS >= 1]\n");
		return 2;
	}
	if (store_open(dir, &(struct store_options){.flags = STORE_NO_SYNC}, &s, &err) < 0) {
		fprintf(stderr, "bench-tree-load: %s\n", err->msg);
		return 1;
	}
	r = run(s, n, rounds);
	store_unref(s);
	(void)kl_path_rm_rf_at(AT_FDCWD, dir);
	free(dir);
	return r;
}
