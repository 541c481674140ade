// SPDX-License-Identifier: Apache-2.0
/* Integration test for lazyfs_prefetch: contents prefetched into a mounted lazyfs are then
 * read through the mount without another fetch. Mounts FUSE in-process (root, /dev/fuse).
 *
 * The tree is a directory scanned with "local:" locators, so every first read of a file is a
 * fetch from the source directory. After the prefetch the prefetched sources are deleted: a
 * read that fetched would fail, one served from the store returns the old bytes. A file left
 * out of the prefetch is the control: reading it fetches, and the stats show it.
 *
 * The test runs in a mount namespace of its own, so its mount goes with the process however it
 * ends (a crash or a sanitizer abort included). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/lazyfs.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree-import.h"
#include "fs/tree.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"
#include "tests/unit/test-helpers.h"

#define BIG_SIZE (300u * 1024 + 17) /* more than one FUSE read */

struct fixture {
	char *dir, *src, *mnt;
	struct store *store;
	struct tree *tree;
	struct lazyfs *fs;
	pthread_t server;
	bool serving;
	int serve_result;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool ready; /* protected by lock */
};

static void
write_file(const char *dir, const char *name, const char *buf, size_t n)
{
	_cleanup_free_ char *p = kl_path_join(dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, buf, n), 0);
	close(fd);
}

/* The bytes of a file of the fixture, by name: "big" is pseudo-random, the others small. */
static char *
content_of(const char *name, size_t *ret_len)
{
	char *buf;

	if (strcmp(name, "big") == 0) {
		buf = xmalloc(BIG_SIZE);
		for (size_t i = 0; i < BIG_SIZE; i++)
			buf[i] = (char)((i * 2654435761u) >> 13);
		*ret_len = BIG_SIZE;
		return buf;
	}
	buf = xasprintf("the content of %s\n", name);
	*ret_len = strlen(buf);
	return buf;
}

static void
on_ready(void *userdata)
{
	struct fixture *f = userdata;

	pthread_mutex_lock(&f->lock);
	f->ready = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void *
serve_thread(void *userdata)
{
	struct fixture *f = userdata;

	f->serve_result = lazyfs_serve(f->fs, NULL);
	return NULL;
}

static int
setup(void **state)
{
	static const char *const small[] = {"a.txt", "dir/b.txt", "control.txt"};
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct kl_error *err = NULL;
	_cleanup_free_ char *root = NULL, *sub = NULL, *big = NULL, *hard = NULL;
	struct digest id;
	char *buf;
	size_t n;

	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	*state = f;
	f->dir = test_tmpdir();
	f->src = kl_path_join(f->dir, "src");
	f->mnt = kl_path_join(f->dir, "mnt");
	root = kl_path_join(f->dir, "store");
	sub = kl_path_join(f->src, "dir");
	big = kl_path_join(f->src, "big");
	hard = kl_path_join(f->src, "dir/big-link");
	assert_int_equal(kl_path_mkdir_p(sub, 0755), 0);
	assert_int_equal(kl_path_mkdir_p(f->mnt, 0755), 0);
	for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
		buf = content_of(small[i], &n);
		write_file(f->src, small[i], buf, n);
		free(buf);
	}
	buf = content_of("big", &n);
	write_file(f->src, "big", buf, n);
	free(buf);
	write_file(f->src, "empty", "", 0);
	assert_int_equal(link(big, hard), 0);

	assert_int_equal(
	    store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, &err), 0);
	assert_int_equal(tree_import_dir(f->store, f->src,
	                                 &(struct tree_import_options){.mode = TREE_IMPORT_LOCATE},
	                                 &id, &err),
	                 0);
	assert_int_equal(tree_load(f->store, &id, &f->tree, &err), 0);
	assert_int_equal(lazyfs_new(f->store,
	                            &(struct lazyfs_options){
	                                .root_tree = &id,
	                                .providers = provider_set_new_default(f->store, f->src),
	                                .max_threads = 4,
	                                .ready = on_ready,
	                                .ready_userdata = f,
	                            },
	                            &f->fs, &err),
	                 0);
	assert_int_equal(lazyfs_mount(f->fs, f->mnt, &err), 0);
	assert_int_equal(pthread_create(&f->server, NULL, serve_thread, f), 0);
	f->serving = true;
	pthread_mutex_lock(&f->lock);
	while (!f->ready)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	/* As a user's umount would: the detached mount ends the serving loop. */
	if (f->serving) {
		assert_int_equal(umount2(f->mnt, MNT_DETACH), 0);
		pthread_join(f->server, NULL);
		assert_int_equal(f->serve_result, 0);
	}
	lazyfs_free(f->fs);
	tree_unref(f->tree);
	store_unref(f->store);
	test_rmdir(f->dir);
	free(f->src);
	free(f->mnt);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static uint32_t
entry(const struct fixture *f, const char *path)
{
	uint32_t idx;

	assert_int_equal(tree_lookup(f->tree, path, strlen(path), &idx), 0);
	return idx;
}

/* Reads name through the mount and checks it holds the fixture's bytes for content. */
static void
assert_mount_serves(const struct fixture *f, const char *name, const char *content)
{
	_cleanup_free_ char *p = kl_path_join(f->mnt, name);
	_cleanup_free_ char *want = NULL, *got = NULL;
	size_t n;
	ssize_t r;
	int fd;

	want = content_of(content, &n);
	got = xmalloc(n + 1);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("opening '%s': %s", p, strerror(errno));
	r = kl_io_read_full(fd, got, n + 1);
	close(fd);
	if (r < 0)
		fail_msg("reading '%s': %s", p, strerror((int)-r));
	assert_int_equal(r, n);
	assert_memory_equal(got, want, n);
}

static void
remove_source(const struct fixture *f, const char *name)
{
	_cleanup_free_ char *p = kl_path_join(f->src, name);

	assert_int_equal(unlink(p), 0);
}

static void
test_prefetched_contents_are_read_without_a_fetch(void **state)
{
	struct fixture *f = *state;
	const uint32_t want[] = {
	    entry(f, "a.txt"), entry(f, "dir/b.txt"), entry(f, "dir/big-link"), /* big, via link */
	    entry(f, "empty"), entry(f, "dir"), /* skipped: empty, not a file */
	};
	struct kl_error *err = NULL;
	struct lazyfs_stats before, after;

	lazyfs_get_stats(f->fs, &before);
	assert_int_equal(before.fetched, 0);
	assert_int_equal(
	    lazyfs_prefetch(f->fs, f->tree, want, sizeof(want) / sizeof(want[0]), &err), 0);
	lazyfs_get_stats(f->fs, &after);
	assert_int_equal(after.fetched, 3);
	assert_int_equal(after.failed, 0);
	assert_int_equal(after.bytes, strlen("the content of a.txt\n") +
	                                  strlen("the content of dir/b.txt\n") + BIG_SIZE);

	/* From here a fetch of these would fail: their sources are gone. */
	remove_source(f, "a.txt");
	remove_source(f, "dir/b.txt");
	remove_source(f, "big");
	remove_source(f, "dir/big-link");
	before = after;
	assert_mount_serves(f, "a.txt", "a.txt");
	assert_mount_serves(f, "dir/b.txt", "dir/b.txt");
	assert_mount_serves(f, "big", "big");
	assert_mount_serves(f, "dir/big-link", "big");
	lazyfs_get_stats(f->fs, &after);
	assert_int_equal(after.fetched, before.fetched);
	assert_int_equal(after.verified, before.verified);
	assert_int_equal(after.bytes, before.bytes);
	assert_int_equal(after.failed, 0);

	/* The control: a file left out is fetched when read. */
	assert_mount_serves(f, "control.txt", "control.txt");
	lazyfs_get_stats(f->fs, &after);
	assert_int_equal(after.fetched, before.fetched + 1);

	/* Prefetching what was resolved already fetches nothing. */
	assert_int_equal(lazyfs_prefetch(f->fs, f->tree, want, 2, &err), 0);
	lazyfs_get_stats(f->fs, &before);
	assert_int_equal(before.fetched, after.fetched);
}

static void
test_prefetch_fails_for_an_entry_past_the_end(void **state)
{
	struct fixture *f = *state;
	const uint32_t bad[] = {entry(f, "a.txt"), tree_count(f->tree)};
	struct kl_error *err = NULL;
	struct lazyfs_stats st;

	assert_int_equal(lazyfs_prefetch(f->fs, f->tree, bad, 2, &err), -EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "past the end"));
	kl_error_free(err);
	lazyfs_get_stats(f->fs, &st);
	assert_int_equal(st.fetched, 0);
}

static void
test_a_failed_entry_does_not_stop_the_others(void **state)
{
	struct fixture *f = *state;
	const uint32_t want[] = {entry(f, "a.txt"), entry(f, "control.txt")};
	struct kl_error *err = NULL;
	struct lazyfs_stats st;

	/* a.txt changes size after the scan: its prefetch fails, control.txt's still succeeds */
	write_file(f->src, "a.txt", "changed", 7);
	assert_int_equal(lazyfs_prefetch(f->fs, f->tree, want, 2, &err), -EIO);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "a.txt"));
	kl_error_free(err);
	lazyfs_get_stats(f->fs, &st);
	assert_int_equal(st.fetched, 1);
	assert_int_equal(st.failed, 1);
	remove_source(f, "control.txt");
	assert_mount_serves(f, "control.txt", "control.txt");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_prefetched_contents_are_read_without_a_fetch,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prefetch_fails_for_an_entry_past_the_end, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_a_failed_entry_does_not_stop_the_others, setup,
	                                    teardown),
	};

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
		if (getenv("KILN_TEST_NO_SKIP")) {
			fprintf(stderr, "FAIL: cannot run here: needs root and /dev/fuse\n");
			return 1;
		}
		printf("SKIP: needs root and /dev/fuse\n");
		return 77;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "FAIL: a private mount namespace: %s\n", strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
