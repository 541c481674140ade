// SPDX-License-Identifier: Apache-2.0
/* Unit tests for sources/ctxsrc: what a context scan records, .dockerignore and followpaths,
 * and the stat cache: a rescan after one change hashes that one file only. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree-import.h"
#include "fs/tree.h"
#include "sources/ctxsrc.h"
#include "util/error.h"
#include "util/io.h"
#include "tests/unit/test-helpers.h"

struct fixture {
	char *dir;
	char *ctx;
	struct store *store;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *root;

	f->dir = test_tmpdir();
	f->ctx = xasprintf("%s/ctx", f->dir);
	root = xasprintf("%s/store", f->dir);
	if (mkdir(f->ctx, 0755) < 0 ||
	    store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL) < 0)
		return -1;
	free(root);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_unref(f->store);
	free(f->ctx);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

static void
put(struct fixture *f, const char *rel, const char *content)
{
	char *p = xasprintf("%s/%s", f->ctx, rel), *slash = strrchr(p, '/');
	int fd;

	*slash = '\0';
	assert_int_equal(kl_path_mkdir_p(p, 0755), 0);
	*slash = '/';
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, content, strlen(content)), 0);
	close(fd);
	free(p);
}

/* File times come from the coarse clock, and files changed in the tick a scan starts are not
 * cached: wait until that clock has moved past every change made so far. */
static void
wait_tick(void)
{
	struct timespec fine, coarse;

	clock_gettime(CLOCK_REALTIME, &fine);
	for (;;) {
		clock_gettime(CLOCK_REALTIME_COARSE, &coarse);
		if (coarse.tv_sec > fine.tv_sec ||
		    (coarse.tv_sec == fine.tv_sec && coarse.tv_nsec > fine.tv_nsec))
			return;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
}

static struct tree *
scan(struct fixture *f, const struct ctxsrc_options *opts)
{
	struct kl_error *err = NULL;
	struct tree *t = NULL;
	struct digest id;

	if (ctxsrc_scan(f->store, f->ctx, opts, &id, &err) < 0)
		fail_msg("scan: %s", err->msg);
	assert_int_equal(tree_load(f->store, &id, &t, NULL), 0);
	return t;
}

/* Drops the scans' fingerprints, so the next scan goes through the stat cache. */
static void
forget_scans(struct fixture *f)
{
	char *p = xasprintf("%s/store/ctxsrc/scans", f->dir);

	(void)kl_path_rm_rf_at(AT_FDCWD, p);
	free(p);
}

static bool
has(const struct tree *t, const char *path)
{
	uint32_t idx;

	return tree_lookup(t, path, strlen(path), &idx) == 0;
}

static void
entry(const struct tree *t, const char *path, struct tree_entry *e)
{
	uint32_t idx;

	if (tree_lookup(t, path, strlen(path), &idx) < 0)
		fail_msg("'%s' is not in the tree", path);
	tree_entry_at(t, idx, e);
}

static void
test_scan_records_digests_locators_and_links(void **state)
{
	struct fixture *f = *state;
	struct ctxsrc_stats st = {0};
	struct tree_local_locator loc;
	struct tree_entry e;
	struct digest want;
	struct stat sb;
	struct tree *t;
	char *p;

	put(f, "a.txt", "alpha\n");
	put(f, "sub/b.txt", "beta\n");
	put(f, "empty", "");
	p = xasprintf("%s/link", f->ctx);
	assert_int_equal(symlink("/etc", p), 0); /* outside the context: never followed */
	free(p);
	t = scan(f, &(struct ctxsrc_options){.stats = &st});
	assert_int_equal(st.files, 3);
	assert_int_equal(st.hashed_files, 2);
	assert_int_equal(st.entries, tree_count(t));

	entry(t, "a.txt", &e);
	assert_int_equal(e.type, TREE_REG);
	assert_true(e.flags & TREE_ENTRY_HAS_DIGEST);
	digest_buffer("alpha\n", 6, &want);
	assert_true(digest_equal(&e.digest, &want));
	assert_non_null(e.locator);
	assert_int_equal(tree_local_locator_parse(e.locator, e.locator_len, &loc), 0);
	p = xasprintf("%s/a.txt", f->ctx);
	assert_int_equal(lstat(p, &sb), 0);
	assert_true(tree_local_locator_matches(&loc, &sb));
	assert_memory_equal(loc.path, p, loc.path_len);
	free(p);

	entry(t, "empty", &e);
	digest_buffer("", 0, &want);
	assert_true(digest_equal(&e.digest, &want));
	entry(t, "link", &e);
	assert_int_equal(e.type, TREE_SYMLINK);
	assert_memory_equal(e.link, "/etc", 4);
	assert_false(has(t, "link/passwd"));
	entry(t, "sub", &e);
	assert_int_equal(e.type, TREE_DIR);
	tree_unref(t);
}

static void
test_rescan_hashes_only_the_changed_file(void **state)
{
	struct fixture *f = *state;
	struct ctxsrc_stats st = {0};
	struct ctxsrc_options opts = {.stats = &st};
	struct digest first, again, changed;
	struct tree_entry e;
	struct tree *t;

	for (int i = 0; i < 300; i++) {
		char name[64], body[64];
		snprintf(name, sizeof(name), "d%d/f%03d", i % 7, i);
		snprintf(body, sizeof(body), "content %d\n", i);
		put(f, name, body);
	}
	wait_tick();
	t = scan(f, &opts);
	first = *tree_id(t);
	tree_unref(t);
	assert_int_equal(st.files, 300);
	assert_int_equal(st.hashed_files, 300);
	assert_int_equal(st.cached_files, 0);

	t = scan(f, &opts);
	again = *tree_id(t);
	tree_unref(t);
	assert_true(digest_equal(&first, &again));
	assert_int_equal(st.hashed_files, 0);
	assert_int_equal(st.cached_files, 300);

	put(f, "d3/f010", "changed, and longer than before\n");
	wait_tick();
	t = scan(f, &opts);
	changed = *tree_id(t);
	assert_false(digest_equal(&first, &changed));
	assert_int_equal(st.hashed_files, 1);
	assert_int_equal(st.cached_files, 299);
	entry(t, "d3/f010", &e);
	struct digest want;
	digest_buffer("changed, and longer than before\n", 32, &want);
	assert_true(digest_equal(&e.digest, &want));
	tree_unref(t);

	t = scan(f, &opts);
	tree_unref(t);
	assert_int_equal(st.hashed_files, 0);
}

static void
test_unchanged_rescan_takes_the_last_tree(void **state)
{
	struct fixture *f = *state;
	struct ctxsrc_stats st = {0};
	struct ctxsrc_options opts = {.stats = &st};
	struct digest first, id;
	struct tree *t, *got = NULL;
	char *p;

	put(f, "a", "one\n");
	put(f, "sub/b", "two\n");
	wait_tick();
	t = scan(f, &opts);
	first = *tree_id(t);
	tree_unref(t);
	assert_false(st.unchanged);
	/* the same walk: the last tree, nothing hashed, the caller handed the tree itself */
	opts.ret_tree = &got;
	assert_int_equal(ctxsrc_scan(f->store, f->ctx, &opts, &id, NULL), 0);
	assert_true(st.unchanged);
	assert_int_equal(st.hashed_files, 0);
	assert_true(digest_equal(&id, &first));
	assert_non_null(got);
	assert_true(digest_equal(tree_id(got), &first));
	got = tree_unref(got);
	opts.ret_tree = NULL;
	/* a touched file (same bytes) is seen: a full scan, which hashes it again */
	p = xasprintf("%s/sub/b", f->ctx);
	assert_int_equal(utimensat(AT_FDCWD, p, (struct timespec[]){{0, UTIME_NOW}, {1000, 0}}, 0),
	                 0);
	wait_tick();
	t = scan(f, &opts);
	assert_false(st.unchanged);
	assert_int_equal(st.hashed_files, 1);
	assert_false(digest_equal(tree_id(t), &first)); /* its mtime is in the tree */
	tree_unref(t);
	/* a new file too */
	put(f, "sub/c", "three\n");
	wait_tick();
	t = scan(f, &opts);
	assert_false(st.unchanged);
	assert_true(has(t, "sub/c"));
	tree_unref(t);
	/* a file that may change again unseen (its time not before the scan's start: a future
	 * mtime is such a file, every time) keeps the next scan from the shortcut */
	put(f, "a", "ONE\n");
	free(p);
	p = xasprintf("%s/a", f->ctx);
	assert_int_equal(
	    utimensat(AT_FDCWD, p, (struct timespec[]){{0, UTIME_NOW}, {time(NULL) + 3600, 0}}, 0),
	    0);
	t = scan(f, &opts);
	tree_unref(t);
	t = scan(f, &opts);
	assert_false(st.unchanged);
	tree_unref(t);
	free(p);
}

static void
test_file_changed_in_the_scan_tick_is_not_cached(void **state)
{
	struct fixture *f = *state;
	struct ctxsrc_stats st = {0};
	struct timespec coarse, after;
	struct stat sb;
	char *p = xasprintf("%s/fresh", f->ctx);

	/* a change in the same coarse tick as the scan could be followed by another one that
	 * leaves size and times alone: such a file is hashed again next time. The scan reads the
	 * coarse clock itself: only when the tick is the same before and after it is the scan's
	 * tick the one the file changed in. */
	do {
		put(f, "fresh", "one\n");
		clock_gettime(CLOCK_REALTIME_COARSE, &coarse);
		tree_unref(scan(f, &(struct ctxsrc_options){.stats = &st}));
		clock_gettime(CLOCK_REALTIME_COARSE, &after);
		assert_int_equal(stat(p, &sb), 0);
	} while (sb.st_ctim.tv_sec < coarse.tv_sec ||
	         (sb.st_ctim.tv_sec == coarse.tv_sec && sb.st_ctim.tv_nsec < coarse.tv_nsec) ||
	         after.tv_sec != coarse.tv_sec || after.tv_nsec != coarse.tv_nsec);
	tree_unref(scan(f, &(struct ctxsrc_options){.stats = &st}));
	assert_int_equal(st.hashed_files, 1);
	free(p);
}

static void
test_dockerignore_and_exceptions(void **state)
{
	struct fixture *f = *state;
	struct tree *t;

	put(f, ".dockerignore", "# build output\n*.log\nbuild\n!build/keep/me.txt\nsecret/\n");
	put(f, "Dockerfile", "FROM scratch\n");
	put(f, "app.c", "int main;\n");
	put(f, "x.log", "log\n");
	put(f, "sub/y.log", "not at the top\n");
	put(f, "build/out.o", "o\n");
	put(f, "build/keep/me.txt", "kept\n");
	put(f, "build/keep/not-me.txt", "gone\n");
	put(f, "secret/key", "k\n");
	t = scan(f, NULL);
	assert_true(has(t, "Dockerfile"));
	assert_true(has(t, ".dockerignore"));
	assert_true(has(t, "app.c"));
	assert_false(has(t, "x.log"));
	assert_true(has(t, "sub/y.log"));
	assert_true(has(t, "build"));
	assert_true(has(t, "build/keep"));
	assert_true(has(t, "build/keep/me.txt"));
	assert_false(has(t, "build/out.o"));
	assert_false(has(t, "build/keep/not-me.txt"));
	assert_false(has(t, "secret"));
	assert_false(has(t, "secret/key"));
	tree_unref(t);
}

static void
test_ignore_file_option_and_changes_to_ignored_files(void **state)
{
	struct fixture *f = *state;
	char *ign = xasprintf("%s/other.ignore", f->dir);
	int fd = open(ign, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct digest a, b;
	struct tree *t;

	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, "tmp\n", 4), 0);
	close(fd);
	put(f, ".dockerignore", "*\n"); /* not used: the option wins */
	put(f, "keep", "k\n");
	put(f, "tmp/scratch", "1\n");
	t = scan(f, &(struct ctxsrc_options){.ignore_file = ign});
	assert_true(has(t, "keep"));
	assert_true(has(t, ".dockerignore"));
	assert_false(has(t, "tmp"));
	a = *tree_id(t);
	tree_unref(t);
	put(f, "tmp/scratch", "2, longer\n");
	t = scan(f, &(struct ctxsrc_options){.ignore_file = ign});
	b = *tree_id(t);
	tree_unref(t);
	assert_true(digest_equal(&a, &b));
	free(ign);
}

static void
test_bad_ignore_file_is_an_error_naming_it(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	struct digest id;
	char *missing = xasprintf("%s/nope.ignore", f->dir);

	put(f, ".dockerignore", "ok\n\n  [abc\n");
	assert_int_equal(ctxsrc_scan(f->store, f->ctx, NULL, &id, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "/.dockerignore:3: syntax error in pattern '[abc'"));
	kl_error_freep(&err);

	assert_int_equal(ctxsrc_scan(f->store, f->ctx,
	                             &(struct ctxsrc_options){.ignore_file = missing}, &id, &err),
	                 -ENOENT);
	assert_non_null(strstr(err->msg, missing));
	kl_error_freep(&err);
	free(missing);

	assert_int_equal(ctxsrc_scan(f->store, f->ctx,
	                             &(struct ctxsrc_options){.ignore_file = f->dir}, &id, &err),
	                 -EINVAL);
	assert_non_null(strstr(err->msg, "not a regular file"));
	kl_error_freep(&err);
}

static void
test_followpaths_select_paths_parents_and_link_targets(void **state)
{
	struct fixture *f = *state;
	static const char *const follow[] = {"/src/main.c", "./docs", "lib-link", "absent/x"};
	struct ctxsrc_stats st = {0};
	struct tree *t;
	char *p;

	put(f, "src/main.c", "m\n");
	put(f, "src/other.c", "o\n");
	put(f, "docs/a/b.md", "b\n");
	put(f, "lib/real/x.so", "x\n");
	put(f, "unrelated", "u\n");
	put(f, "docs/a/skip.tmp", "t\n");
	put(f, ".dockerignore", "**/*.tmp\n");
	p = xasprintf("%s/lib-link", f->ctx);
	assert_int_equal(symlink("lib/real", p), 0);
	free(p);
	t = scan(f,
	         &(struct ctxsrc_options){.followpaths = follow, .n_followpaths = 4, .stats = &st});
	assert_true(has(t, "src"));
	assert_true(has(t, "src/main.c"));
	assert_false(has(t, "src/other.c"));
	assert_true(has(t, "docs/a/b.md"));
	assert_false(has(t, "docs/a/skip.tmp"));
	assert_true(has(t, "lib-link"));
	assert_true(has(t, "lib/real/x.so"));
	assert_false(has(t, "unrelated"));
	assert_false(has(t, ".dockerignore"));
	assert_false(has(t, "absent"));
	assert_int_equal(st.hashed_files, 3);
	tree_unref(t);
}

static void
test_locate_only_reads_no_content(void **state)
{
	struct fixture *f = *state;
	struct ctxsrc_stats st = {0};
	struct tree_entry e;
	struct tree *t;
	char *db = xasprintf("%s/store/ctxsrc/statcache.db", f->dir);

	put(f, "a", "aaa\n");
	put(f, "b/c", "ccc\n");
	t = scan(f, &(struct ctxsrc_options){.locate_only = true, .stats = &st});
	assert_int_equal(st.files, 2);
	assert_int_equal(st.hashed_files, 0);
	entry(t, "b/c", &e);
	assert_false(e.flags & TREE_ENTRY_HAS_DIGEST);
	assert_non_null(e.locator);
	assert_int_equal(access(db, F_OK), -1);
	tree_unref(t);
	free(db);
}

static void
test_hardlinks_and_fifos(void **state)
{
	struct fixture *f = *state;
	struct tree_entry e;
	struct tree *t;
	char *a = xasprintf("%s/a", f->ctx), *b = xasprintf("%s/b", f->ctx);
	char *fifo = xasprintf("%s/pipe", f->ctx);

	put(f, "a", "shared\n");
	assert_int_equal(link(a, b), 0);
	assert_int_equal(mkfifo(fifo, 0644), 0);
	t = scan(f, NULL);
	entry(t, "a", &e);
	assert_int_equal(e.type, TREE_REG);
	entry(t, "b", &e);
	assert_int_equal(e.type, TREE_HARDLINK);
	assert_memory_equal(e.link, "a", 1);
	entry(t, "pipe", &e);
	assert_int_equal(e.type, TREE_FIFO);
	tree_unref(t);
	free(a);
	free(b);
	free(fifo);
}

static void
test_corrupt_stat_cache_is_replaced(void **state)
{
	struct fixture *f = *state;
	struct ctxsrc_stats st = {0};
	char *db = xasprintf("%s/store/ctxsrc/statcache.db", f->dir);
	int fd;

	put(f, "a", "a\n");
	wait_tick();
	tree_unref(scan(f, &(struct ctxsrc_options){.stats = &st}));
	for (int i = 0; i < 2; i++) {
		char *p = xasprintf("%s%s", db, i ? "-wal" : "");
		fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(kl_io_write_all(fd, "this is not a database, not at all, no", 38),
		                 0);
		close(fd);
		free(p);
	}
	forget_scans(f);
	tree_unref(scan(f, &(struct ctxsrc_options){.stats = &st}));
	assert_int_equal(st.hashed_files, 1);
	tree_unref(scan(f, &(struct ctxsrc_options){.stats = &st}));
	assert_int_equal(st.hashed_files, 0);
	free(db);
}

static void
test_two_processes_scan_at_once(void **state)
{
	struct fixture *f = *state;
	struct ctxsrc_stats st = {0};
	pid_t pids[4];

	for (int i = 0; i < 200; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		put(f, name, name);
	}
	wait_tick();
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char *root = xasprintf("%s/store", f->dir);
			struct kl_error *err = NULL;
			struct store *s = NULL;
			struct digest id;

			/* each process opens the store, as two kiln commands would */
			if (store_open(root, NULL, &s, &err) < 0 ||
			    ctxsrc_scan(s, f->ctx, NULL, &id, &err) < 0) {
				fprintf(stderr, "child: %s\n", err->msg);
				_exit(1);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	tree_unref(scan(f, &(struct ctxsrc_options){.stats = &st}));
	assert_int_equal(st.hashed_files, 0);
}

/* Sets xattr name=value on rel in the context, not following a symlink. */
static void
set_xattr(struct fixture *f, const char *rel, const char *name, const char *value)
{
	char *p = xasprintf("%s/%s", f->ctx, rel);

	if (lsetxattr(p, name, value, strlen(value), 0) < 0)
		fail_msg("setting xattr '%s' on '%s': %s", name, p, strerror(errno));
	free(p);
}

/* Asserts that path has exactly one xattr, name=value. */
static void
assert_xattr(const struct tree *t, const char *path, const char *name, const char *value)
{
	struct tree_xattr x;
	struct tree_entry e;

	entry(t, path, &e);
	if (e.n_xattrs != 1)
		fail_msg("'%s' has %u xattrs, not 1", path, (unsigned)e.n_xattrs);
	tree_entry_xattr(t, &e, 0, &x);
	assert_int_equal(x.name_len, strlen(name));
	assert_memory_equal(x.name, name, x.name_len);
	assert_int_equal(x.value_len, strlen(value));
	assert_memory_equal(x.value, value, x.value_len);
}

static void
test_xattrs_are_recorded(void **state)
{
	struct fixture *f = *state;
	struct ctxsrc_stats st = {0};
	struct tree_entry e;
	struct tree *t;
	char *p, *q;

	put(f, "a.txt", "alpha\n");
	put(f, "empty", "");
	put(f, "kept/sub/b.txt", "beta\n"); /* kept/sub: a parent emitted for an exception */
	put(f, ".dockerignore", "kept\n!kept/sub/b.txt\n");
	p = xasprintf("%s/link", f->ctx);
	assert_int_equal(symlink("a.txt", p), 0);
	free(p);
	p = xasprintf("%s/a.txt", f->ctx);
	q = xasprintf("%s/hard", f->ctx);
	assert_int_equal(link(p, q), 0);
	free(p);
	free(q);
	set_xattr(f, ".", "user.root", "r");
	set_xattr(f, "a.txt", "user.kiln", "one");
	set_xattr(f, "empty", "user.kiln", "zero");
	set_xattr(f, "kept/sub", "user.kiln", "parent");
	set_xattr(f, "kept/sub/b.txt", "user.kiln", "two");
	set_xattr(f, "link", "trusted.onlink", "l"); /* user.* is refused on symlinks */
	wait_tick();

	/* hashed, then from the stat cache, then located only: the same xattrs each time */
	for (int pass = 0; pass < 3; pass++) {
		forget_scans(f);
		t = scan(f, &(struct ctxsrc_options){.stats = &st, .locate_only = pass == 2});
		if (pass == 1)
			assert_int_equal(st.cached_files, 3); /* .dockerignore too */
		assert_xattr(t, "", "user.root", "r");
		assert_xattr(t, "a.txt", "user.kiln", "one");
		assert_xattr(t, "empty", "user.kiln", "zero");
		assert_xattr(t, "kept/sub", "user.kiln", "parent");
		assert_xattr(t, "kept/sub/b.txt", "user.kiln", "two");
		assert_xattr(t, "link", "trusted.onlink", "l");
		entry(t, "hard", &e); /* a hardlink shares its leader's xattrs */
		assert_int_equal(e.type, TREE_HARDLINK);
		assert_int_equal(e.n_xattrs, 0);
		tree_unref(t);
	}

	/* A changed xattr changes the file's ctime: the cache misses and the new value is read. */
	set_xattr(f, "kept/sub/b.txt", "user.kiln", "three");
	p = xasprintf("%s/kept/sub/b.txt", f->ctx);
	assert_int_equal(lremovexattr(p, "user.kiln"), 0);
	assert_int_equal(lsetxattr(p, "user.other", "4", 1, 0), 0);
	free(p);
	wait_tick();
	t = scan(f, &(struct ctxsrc_options){.stats = &st});
	assert_int_equal(st.cached_files, 2);
	assert_int_equal(st.hashed_files, 1);
	assert_xattr(t, "kept/sub/b.txt", "user.other", "4");
	assert_xattr(t, "a.txt", "user.kiln", "one");
	tree_unref(t);
}

/* A directory large enough to be statted by several threads: every entry, in order. */
static void
test_large_directory(void **state)
{
	struct fixture *f = *state;
	struct ctxsrc_stats st = {0};
	struct tree_entry e;
	struct tree *t;

	for (int i = 0; i < 500; i++) {
		char name[32], body[32];

		snprintf(name, sizeof(name), "many/f%03d", i);
		snprintf(body, sizeof(body), "%d\n", i);
		put(f, name, body);
	}
	wait_tick();
	for (int pass = 0; pass < 2; pass++) {
		t = scan(f, &(struct ctxsrc_options){.stats = &st});
		assert_int_equal(st.files, 500);
		assert_int_equal(pass ? st.cached_files : st.hashed_files, 500);
		for (int i = 0; i < 500; i++) {
			char name[32], body[32];
			struct digest d;

			snprintf(name, sizeof(name), "many/f%03d", i);
			snprintf(body, sizeof(body), "%d\n", i);
			entry(t, name, &e);
			digest_buffer(body, strlen(body), &d);
			assert_true(digest_equal(&e.digest, &d));
		}
		tree_unref(t);
	}
}

static void
test_missing_directory_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	struct digest id;
	char *p = xasprintf("%s/missing", f->dir);

	assert_int_equal(ctxsrc_scan(f->store, p, NULL, &id, &err), -ENOENT);
	assert_non_null(strstr(err->msg, p));
	kl_error_freep(&err);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_scan_records_digests_locators_and_links, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_rescan_hashes_only_the_changed_file, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_unchanged_rescan_takes_the_last_tree, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_file_changed_in_the_scan_tick_is_not_cached, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_dockerignore_and_exceptions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ignore_file_option_and_changes_to_ignored_files,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_ignore_file_is_an_error_naming_it, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_followpaths_select_paths_parents_and_link_targets,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_locate_only_reads_no_content, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hardlinks_and_fifos, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_stat_cache_is_replaced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_processes_scan_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xattrs_are_recorded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_directory_is_an_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_directory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
