// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/provider: the store and local providers, verification (and the store's
 * records that spare it), batches. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree-import.h"
#include "fs/uring.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"
#include "tests/unit/test-helpers.h"

struct fixture {
	char *dir;
	struct store *store;
	struct provider_set *ps;
	struct uring *u;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *root;

	f->dir = test_tmpdir();
	root = kl_path_join(f->dir, "store");
	if (store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL) < 0)
		return -1;
	free(root);
	f->ps = provider_set_new_default(f->store, f->dir);
	if (uring_new(0, &f->u, NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

/* A new store and set over the same root: nothing remembered in memory, as in a new process. */
static void
reopen(struct fixture *f)
{
	char *root = kl_path_join(f->dir, "store");

	provider_set_free(f->ps);
	store_unref(f->store);
	assert_int_equal(
	    store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL), 0);
	f->ps = provider_set_new_default(f->store, f->dir);
	free(root);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	uring_free(f->u);
	provider_set_free(f->ps);
	store_unref(f->store);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* Writes a file of n pseudo-random bytes under the fixture dir; returns its path. */
static char *
make_file(struct fixture *f, const char *name, size_t n, unsigned seed)
{
	char *path = kl_path_join(f->dir, name);
	char *buf = xmalloc(n ? n : 1);
	int fd;

	for (size_t i = 0; i < n; i++)
		buf[i] = (char)((i * 2654435761u + seed) >> 13);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, buf, n), 0);
	close(fd);
	free(buf);
	return path;
}

static char *
locator_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return tree_local_locator_format(path, &st);
}

static void
digest_of_file(const char *path, struct digest *ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(digest_fd(fd, ret), 0);
	close(fd);
}

static void
assert_fd_holds(int fd, const char *path)
{
	struct digest a, b;

	assert_int_equal(digest_fd(fd, &a), 0);
	digest_of_file(path, &b);
	assert_true(digest_equal(&a, &b));
}

/* A small blob (no record) that this process did not write is hashed; once hashed, the store
 * remembers it for this process. */
static void
test_store_blob_is_verified_and_served(void **state)
{
	struct fixture *f = *state;
	struct provider_stats st;
	struct digest d, got;
	int fd;

	assert_int_equal(store_ingest_buffer(f->store, "hello", 5, &d, NULL), 0);
	reopen(f);
	for (int i = 0; i < 2; i++) {
		fd = provider_set_open(
		    f->ps, f->u, &(struct provider_request){.path = "a", .digest = &d, .size = 5},
		    &got, NULL);
		assert_true(fd >= 0);
		assert_true(digest_equal(&d, &got));
		close(fd);
	}
	provider_set_get_stats(f->ps, &st);
	assert_int_equal(st.verified, 1);
	assert_int_equal(st.trusted, 1);
	assert_int_equal(st.fetched, 0);
	assert_int_equal(st.bytes, 5);
}

/* n bytes that depend on seed, ingested into the store. */
static void
ingest_bytes(struct fixture *f, size_t n, unsigned seed, struct digest *ret)
{
	char *buf = xmalloc(n);

	for (size_t i = 0; i < n; i++)
		buf[i] = (char)((i * 2654435761u + seed) >> 11);
	assert_int_equal(store_ingest_buffer(f->store, buf, n, ret, NULL), 0);
	free(buf);
}

static char *
store_path(struct fixture *f, const char *dir, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/store/%s/%s", f->dir, dir, digest_to_hex(d, hex));
}

static bool
has_record(struct fixture *f, const struct digest *d)
{
	char *p = store_path(f, "verified", d);
	bool r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/* Changes one byte of blob d in place behind kiln's back: size kept, mtime too when asked. */
static void
corrupt_blob(struct fixture *f, const struct digest *d, bool keep_mtime)
{
	char *path = store_path(f, "content/sha256", d);
	struct stat before;
	char c;
	int fd;

	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(chmod(path, 0644), 0);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, 4096), 1);
	c ^= 1;
	assert_int_equal(kl_io_pwrite_all(fd, &c, 1, 4096), 0);
	assert_int_equal(fchmod(fd, before.st_mode & 07777), 0);
	if (keep_mtime)
		assert_int_equal(futimens(fd, (struct timespec[2]){before.st_atim, before.st_mtim}),
		                 0);
	close(fd);
	free(path);
}

/* Moves blob d's mtime behind kiln's back: its record no longer vouches for it. */
static void
touch_blob(struct fixture *f, const struct digest *d)
{
	char *path = store_path(f, "content/sha256", d);

	assert_int_equal(
	    utimensat(AT_FDCWD, path, (struct timespec[2]){{0, UTIME_OMIT}, {1000000000, 0}}, 0),
	    0);
	free(path);
}

static int
open_blob(struct fixture *f, const struct digest *d, uint64_t size, struct kl_error **err)
{
	struct digest got;
	int fd = provider_set_open(
	    f->ps, f->u, &(struct provider_request){.path = "big", .digest = d, .size = size}, &got,
	    err);

	if (fd >= 0)
		assert_true(digest_equal(d, &got));
	return fd;
}

/* A blob ingested (or verified) by one process is served by the next without a hash. */
static void
test_recorded_blob_is_served_unhashed_after_reopen(void **state)
{
	struct fixture *f = *state;
	uint64_t n = STORE_RECORD_MIN_SIZE + 3;
	struct provider_stats st;
	struct digest d, got;
	int fd;

	ingest_bytes(f, n, 1, &d);
	reopen(f);
	fd = open_blob(f, &d, n, NULL);
	assert_true(fd >= 0);
	assert_int_equal(digest_fd(fd, &got), 0);
	assert_true(digest_equal(&d, &got));
	close(fd);
	provider_set_get_stats(f->ps, &st);
	assert_int_equal(st.verified, 0);
	assert_int_equal(st.trusted, 1);
	assert_int_equal(st.bytes, 0);
}

/* Bytes changed behind kiln's back (size kept; then the mtime too, as `touch -r` puts it back):
 * the record does not match, the hash fails, -EBADMSG, and the record is gone. */
static void
test_blob_changed_behind_kilns_back_is_refused(void **state)
{
	struct fixture *f = *state;
	uint64_t n = STORE_RECORD_MIN_SIZE * 2;

	for (int keep_mtime = 0; keep_mtime <= 1; keep_mtime++) {
		struct kl_error *err = NULL;
		struct provider_stats st;
		struct digest d;

		ingest_bytes(f, n, 2 + (unsigned)keep_mtime, &d);
		corrupt_blob(f, &d, keep_mtime);
		reopen(f);
		assert_int_equal(open_blob(f, &d, n, &err), -EBADMSG);
		assert_non_null(strstr(err->msg, "corrupt"));
		kl_error_freep(&err);
		assert_false(has_record(f, &d));
		assert_int_equal(open_blob(f, &d, n, NULL), -EBADMSG);
		provider_set_get_stats(f->ps, &st);
		assert_int_equal(st.verified, 0);
		assert_int_equal(st.trusted, 0);
		assert_int_equal(st.failed, 2);
	}
}

#define OPENERS 4

struct opener {
	struct fixture *f;
	const struct digest *d;
	uint64_t size;
	pthread_barrier_t *start;
	int fd;
};

static void *
open_at_once(void *arg)
{
	struct opener *o = arg;
	struct digest got;
	struct uring *u;

	if (uring_new(0, &u, NULL) < 0)
		return NULL;
	pthread_barrier_wait(o->start);
	o->fd = provider_set_open(
	    o->f->ps, u, &(struct provider_request){.path = "big", .digest = o->d, .size = o->size},
	    &got, NULL);
	if (o->fd >= 0 && !digest_equal(o->d, &got)) {
		close(o->fd);
		o->fd = -EBADMSG;
	}
	uring_free(u);
	return NULL;
}

/* Callers opening one blob that needs a hash at the same moment (a read and the lazy
 * filesystem's warming) share one hash of it. */
static void
test_blob_opened_at_once_is_hashed_once(void **state)
{
	struct fixture *f = *state;
	uint64_t n = 32u << 20;
	struct opener o[OPENERS];
	pthread_t th[OPENERS];
	pthread_barrier_t start;
	struct provider_stats st;
	struct digest d, got;

	ingest_bytes(f, n, 9, &d);
	touch_blob(f, &d);
	reopen(f);
	assert_int_equal(pthread_barrier_init(&start, NULL, OPENERS), 0);
	for (int i = 0; i < OPENERS; i++) {
		o[i] = (struct opener){.f = f, .d = &d, .size = n, .start = &start, .fd = -ENOMEM};
		assert_int_equal(pthread_create(&th[i], NULL, open_at_once, &o[i]), 0);
	}
	for (int i = 0; i < OPENERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_true(o[i].fd >= 0);
		assert_int_equal(digest_fd(o[i].fd, &got), 0);
		assert_true(digest_equal(&d, &got));
		close(o[i].fd);
	}
	pthread_barrier_destroy(&start);
	provider_set_get_stats(f->ps, &st);
	assert_int_equal(st.verified, 1);
	assert_int_equal(st.bytes, n);
}

/* A touched blob is hashed again (its bytes are good), recorded, then trusted by the next. */
static void
test_touched_blob_is_hashed_again_then_trusted(void **state)
{
	struct fixture *f = *state;
	uint64_t n = STORE_RECORD_MIN_SIZE;
	struct provider_stats st;
	struct digest d;
	int fd;

	ingest_bytes(f, n, 4, &d);
	touch_blob(f, &d);
	reopen(f);
	fd = open_blob(f, &d, n, NULL);
	assert_true(fd >= 0);
	close(fd);
	provider_set_get_stats(f->ps, &st);
	assert_int_equal(st.verified, 1);
	assert_int_equal(st.trusted, 0);
	reopen(f);
	fd = open_blob(f, &d, n, NULL);
	assert_true(fd >= 0);
	close(fd);
	provider_set_get_stats(f->ps, &st);
	assert_int_equal(st.verified, 0);
	assert_int_equal(st.trusted, 1);
}

/* A batch reads nothing of a recorded blob, hashes a small one and refuses a corrupt one. */
static void
test_batch_trusts_recorded_blobs_and_refuses_corrupt_ones(void **state)
{
	struct fixture *f = *state;
	uint64_t n = STORE_RECORD_MIN_SIZE + 5;
	struct kl_error *err = NULL;
	struct provider_stats st;
	struct digest good, bad, small, ds[3];
	struct provider_request reqs[3];
	int results[3];

	ingest_bytes(f, n, 5, &good);
	ingest_bytes(f, n, 6, &bad);
	ingest_bytes(f, 100, 7, &small);
	corrupt_blob(f, &bad, true);
	reopen(f);
	reqs[0] = (struct provider_request){.path = "good", .digest = &good, .size = n};
	reqs[1] = (struct provider_request){.path = "bad", .digest = &bad, .size = n};
	reqs[2] = (struct provider_request){.path = "small", .digest = &small, .size = 100};
	assert_int_equal(provider_set_fetch_batch(f->ps, f->u, reqs, 3, results, ds, &err),
	                 -EBADMSG);
	assert_non_null(strstr(err->msg, "bad"));
	kl_error_free(err);
	assert_int_equal(results[0], 0);
	assert_true(digest_equal(&ds[0], &good));
	assert_int_equal(results[1], -EBADMSG);
	assert_int_equal(results[2], 0);
	assert_true(digest_equal(&ds[2], &small));
	assert_false(has_record(f, &bad));
	provider_set_get_stats(f->ps, &st);
	assert_int_equal(st.trusted, 1);
	assert_int_equal(st.verified, 1);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.bytes, n + 100);
}

static void
test_corrupt_store_blob_fails_with_ebadmsg(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	struct digest d, got;
	char *path;
	int fd;

	assert_int_equal(store_ingest_buffer(f->store, "hello", 5, &d, NULL), 0);
	path = xasprintf("%s/store/content/sha256/%s", f->dir, digest_to_hex(&d, hex));
	chmod(path, 0644);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(kl_io_pwrite_all(fd, "J", 1, 0), 0);
	close(fd);
	free(path);
	fd = provider_set_open(f->ps, f->u,
	                       &(struct provider_request){.path = "a", .digest = &d, .size = 5},
	                       &got, &err);
	assert_int_equal(fd, -EBADMSG);
	assert_non_null(strstr(err->msg, "corrupt"));
	assert_non_null(strstr(err->msg, hex));
	kl_error_free(err);
}

static void
test_missing_content_without_locator_is_enoent(void **state)
{
	struct fixture *f = *state;
	struct digest d = {{1, 2, 3}}, got;

	assert_int_equal(provider_set_open(f->ps, f->u,
	                                   &(struct provider_request){.digest = &d, .size = 1},
	                                   &got, NULL),
	                 -ENOENT);
}

static void
test_local_file_is_ingested_and_hashed(void **state)
{
	struct fixture *f = *state;
	char *path = make_file(f, "big", 3u << 20, 1), *loc = locator_of(path);
	struct provider_stats st;
	struct digest want, got;
	int fd;

	digest_of_file(path, &want);
	fd = provider_set_open(
	    f->ps, f->u,
	    &(struct provider_request){
	        .path = "big", .locator = loc, .locator_len = strlen(loc), .size = 3u << 20},
	    &got, NULL);
	assert_true(fd >= 0);
	assert_true(digest_equal(&want, &got));
	assert_fd_holds(fd, path);
	close(fd);
	assert_int_equal(store_has_blob(f->store, &want), 1);
	provider_set_get_stats(f->ps, &st);
	assert_int_equal(st.fetched, 1);
	free(loc);
	free(path);
}

/* A store_only request never fetches: absent from the store it is -ENOENT (not a failure) even
 * with a locator that could provide it; present, it is verified like any other. */
static void
test_store_only_request_never_fetches(void **state)
{
	struct fixture *f = *state;
	char *path = make_file(f, "f", 3000, 3), *loc = locator_of(path);
	struct provider_request req = {.path = "f",
	                               .locator = loc,
	                               .locator_len = strlen(loc),
	                               .size = 3000,
	                               .store_only = true};
	struct kl_error *err = NULL;
	struct provider_stats st;
	struct digest want, got;
	int fd;

	digest_of_file(path, &want);
	req.digest = &want;
	assert_int_equal(provider_set_open(f->ps, f->u, &req, &got, &err), -ENOENT);
	assert_null(err);
	assert_int_equal(store_has_blob(f->store, &want), 0);
	provider_set_get_stats(f->ps, &st);
	assert_int_equal(st.fetched, 0);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.bytes, 0);

	req.store_only = false;
	fd = provider_set_open(f->ps, f->u, &req, &got, NULL);
	assert_true(fd >= 0);
	close(fd);
	reopen(f); /* the blob is no longer this process's own: hashed again */
	req.store_only = true;
	fd = provider_set_open(f->ps, f->u, &req, &got, NULL);
	assert_true(fd >= 0);
	assert_true(digest_equal(&want, &got));
	assert_fd_holds(fd, path);
	close(fd);
	provider_set_get_stats(f->ps, &st);
	assert_int_equal(st.verified, 1);
	assert_int_equal(st.fetched, 0);
	free(loc);
	free(path);
}

static void
test_local_file_changed_since_scan_fails_with_eio(void **state)
{
	struct fixture *f = *state;
	char *path = make_file(f, "f", 100, 1), *loc = locator_of(path);
	struct kl_error *err = NULL;
	struct digest got;

	free(make_file(f, "f", 100, 2)); /* same size, new bytes, new mtime/ctime */
	utimensat(AT_FDCWD, path, (struct timespec[2]){{0, UTIME_OMIT}, {12345, 0}}, 0);
	assert_int_equal(provider_set_open(f->ps, f->u,
	                                   &(struct provider_request){.path = "f",
	                                                              .locator = loc,
	                                                              .locator_len = strlen(loc),
	                                                              .size = 100},
	                                   &got, &err),
	                 -EIO);
	assert_non_null(strstr(err->msg, "changed"));
	assert_non_null(strstr(err->msg, path));
	kl_error_free(err);
	free(loc);
	free(path);
}

static void
test_local_bytes_must_match_known_digest(void **state)
{
	struct fixture *f = *state;
	char *path = make_file(f, "f", 100, 1), *loc = locator_of(path);
	struct digest wrong = {{9}}, got;

	assert_int_equal(provider_set_open(f->ps, f->u,
	                                   &(struct provider_request){.path = "f",
	                                                              .locator = loc,
	                                                              .locator_len = strlen(loc),
	                                                              .digest = &wrong,
	                                                              .size = 100},
	                                   &got, NULL),
	                 -EBADMSG);
	assert_int_equal(store_has_blob(f->store, &wrong), 0);
	free(loc);
	free(path);
}

static void
test_local_path_outside_root_is_refused(void **state)
{
	struct fixture *f = *state;
	const char *loc = "local:1:2:3:4.000000000:5.000000000:/etc/passwd";
	struct digest got;

	assert_int_equal(
	    provider_set_open(
	        f->ps, f->u,
	        &(struct provider_request){.locator = loc, .locator_len = strlen(loc), .size = 3},
	        &got, NULL),
	    -EPERM);
}

static void
test_unknown_scheme_is_enotsup(void **state)
{
	struct fixture *f = *state;
	const char *loc = "nope:whatever";
	struct digest got;

	assert_int_equal(
	    provider_set_open(
	        f->ps, f->u,
	        &(struct provider_request){.locator = loc, .locator_len = strlen(loc), .size = 3},
	        &got, NULL),
	    -ENOTSUP);
}

/* A provider that is not fd-backed: writes "fake:<text>"'s text as the content. */
static int
fake_fetch(void *data, const struct provider_request *req, struct store_writer *w,
           struct kl_error **err)
{
	(*(int *)data)++;
	return store_writer_write(w, req->locator + 5, req->locator_len - 5, err);
}

static const struct provider_ops fake_ops = {.scheme = "fake", .fetch = fake_fetch};

static void
test_generic_provider_and_store_locator(void **state)
{
	struct fixture *f = *state;
	static int calls;
	const char *loc = "fake:some bytes";
	char sloc[DIGEST_STRING_SIZE];
	struct digest want, got;
	int fd;

	provider_set_add(f->ps, &fake_ops, &calls);
	digest_buffer("some bytes", 10, &want);
	fd = provider_set_open(
	    f->ps, f->u,
	    &(struct provider_request){
	        .locator = loc, .locator_len = strlen(loc), .digest = &want, .size = 10},
	    &got, NULL);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(calls, 1);
	/* Now in the store: a "sha256:" locator finds it there. */
	digest_to_string(&want, sloc);
	fd = provider_set_open(
	    f->ps, f->u,
	    &(struct provider_request){.locator = sloc, .locator_len = strlen(sloc), .size = 10},
	    &got, NULL);
	assert_true(fd >= 0);
	close(fd);
	assert_true(digest_equal(&want, &got));
	assert_int_equal(calls, 1);
}

static void
test_batch_fetches_all_and_reports_failures(void **state)
{
	struct fixture *f = *state;
	enum { N = 40 };
	struct provider_request reqs[N];
	char *paths[N], *locs[N];
	struct digest ds[N], stored;
	struct kl_error *err = NULL;
	int results[N];

	assert_int_equal(store_ingest_buffer(f->store, "in the store", 12, &stored, NULL), 0);
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		paths[i] = make_file(f, name, (size_t)i * 37000 + 1, (unsigned)i);
		locs[i] = locator_of(paths[i]);
		reqs[i] = (struct provider_request){.path = paths[i],
		                                    .locator = locs[i],
		                                    .locator_len = strlen(locs[i]),
		                                    .size = (size_t)i * 37000 + 1};
	}
	reqs[7] = (struct provider_request){.digest = &stored, .size = 12};
	free(make_file(f, "f13", 13 * 37000 + 1, 99)); /* changed after its "scan" */
	utimensat(AT_FDCWD, paths[13], (struct timespec[2]){{0, UTIME_OMIT}, {1, 0}}, 0);

	assert_int_equal(provider_set_fetch_batch(f->ps, f->u, reqs, N, results, ds, &err), -EIO);
	assert_non_null(strstr(err->msg, "f13"));
	kl_error_free(err);
	for (int i = 0; i < N; i++) {
		if (i == 13) {
			assert_int_equal(results[i], -EIO);
		} else if (i == 7) {
			assert_int_equal(results[i], 0);
			assert_true(digest_equal(&ds[i], &stored));
		} else {
			struct digest want;
			assert_int_equal(results[i], 0);
			digest_of_file(paths[i], &want);
			assert_true(digest_equal(&ds[i], &want));
			assert_int_equal(store_has_blob(f->store, &want), 1);
		}
		free(paths[i]);
		free(locs[i]);
	}
}

/* The hand-made formatter writes what printf would, and the parser reads every field back. */
static void
test_local_locator_round_trip(void **state)
{
	const struct {
		uint64_t dev, ino, size;
		int64_t msec, csec;
		long mnsec, cnsec;
	} cases[] = {
	    {0, 0, 0, 0, 0, 0, 0},
	    {2049, 1234567, 42, 1795433851, 1795433852, 5, 999999999},
	    {UINT64_MAX, UINT64_MAX, UINT64_MAX, INT64_MAX, -1, 100, 0},
	    {7, 8, 9, -86400, INT64_MIN + 1, 0, 1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stat st = {0};
		struct tree_local_locator l;
		char *got, *want;

		st.st_mode = S_IFREG | 0644;
		st.st_dev = (dev_t)cases[i].dev;
		st.st_ino = (ino_t)cases[i].ino;
		st.st_size = (off_t)cases[i].size;
		st.st_mtim = (struct timespec){(time_t)cases[i].msec, cases[i].mnsec};
		st.st_ctim = (struct timespec){(time_t)cases[i].csec, cases[i].cnsec};
		got = tree_local_locator_format("/a b/c:d", &st);
		want = xasprintf("local:%" PRIu64 ":%" PRIu64 ":%" PRIu64 ":%" PRId64
		                 ".%09ld:%" PRId64 ".%09ld:/a b/c:d",
		                 (uint64_t)st.st_dev, (uint64_t)st.st_ino, (uint64_t)st.st_size,
		                 (int64_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		                 (int64_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
		assert_string_equal(got, want);
		if (cases[i].size <= INT64_MAX) {
			assert_int_equal(tree_local_locator_parse(got, strlen(got), &l), 0);
			assert_true(tree_local_locator_matches(&l, &st));
			assert_int_equal(l.path_len, strlen("/a b/c:d"));
		}
		free(got);
		free(want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_store_blob_is_verified_and_served, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_store_blob_fails_with_ebadmsg, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_recorded_blob_is_served_unhashed_after_reopen,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blob_changed_behind_kilns_back_is_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_touched_blob_is_hashed_again_then_trusted, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_blob_opened_at_once_is_hashed_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_batch_trusts_recorded_blobs_and_refuses_corrupt_ones, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_content_without_locator_is_enoent, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_local_file_is_ingested_and_hashed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_store_only_request_never_fetches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_local_file_changed_since_scan_fails_with_eio,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_local_bytes_must_match_known_digest, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_local_path_outside_root_is_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_scheme_is_enotsup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generic_provider_and_store_locator, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_batch_fetches_all_and_reports_failures, setup,
	                                    teardown),
	    cmocka_unit_test(test_local_locator_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
