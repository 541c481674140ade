// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/cacheidx: records written and read back, what prune keeps (records,
 * their parents, image source records) and frees (everything else), its filters, usage, and
 * the per-key lock that makes a second process wait (or give up on a cancel). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "solver/cacheidx.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "tests/unit/test-helpers.h"

struct fixture {
	char *dir;
	struct store *store;
	struct cacheidx *ci;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *root;

	f->dir = test_tmpdir();
	root = xasprintf("%s/store", f->dir);
	if (store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL) <
	        0 ||
	    cacheidx_open(f->store, &f->ci, NULL) < 0)
		return -1;
	free(root);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	cacheidx_free(f->ci);
	store_unref(f->store);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* Blobs written before this are older than what a prune started now spares. */
static void
wait_tick(void)
{
	struct timespec a, b;

	clock_gettime(CLOCK_REALTIME_COARSE, &a);
	do {
		usleep(2000);
		clock_gettime(CLOCK_REALTIME_COARSE, &b);
	} while (a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec);
	usleep(20000);
}

static struct digest
blob(struct fixture *f, const char *content)
{
	struct digest d;

	assert_int_equal(store_ingest_buffer(f->store, content, strlen(content), &d, NULL), 0);
	return d;
}

/* A tree of files with these contents (written to the store with their blobs). */
static struct tree *
tree_of(struct fixture *f, const char *const *contents, size_t n)
{
	struct tree_builder *b = tree_builder_new();
	struct tree *t = NULL;
	struct digest id;

	assert_int_equal(
	    tree_builder_add(b, &(struct tree_entry){.path = "", .type = TREE_DIR, .mode = 0755},
	                     NULL, 0, NULL),
	    0);
	for (size_t i = 0; i < n; i++) {
		char path[32];
		struct tree_entry e = {
		    .type = TREE_REG, .flags = TREE_ENTRY_HAS_DIGEST, .mode = 0644};

		snprintf(path, sizeof(path), "f%zu", i);
		e.path = path;
		e.path_len = strlen(path);
		e.size = strlen(contents[i]);
		e.digest = blob(f, contents[i]);
		assert_int_equal(tree_builder_add(b, &e, NULL, 0, NULL), 0);
	}
	assert_int_equal(tree_builder_write(b, f->store, &id, NULL), 0);
	assert_int_equal(tree_load(f->store, &id, &t, NULL), 0);
	tree_builder_free(b);
	return t;
}

static struct digest
key_of(const char *s)
{
	struct digest d;

	digest_buffer(s, strlen(s), &d);
	return d;
}

static void
put(struct fixture *f, const char *key, struct tree *t, struct tree *parent)
{
	struct digest k = key_of(key);
	const struct cacheidx_entry e = {
	    .key = &k, .tree = t, .parent = parent, .op = "exec", .description = key};

	assert_int_equal(cacheidx_put(f->ci, f->store, &e, NULL), 0);
}

static bool
has(struct fixture *f, const struct digest *d)
{
	return store_has_blob(f->store, d) == 1;
}

static bool
found(struct fixture *f, const char *key, struct cacheidx_hit *h)
{
	struct digest k = key_of(key);
	bool hit = false;

	assert_true(cacheidx_lookup(f->ci, &k, 1, &hit, h, NULL) >= 0);
	return hit;
}

static void
test_records_are_found(void **state)
{
	struct fixture *f = *state;
	const char *c[] = {"one", "two"};
	struct tree *t = tree_of(f, c, 2);
	struct digest keys[2] = {key_of("a"), key_of("missing")};
	struct cacheidx_hit hits[2];
	bool fnd[2];

	put(f, "a", t, NULL);
	assert_int_equal(cacheidx_lookup(f->ci, keys, 2, fnd, hits, NULL), 1);
	assert_true(fnd[0]);
	assert_false(fnd[1]);
	assert_memory_equal(&hits[0].tree, tree_id(t), sizeof(struct digest));
	assert_false(hits[0].has_diff);
	assert_true(hits[0].last_used > 0);
	/* a touch within the minute writes nothing, an old hit is brought up to date */
	hits[0].last_used -= 2 * CACHEIDX_TOUCH_SEC;
	assert_int_equal(cacheidx_touch(f->ci, keys, hits, 1, NULL), 0);
	assert_true(found(f, "a", &hits[1]));
	assert_true(hits[1].last_used > hits[0].last_used);
	tree_unref(t);
}

static void
test_a_hit_tells_when_its_result_was_made(void **state)
{
	struct fixture *f = *state;
	const char *c[] = {"made"};
	struct tree *t = tree_of(f, c, 1);
	struct digest k = key_of("dated"), keys[1] = {key_of("dated")};
	struct cacheidx_entry e = {.key = &k, .tree = t, .op = "exec", .created = 1234567890};
	struct cacheidx_hit h;
	int64_t before = (int64_t)time(NULL);

	assert_int_equal(cacheidx_put(f->ci, f->store, &e, NULL), 0);
	assert_true(found(f, "dated", &h));
	assert_int_equal(h.created, 1234567890);
	assert_true(h.last_used >= before);
	/* a touch leaves created alone */
	h.last_used -= 2 * CACHEIDX_TOUCH_SEC;
	assert_int_equal(cacheidx_touch(f->ci, keys, &h, 1, NULL), 0);
	assert_true(found(f, "dated", &h));
	assert_int_equal(h.created, 1234567890);
	/* 0: now */
	e.created = 0;
	assert_int_equal(cacheidx_put(f->ci, f->store, &e, NULL), 0);
	assert_true(found(f, "dated", &h));
	assert_true(h.created >= before && h.created <= (int64_t)time(NULL));
	tree_unref(t);
}

static void
test_prune_frees_only_what_nothing_needs(void **state)
{
	struct fixture *f = *state;
	const char *c1[] = {"kept-one", "kept-two"}, *c2[] = {"kept-one", "child-new"};
	struct tree *t1 = tree_of(f, c1, 2), *t2 = tree_of(f, c2, 2);
	struct digest orphan = blob(f, "nobody needs me"), k1 = key_of("parent");
	struct digest d1 = key_of("kept-two"), d2;
	struct cacheidx_prune_options o = {0};
	struct cacheidx_prune_stats st;
	struct cacheidx_hit h;

	digest_buffer("kept-two", 8, &d1);
	digest_buffer("child-new", 9, &d2);
	put(f, "parent", t1, NULL);
	put(f, "child", t2, t1);
	/* the parent's record goes; the child's tree was made from it: its blobs stay */
	assert_int_equal(cacheidx_remove(f->ci, &k1, NULL), 0);
	wait_tick();
	assert_int_equal(cacheidx_prune(f->ci, f->store, &o, &st, NULL), 0);
	assert_false(has(f, &orphan));
	assert_true(has(f, tree_id(t2)));
	assert_true(has(f, tree_id(t1)));
	assert_true(has(f, &d1));
	assert_true(has(f, &d2));
	assert_int_equal(st.records_removed, 0);
	assert_int_equal(st.records_kept, 1);
	assert_int_equal(st.blobs_removed, 1);
	assert_true(found(f, "child", &h));
	tree_unref(t1);
	tree_unref(t2);
}

static void
test_prune_all_keeps_image_source_records(void **state)
{
	struct fixture *f = *state;
	const char *c1[] = {"cache-only"}, *c2[] = {"image-content"};
	struct tree *t1 = tree_of(f, c1, 1), *t2 = tree_of(f, c2, 1);
	char *dir = xasprintf("%s/imgsrc/images", store_root(f->store));
	char *rec = xasprintf("%s/%064d", dir, 0), id[DIGEST_STRING_SIZE];
	struct cacheidx_prune_options o = {.all = true};
	struct cacheidx_prune_stats st;
	struct cacheidx_usage u;
	struct cacheidx_hit h;
	struct digest d2;
	int fd;

	digest_buffer("image-content", 13, &d2);
	assert_int_equal(kl_path_mkdir_p(dir, 0755), 0);
	fd = open(rec, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	digest_to_string(tree_id(t2), id);
	assert_int_equal(kl_io_write_all(fd, id, strlen(id)), 0);
	assert_int_equal(kl_io_write_all(fd, "\n", 1), 0);
	close(fd);
	put(f, "r", t1, NULL);
	assert_int_equal(cacheidx_usage(f->ci, f->store, &u, NULL), 0);
	assert_int_equal(u.records, 1);
	assert_true(u.sources_bytes > 0 && u.records_bytes > 0);
	assert_int_equal(u.unused, 0);
	assert_int_equal(u.reclaimable, u.store_bytes - u.sources_bytes);
	wait_tick();
	assert_int_equal(cacheidx_prune(f->ci, f->store, &o, &st, NULL), 0);
	assert_int_equal(st.records_removed, 1);
	assert_false(found(f, "r", &h));
	assert_false(has(f, tree_id(t1)));
	assert_true(has(f, tree_id(t2)));
	assert_true(has(f, &d2));
	free(dir);
	free(rec);
	tree_unref(t1);
	tree_unref(t2);
}

static void
test_prune_filters(void **state)
{
	struct fixture *f = *state;
	const char *c1[] = {"aaaaaaaaaaaaaaaaaaaa"}, *c2[] = {"bbbbbbbbbbbbbbbbbbbb"};
	struct tree *t1 = tree_of(f, c1, 1), *t2 = tree_of(f, c2, 1);
	struct cacheidx_prune_options until = {.until_sec = 3600}, keep = {.keep_storage = 1};
	struct cacheidx_prune_stats st;
	struct cacheidx_hit h;

	put(f, "one", t1, NULL);
	put(f, "two", t2, NULL);
	assert_int_equal(cacheidx_prune(f->ci, f->store, &until, &st, NULL), 0);
	assert_int_equal(st.records_removed, 0);
	assert_int_equal(st.records_kept, 2);
	assert_int_equal(cacheidx_prune(f->ci, f->store, &keep, &st, NULL), 0);
	assert_int_equal(st.records_removed, 2);
	assert_false(found(f, "one", &h) || found(f, "two", &h));
	tree_unref(t1);
	tree_unref(t2);
}

static void
test_a_record_whose_tree_is_gone_is_dropped(void **state)
{
	struct fixture *f = *state;
	const char *c[] = {"x"};
	struct tree *t = tree_of(f, c, 1);
	struct cacheidx_prune_options o = {0};
	struct cacheidx_prune_stats st;
	struct cacheidx_hit h;

	put(f, "r", t, NULL);
	assert_int_equal(store_remove_blob(f->store, tree_id(t), 0), 0);
	assert_int_equal(cacheidx_prune(f->ci, f->store, &o, &st, NULL), 0);
	assert_int_equal(st.records_removed, 1);
	assert_false(found(f, "r", &h));
	tree_unref(t);
}

struct memo_read {
	struct digest tree, what, got;
	int r;
};

static int
memo_read_fn(struct cacheidx *ci, void *userdata, struct kl_error **err)
{
	struct memo_read *m = userdata;

	(void)err;
	m->r = cacheidx_memo_get_in_txn(ci, &m->tree, &m->what, &m->got);
	return 0;
}

static void
test_memos_are_kept_until_prune(void **state)
{
	struct fixture *f = *state;
	struct cacheidx_memo m = {key_of("tree"), key_of("what"), key_of("key")};
	struct memo_read rd = {.tree = m.tree, .what = m.what};
	struct cacheidx_prune_options o = {0};
	struct cacheidx_prune_stats st;

	assert_int_equal(cacheidx_read(f->ci, memo_read_fn, &rd, NULL), 0);
	assert_int_equal(rd.r, -ENOENT);
	assert_int_equal(cacheidx_memo_put(f->ci, &m, 1, NULL), 0);
	assert_int_equal(cacheidx_read(f->ci, memo_read_fn, &rd, NULL), 0);
	assert_int_equal(rd.r, 0);
	assert_memory_equal(&rd.got, &m.key, sizeof(m.key));
	assert_int_equal(cacheidx_prune(f->ci, f->store, &o, &st, NULL), 0);
	assert_int_equal(cacheidx_read(f->ci, memo_read_fn, &rd, NULL), 0);
	assert_int_equal(rd.r, -ENOENT);
}

struct locker {
	struct cacheidx *ci;
	struct digest key;
	int cancel_fd;
	int result;
	struct timespec got;
};

static void *
take_lock(void *arg)
{
	struct locker *l = arg;
	int fd = cacheidx_lock_key(l->ci, &l->key, l->cancel_fd, NULL);

	clock_gettime(CLOCK_MONOTONIC, &l->got);
	l->result = fd < 0 ? fd : 0;
	if (fd >= 0)
		cacheidx_unlock_key(l->ci, &l->key, fd);
	return NULL;
}

static void
test_key_lock_waits_and_cancels(void **state)
{
	struct fixture *f = *state;
	struct locker l = {f->ci, key_of("k"), -1, 1, {0}};
	struct timespec released;
	pthread_t th;
	int held, p[2];

	held = cacheidx_lock_key(f->ci, &l.key, -1, NULL);
	assert_true(held >= 0);
	assert_int_equal(pthread_create(&th, NULL, take_lock, &l), 0);
	usleep(100000);
	assert_int_equal(l.result, 1); /* still waiting */
	clock_gettime(CLOCK_MONOTONIC, &released);
	cacheidx_unlock_key(f->ci, &l.key, held);
	pthread_join(th, NULL);
	assert_int_equal(l.result, 0);
	assert_true(l.got.tv_sec > released.tv_sec ||
	            (l.got.tv_sec == released.tv_sec && l.got.tv_nsec >= released.tv_nsec));

	held = cacheidx_lock_key(f->ci, &l.key, -1, NULL);
	assert_true(held >= 0);
	assert_int_equal(pipe(p), 0);
	l.cancel_fd = p[0];
	l.result = 1;
	assert_int_equal(pthread_create(&th, NULL, take_lock, &l), 0);
	usleep(50000);
	assert_int_equal(write(p[1], "x", 1), 1);
	pthread_join(th, NULL);
	assert_int_equal(l.result, -ECANCELED);
	cacheidx_unlock_key(f->ci, &l.key, held);
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_records_are_found, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_hit_tells_when_its_result_was_made, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_prune_frees_only_what_nothing_needs, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_prune_all_keeps_image_source_records, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_prune_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_record_whose_tree_is_gone_is_dropped, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_key_lock_waits_and_cancels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memos_are_kept_until_prune, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
