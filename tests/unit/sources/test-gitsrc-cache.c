// SPDX-License-Identifier: Apache-2.0
/* Unit tests for sources/gitsrc-cache.c: the records of which tree a commit was built into. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "sources/gitsrc-internal.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"
#include "tests/unit/test-helpers.h"

#define REPO "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define COMMIT_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define COMMIT_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

struct fixture {
	char *dir, *git_dir;
	struct store *store;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	_cleanup_free_ char *root = NULL;

	f->dir = test_tmpdir();
	root = kl_path_join(f->dir, "store");
	if (store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL) < 0)
		return -1;
	f->git_dir = kl_path_join(store_root(f->store), "git");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_unref(f->store);
	test_rmdir(f->dir);
	free(f->git_dir);
	free(f);
	return 0;
}

static git_oid
oid(const char *hex)
{
	git_oid o;

	assert_int_equal(git_oid_fromstr(&o, hex), 0);
	return o;
}

/* A one-directory tree in the store whose root has the given mtime (so ids differ). */
static struct digest
tree_in_store(struct fixture *f, int64_t mtime)
{
	_cleanup_(tree_writer_freep) struct tree_writer *w = tree_writer_new();
	const struct tree_entry root = {
	    .path = "", .name = "", .type = TREE_DIR, .mode = 0755, .mtime_sec = mtime};
	struct digest id;

	assert_int_equal(tree_writer_add(w, &root, NULL), 0);
	assert_int_equal(tree_writer_write(w, f->store, &id, NULL), 0);
	return id;
}

/* The record files under <git>/trees/, and whether any temporary file is left. */
static size_t
count_records(const struct fixture *f, bool *ret_stray)
{
	_cleanup_free_ char *dir = kl_path_join(f->git_dir, "trees");
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	*ret_stray = false;
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		if (strchr(de->d_name, '.'))
			*ret_stray = true;
	}
	closedir(d);
	return n;
}

static void
test_put_then_get_finds_the_tree_and_base(void **state)
{
	struct fixture *f = *state;
	struct gitsrc_cache c;
	git_oid a = oid(COMMIT_A), b = oid(COMMIT_B), base_commit;
	struct digest t1 = tree_in_store(f, 1), t2 = tree_in_store(f, 2), got;
	struct tree *base = NULL;
	bool stray;

	gitsrc_cache_init(&c, f->store, f->git_dir, REPO, "", "");
	assert_int_equal(gitsrc_cache_get(&c, &a, &got), -ENOENT);
	assert_false(gitsrc_cache_get_base(&c, &base_commit, &base));
	assert_null(base);

	assert_int_equal(gitsrc_cache_put(&c, &a, &t1, NULL), 0);
	assert_int_equal(gitsrc_cache_get(&c, &a, &got), 0);
	assert_true(digest_equal(&got, &t1));
	assert_int_equal(gitsrc_cache_get(&c, &b, &got), -ENOENT);
	assert_true(gitsrc_cache_get_base(&c, &base_commit, &base));
	assert_true(git_oid_equal(&base_commit, &a));
	assert_true(digest_equal(tree_id(base), &t1));
	base = tree_unref(base);

	/* the base follows the last put; earlier records stay */
	assert_int_equal(gitsrc_cache_put(&c, &b, &t2, NULL), 0);
	assert_true(gitsrc_cache_get_base(&c, &base_commit, &base));
	assert_true(git_oid_equal(&base_commit, &b));
	assert_true(digest_equal(tree_id(base), &t2));
	base = tree_unref(base);
	assert_int_equal(gitsrc_cache_get(&c, &a, &got), 0);
	assert_true(digest_equal(&got, &t1));
	assert_int_equal(count_records(f, &stray), 3); /* a, b, last */
	assert_false(stray);
	gitsrc_cache_done(&c);
}

static void
test_records_of_another_subdir_or_repository_are_apart(void **state)
{
	struct fixture *f = *state;
	struct gitsrc_cache root, sub, other;
	git_oid a = oid(COMMIT_A), base_commit;
	struct digest t1 = tree_in_store(f, 1), got;
	struct tree *base = NULL;

	gitsrc_cache_init(&root, f->store, f->git_dir, REPO, "", "");
	gitsrc_cache_init(&sub, f->store, f->git_dir, REPO, "docs", "");
	gitsrc_cache_init(&other, f->store, f->git_dir,
	                  "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "",
	                  "");
	assert_int_equal(gitsrc_cache_put(&root, &a, &t1, NULL), 0);
	assert_int_equal(gitsrc_cache_get(&sub, &a, &got), -ENOENT);
	assert_int_equal(gitsrc_cache_get(&other, &a, &got), -ENOENT);
	assert_false(gitsrc_cache_get_base(&sub, &base_commit, &base));
	assert_false(gitsrc_cache_get_base(&other, &base_commit, &base));
	gitsrc_cache_done(&root);
	gitsrc_cache_done(&sub);
	gitsrc_cache_done(&other);
}

/* Overwrites the only record named "<what>-…" with text. */
static void
overwrite_record(const struct fixture *f, const char *what, const char *text)
{
	_cleanup_free_ char *dir = kl_path_join(f->git_dir, "trees");
	size_t wl = strlen(what);
	DIR *d = opendir(dir);
	struct dirent *de;
	bool done = false;

	assert_non_null(d);
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		int fd;

		if (strncmp(de->d_name, what, wl) != 0 || de->d_name[wl] != '-')
			continue;
		p = kl_path_join(dir, de->d_name);
		fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(kl_io_write_all(fd, text, strlen(text)), 0);
		close(fd);
		done = true;
	}
	closedir(d);
	assert_true(done);
}

static void
test_bad_or_dangling_records_are_misses(void **state)
{
	struct fixture *f = *state;
	struct gitsrc_cache c;
	git_oid a = oid(COMMIT_A), base_commit;
	struct digest t1 = tree_in_store(f, 1), got, absent;
	struct tree *base = NULL;
	char line[DIGEST_STRING_SIZE + 1];

	gitsrc_cache_init(&c, f->store, f->git_dir, REPO, "", "");
	assert_int_equal(gitsrc_cache_put(&c, &a, &t1, NULL), 0);

	overwrite_record(f, COMMIT_A, "sha256:not-a-digest\n");
	assert_int_equal(gitsrc_cache_get(&c, &a, &got), -ENOENT);
	assert_false(gitsrc_cache_get_base(&c, &base_commit, &base));

	/* well formed, but the tree is not in the store */
	digest_buffer("nothing", 7, &absent);
	digest_to_string(&absent, line);
	strcat(line, "\n");
	overwrite_record(f, COMMIT_A, line);
	assert_int_equal(gitsrc_cache_get(&c, &a, &got), -ENOENT);

	/* a good record again, but "last" is cut short */
	assert_int_equal(gitsrc_cache_put(&c, &a, &t1, NULL), 0);
	overwrite_record(f, "last", COMMIT_A); /* no newline */
	assert_int_equal(gitsrc_cache_get(&c, &a, &got), 0);
	assert_false(gitsrc_cache_get_base(&c, &base_commit, &base));
	assert_null(base);
	gitsrc_cache_done(&c);
}

static void
test_put_fails_with_a_message_when_the_dir_cannot_be_made(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *blocker = kl_path_join(f->dir, "blocker");
	_cleanup_free_ char *git_dir = kl_path_join(blocker, "git");
	struct kl_error *err = NULL;
	struct gitsrc_cache c;
	git_oid a = oid(COMMIT_A);
	struct digest t1 = tree_in_store(f, 1);
	int fd;

	fd = open(blocker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644); /* a file where a dir must go */
	assert_true(fd >= 0);
	close(fd);
	gitsrc_cache_init(&c, f->store, git_dir, REPO, "", "");
	assert_true(gitsrc_cache_put(&c, &a, &t1, &err) < 0);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "blocker/git/trees"));
	kl_error_free(err);
	gitsrc_cache_done(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_then_get_finds_the_tree_and_base, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_records_of_another_subdir_or_repository_are_apart,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_or_dangling_records_are_misses, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_put_fails_with_a_message_when_the_dir_cannot_be_made, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
