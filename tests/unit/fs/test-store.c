// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/store: ingest, dedup, concurrent ingest, corruption, leftovers, and the
 * verification records and trust sets that spare a hash across processes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/store.h"
#include "util/error.h"
#include "util/io.h"
#include "tests/unit/test-helpers.h"

struct fixture {
	char *dir;
	struct store *store;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	f->dir = test_tmpdir();
	if (store_open(f->dir, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL) <
	    0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_unref(f->store);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

static char *
blob_path(struct fixture *f, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/content/sha256/%s", f->dir, digest_to_hex(d, hex));
}

static void
test_ingest_buffer_then_read_back(void **state)
{
	struct fixture *f = *state;
	struct digest d, want;
	char *buf;
	size_t len;

	digest_buffer("hello", 5, &want);
	assert_int_equal(store_ingest_buffer(f->store, "hello", 5, &d, NULL), 0);
	assert_true(digest_equal(&d, &want));
	assert_int_equal(store_has_blob(f->store, &d), 1);
	assert_int_equal(store_read_blob(f->store, &d, 100, &buf, &len, NULL), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	free(buf);
	/* the same bytes again: one blob */
	assert_int_equal(store_ingest_buffer(f->store, "hello", 5, &d, NULL), 0);
	char *content = xasprintf("%s/content/sha256", f->dir);
	assert_int_equal(test_count_files(content), 1);
	free(content);
}

static void
test_absent_blob_is_enoent_without_message(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	struct digest d;

	digest_buffer("never stored", 12, &d);
	assert_int_equal(store_open_blob(f->store, &d, &err), -ENOENT);
	assert_null(err);
	assert_int_equal(store_has_blob(f->store, &d), 0);
}

static void
test_commit_with_wrong_expected_digest_stores_nothing(void **state)
{
	struct fixture *f = *state;
	struct store_writer *w;
	struct kl_error *err = NULL;
	struct digest wrong, d;
	char *ingest = xasprintf("%s/ingest", f->dir);

	digest_buffer("other", 5, &wrong);
	assert_int_equal(store_writer_begin(f->store, &w, NULL), 0);
	assert_int_equal(store_writer_write(w, "hello", 5, NULL), 0);
	assert_int_equal(store_writer_commit(w, &wrong, &d, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, "does not match"));
	kl_error_freep(&err);
	digest_buffer("hello", 5, &d);
	assert_int_equal(store_has_blob(f->store, &d), 0);
	assert_int_equal(test_count_files(ingest), 1); /* only this store's lock file */
	free(ingest);
}

static void
test_corrupt_blob_is_detected_and_not_served(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	struct digest d;
	char *path, *buf;
	size_t len;
	int fd;

	assert_int_equal(store_ingest_buffer(f->store, "precious", 8, &d, NULL), 0);
	path = blob_path(f, &d);
	assert_int_equal(chmod(path, 0644), 0);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(kl_io_pwrite_all(fd, "X", 1, 0), 0);
	close(fd);
	assert_int_equal(store_verify_blob(f->store, &d), -EBADMSG);
	assert_int_equal(store_open_blob_verified(f->store, &d, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, "corrupt"));
	kl_error_freep(&err);
	assert_int_equal(store_read_blob(f->store, &d, 100, &buf, &len, &err), -EBADMSG);
	kl_error_freep(&err);
	free(path);
}

struct ingest_job {
	struct store *store;
	const char *data;
	size_t len;
	struct digest got;
	int r;
};

static void *
ingest_thread(void *p)
{
	struct ingest_job *j = p;

	j->r = store_ingest_buffer(j->store, j->data, j->len, &j->got, NULL);
	return NULL;
}

static void
test_concurrent_ingest_of_same_blob_all_succeed(void **state)
{
	struct fixture *f = *state;
	enum { N = 16 };
	size_t len = 4 << 20;
	char *data = xmalloc(len);
	struct ingest_job jobs[N];
	pthread_t th[N];
	struct digest want;

	for (size_t i = 0; i < len; i++)
		data[i] = (char)(i * 7);
	digest_buffer(data, len, &want);
	for (int i = 0; i < N; i++) {
		jobs[i] = (struct ingest_job){.store = f->store, .data = data, .len = len};
		assert_int_equal(pthread_create(&th[i], NULL, ingest_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].r, 0);
		assert_true(digest_equal(&jobs[i].got, &want));
	}
	assert_int_equal(store_verify_blob(f->store, &want), 0);
	free(data);
}

static void
test_concurrent_ingest_from_processes_leaves_one_good_copy(void **state)
{
	struct fixture *f = *state;
	enum { N = 4 };
	size_t len = 8 << 20;
	char *data = xmalloc(len);
	struct digest want;
	pid_t pids[N];

	memset(data, 'k', len);
	digest_buffer(data, len, &want);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct store *s;
			struct digest d;
			if (store_open(f->dir, NULL, &s, NULL) < 0 ||
			    store_ingest_buffer(s, data, len, &d, NULL) < 0)
				_exit(1);
			store_unref(s);
			_exit(digest_equal(&d, &want) ? 0 : 1);
		}
	}
	for (int i = 0; i < N; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(store_verify_blob(f->store, &want), 0);
	free(data);
}

static void
test_killed_ingest_leaves_nothing_visible_and_is_cleaned(void **state)
{
	struct fixture *f = *state;
	char *ingest = xasprintf("%s/ingest", f->dir),
	     *content = xasprintf("%s/content/sha256", f->dir);
	struct store *s2;
	int ready[2], status;
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		struct store_writer *w;
		if (store_open(f->dir, NULL, &s, NULL) < 0 || store_writer_begin(s, &w, NULL) < 0 ||
		    store_writer_write(w, "partial", 7, NULL) < 0)
			_exit(1);
		(void)write(ready[1], "x", 1);
		pause(); /* killed mid-ingest */
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	/* our lock + the dead one's lock + its temporary file, in a directory of its own */
	assert_int_equal(test_count_files(ingest), 3);
	assert_int_equal(test_count_entries(ingest, false), 3);
	assert_int_equal(test_count_files(content), 0);
	assert_int_equal(store_open(f->dir, NULL, &s2, NULL), 0);
	/* ours + the new store's lock: the dead process's files and directory are gone */
	assert_int_equal(test_count_files(ingest), 2);
	assert_int_equal(test_count_entries(ingest, false), 2);
	store_unref(s2);
	close(ready[0]);
	close(ready[1]);
	free(ingest);
	free(content);
}

/* A store's temporary files live in ingest/<token>/, gone when it closes; files a kiln of the
 * old layout left (ingest/<token>.<n>, no lock held) are removed as before. */
static void
test_temporary_dir_goes_with_its_store_and_old_leftovers_are_removed(void **state)
{
	struct fixture *f = *state;
	char *ingest = xasprintf("%s/ingest", f->dir),
	     *old = xasprintf("%s/0123456789abcdef0123456789abcdef.7", ingest);
	struct store *s2;
	int fd;

	assert_int_equal(store_open(f->dir, NULL, &s2, NULL), 0);
	assert_int_equal(test_count_entries(ingest, false),
	                 2); /* two locks: no directory before a write */
	assert_int_equal(store_ingest_buffer(s2, "temporary", 9, NULL, NULL), 0);
	assert_int_equal(test_count_entries(ingest, false), 3); /* s2's directory, empty again */
	assert_int_equal(test_count_files(ingest), 2);
	store_unref(s2);
	assert_int_equal(test_count_entries(ingest, false), 1);
	fd = open(old, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_open(f->dir, NULL, &s2, NULL), 0);
	assert_int_equal(test_count_entries(ingest, false), 2);
	assert_int_equal(access(old, F_OK), -1);
	store_unref(s2);
	free(ingest);
	free(old);
}

/* kiln mount's server is a fork of the process that opened the store: when the parent lets
 * go first, the child's temporary files (and its token) stay, also through another open's
 * cleanup, and its ingests still work. */
static void
test_forked_child_keeps_its_token_after_the_parent_closes(void **state)
{
	struct fixture *f = *state;
	char *ingest = xasprintf("%s/ingest", f->dir);
	int go[2], done[2], status;
	struct store *s, *s2;
	struct digest d;
	pid_t pid;
	char c;

	assert_int_equal(store_open(f->dir, NULL, &s, NULL), 0);
	assert_int_equal(store_ingest_buffer(s, "before", 6, NULL, NULL), 0);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int r;

		if (read(go[0], &c, 1) != 1)
			_exit(2);
		r = store_ingest_buffer(s, "after", 5, NULL, NULL);
		(void)!write(done[1], "x", 1);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		store_unref(s);
		_exit(r < 0);
	}
	store_unref(s);                                           /* the parent first */
	assert_int_equal(store_open(f->dir, NULL, &s2, NULL), 0); /* its cleanup runs */
	assert_int_equal(test_count_entries(ingest, false),
	                 4); /* the fixture's and s2's locks, s's lock and dir */
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(read(done[0], &c, 1), 1);
	digest_buffer("after", 5, &d);
	assert_int_equal(store_has_blob(s2, &d), 1);
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(test_count_entries(ingest, false), 2); /* the child, last, cleaned up */
	store_unref(s2);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(done[i]);
	}
	free(ingest);
}

static void
test_batch_makes_blobs_visible_only_at_commit(void **state)
{
	struct fixture *f = *state;
	struct store_batch *b = store_batch_new(f->store);
	struct store_writer *w;
	struct digest d;

	assert_int_equal(store_writer_begin(f->store, &w, NULL), 0);
	assert_int_equal(store_writer_write(w, "batched", 7, NULL), 0);
	assert_int_equal(store_writer_commit_batch(w, b, NULL, &d, NULL), 0);
	assert_int_equal(store_has_blob(f->store, &d), 0);
	assert_int_equal(store_batch_commit(b, NULL), 0);
	assert_int_equal(store_has_blob(f->store, &d), 1);
	store_batch_free(b);
}

static int
count_cb(const struct digest *d, uint64_t size, void *userdata)
{
	(void)d;
	*(uint64_t *)userdata += size;
	return 0;
}

static void
test_foreach_lists_every_blob(void **state)
{
	struct fixture *f = *state;
	uint64_t total = 0;

	assert_int_equal(store_ingest_buffer(f->store, "abc", 3, NULL, NULL), 0);
	assert_int_equal(store_ingest_buffer(f->store, "defgh", 5, NULL, NULL), 0);
	assert_int_equal(store_foreach_blob(f->store, count_cb, &total, NULL), 0);
	assert_int_equal(total, 8);
	/* a second walk in the same process sees them all again */
	total = 0;
	assert_int_equal(store_foreach_blob(f->store, count_cb, &total, NULL), 0);
	assert_int_equal(total, 8);
}

static void
test_read_only_store_refuses_writes(void **state)
{
	struct fixture *f = *state;
	struct store *ro;
	struct store_writer *w;
	struct kl_error *err = NULL;

	assert_int_equal(
	    store_open(f->dir, &(struct store_options){.flags = STORE_READ_ONLY}, &ro, NULL), 0);
	assert_int_equal(store_writer_begin(ro, &w, &err), -EROFS);
	kl_error_freep(&err);
	store_unref(ro);
}

/* n bytes that depend on seed. */
static char *
make_bytes(size_t n, unsigned seed)
{
	char *buf = xmalloc(n);

	for (size_t i = 0; i < n; i++)
		buf[i] = (char)((i * 2654435761u + seed) >> 11);
	return buf;
}

/* Ingests a blob of n bytes made from seed. */
static void
ingest_bytes(struct fixture *f, size_t n, unsigned seed, struct digest *ret)
{
	char *buf = make_bytes(n, seed);

	assert_int_equal(store_ingest_buffer(f->store, buf, n, ret, NULL), 0);
	free(buf);
}

/* A new store over the same root: nothing remembered in memory, as in a new process. */
static void
reopen(struct fixture *f)
{
	store_unref(f->store);
	assert_int_equal(
	    store_open(f->dir, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL),
	    0);
}

static char *
record_path(struct fixture *f, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/verified/%s", f->dir, digest_to_hex(d, hex));
}

static bool
has_record(struct fixture *f, const struct digest *d)
{
	char *p = record_path(f, d);
	bool r = access(p, F_OK) == 0;

	free(p);
	return r;
}

/* Whether s trusts blob d as it is now, without hashing it. */
static bool
trusted_by(struct store *s, const struct digest *d)
{
	int fd = store_open_blob(s, d, NULL);
	struct stat st;
	bool r;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	r = store_blob_trusted(s, d, &st);
	close(fd);
	return r;
}

/* Overwrites one byte of blob d in place (size kept), keeping its mtime too when asked, as
 * `touch -r` would put it back. */
static void
corrupt_blob(struct fixture *f, const struct digest *d, bool keep_mtime)
{
	char *path = blob_path(f, d);
	struct stat before, after;
	char c;
	int fd;

	assert_int_equal(stat(path, &before), 0);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) { /* not root: the blob is read-only */
		assert_int_equal(chmod(path, 0644), 0);
		fd = open(path, O_RDWR | O_CLOEXEC);
		assert_int_equal(fchmod(fd, before.st_mode & 07777), 0);
	}
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, 1000), 1);
	c ^= 0x5a;
	assert_int_equal(kl_io_pwrite_all(fd, &c, 1, 1000), 0);
	if (keep_mtime)
		assert_int_equal(futimens(fd, (struct timespec[2]){before.st_atim, before.st_mtim}),
		                 0);
	close(fd);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	if (keep_mtime)
		assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
		            after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
	free(path);
}

static void
test_record_of_ingested_blob_survives_reopen(void **state)
{
	struct fixture *f = *state;
	struct digest big, small;
	int fd;

	ingest_bytes(f, STORE_RECORD_MIN_SIZE, 1, &big);
	ingest_bytes(f, STORE_RECORD_MIN_SIZE - 1, 2, &small);
	assert_true(has_record(f, &big));
	assert_false(has_record(f, &small)); /* cheaper to hash than to record */
	assert_true(trusted_by(f->store, &big));
	assert_true(trusted_by(f->store, &small)); /* written by this process */
	reopen(f);
	assert_true(trusted_by(f->store, &big));
	assert_false(trusted_by(f->store, &small));
	fd = store_open_blob_verified(f->store, &big, NULL);
	assert_true(fd >= 0);
	close(fd);
}

static void
test_batch_records_big_blobs_at_commit(void **state)
{
	struct fixture *f = *state;
	struct store_batch *b = store_batch_new(f->store);
	char *big = make_bytes(STORE_RECORD_MIN_SIZE + 7, 3);
	struct store_writer *w;
	struct digest d_big, d_small;

	assert_int_equal(store_writer_begin(f->store, &w, NULL), 0);
	assert_int_equal(store_writer_write(w, big, STORE_RECORD_MIN_SIZE + 7, NULL), 0);
	assert_int_equal(store_writer_commit_batch(w, b, NULL, &d_big, NULL), 0);
	assert_int_equal(store_writer_begin(f->store, &w, NULL), 0);
	assert_int_equal(store_writer_write(w, "small", 5, NULL), 0);
	assert_int_equal(store_writer_commit_batch(w, b, NULL, &d_small, NULL), 0);
	assert_false(has_record(f, &d_big)); /* not visible yet: no record either */
	assert_int_equal(store_batch_commit(b, NULL), 0);
	store_batch_free(b);
	char *verified = xasprintf("%s/verified", f->dir);
	assert_int_equal(test_count_files(verified), 1);
	free(verified);
	reopen(f);
	assert_true(trusted_by(f->store, &d_big));
	assert_false(trusted_by(f->store, &d_small));
	free(big);
}

/* Touch, chmod, a rewrite of the same bytes and a replacement by a copy each void the record;
 * the next verified open hashes (the bytes are still good) and records the blob again. */
static void
test_touch_chmod_rewrite_or_replace_voids_the_record(void **state)
{
	struct fixture *f = *state;
	enum { TOUCH, CHMOD, REWRITE, REPLACE, N_CHANGES };

	for (int change = 0; change < N_CHANGES; change++) {
		struct digest d;
		char *path, *copy, c;
		int fd;

		ingest_bytes(f, STORE_RECORD_MIN_SIZE + 1, 10 + (unsigned)change, &d);
		path = blob_path(f, &d);
		copy = xasprintf("%s.copy", path);
		switch (change) {
		case TOUCH:
			assert_int_equal(
			    utimensat(AT_FDCWD, path,
			              (struct timespec[2]){{0, UTIME_OMIT}, {1234567890, 5}}, 0),
			    0);
			break;
		case CHMOD:
			assert_int_equal(chmod(path, 0400), 0);
			break;
		case REWRITE:
			assert_int_equal(chmod(path, 0644), 0);
			fd = open(path, O_RDWR | O_CLOEXEC);
			assert_true(fd >= 0);
			assert_int_equal(pread(fd, &c, 1, 0), 1);
			assert_int_equal(kl_io_pwrite_all(fd, &c, 1, 0), 0);
			assert_int_equal(fchmod(fd, 0444), 0);
			close(fd);
			break;
		case REPLACE: {
			char *buf;
			size_t len;
			int in = open(path, O_RDONLY | O_CLOEXEC);

			assert_int_equal(kl_io_read_all(in, 1 << 22, &buf, &len), 0);
			close(in);
			fd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
			assert_int_equal(kl_io_write_all(fd, buf, len), 0);
			close(fd);
			assert_int_equal(rename(copy, path), 0);
			free(buf);
			break;
		}
		}
		reopen(f);
		assert_true(has_record(f, &d));
		assert_false(trusted_by(f->store, &d));
		fd = store_open_blob_verified(f->store, &d, NULL);
		assert_true(fd >= 0);
		close(fd);
		reopen(f);
		assert_true(trusted_by(f->store, &d));
		free(path);
		free(copy);
	}
}

/* Bytes changed behind kiln's back, the size kept, and the mtime too: the record no longer
 * matches, the hash fails, the blob is refused and loses its record. */
static void
test_blob_corrupted_keeping_size_and_mtime_is_refused(void **state)
{
	struct fixture *f = *state;

	for (int keep_mtime = 0; keep_mtime <= 1; keep_mtime++) {
		struct kl_error *err = NULL;
		struct digest d;

		ingest_bytes(f, STORE_RECORD_MIN_SIZE + 100, 20 + (unsigned)keep_mtime, &d);
		corrupt_blob(f, &d, keep_mtime);
		reopen(f);
		assert_false(trusted_by(f->store, &d));
		assert_int_equal(store_open_blob_verified(f->store, &d, &err), -EBADMSG);
		assert_non_null(strstr(err->msg, "corrupt"));
		kl_error_freep(&err);
		assert_false(has_record(f, &d));
		assert_int_equal(store_open_blob_verified(f->store, &d, NULL), -EBADMSG);
	}
}

/* `store verify` hashes a blob whatever its record says: a corrupt blob whose record matches
 * (as after bit rot, which changes no stat field) is found and loses its record; a good blob
 * without one gets it. */
static void
test_verify_rehashes_recorded_blobs_and_drops_a_corrupt_ones_record(void **state)
{
	struct fixture *f = *state;
	struct digest bad, good;
	struct stat st;
	char *path;

	ingest_bytes(f, STORE_RECORD_MIN_SIZE, 30, &bad);
	ingest_bytes(f, STORE_RECORD_MIN_SIZE, 31, &good);
	corrupt_blob(f, &bad, false);
	path = blob_path(f, &bad);
	assert_int_equal(stat(path, &st), 0);
	store_blob_trust(f->store, &bad, &st); /* a record that matches bad bytes */
	reopen(f);
	assert_true(trusted_by(f->store, &bad));
	assert_int_equal(store_verify_blob(f->store, &bad), -EBADMSG);
	assert_false(has_record(f, &bad));
	assert_false(trusted_by(f->store, &bad));
	assert_int_equal(store_open_blob_verified(f->store, &bad, NULL), -EBADMSG);

	free(path);
	path = record_path(f, &good);
	assert_int_equal(unlink(path), 0);
	reopen(f);
	assert_int_equal(store_verify_blob(f->store, &good), 0);
	assert_true(has_record(f, &good));
	reopen(f);
	assert_true(trusted_by(f->store, &good));
	free(path);
}

/* A record is believed only when it is exactly the one the blob's stat makes. */
static void
test_torn_or_foreign_record_is_ignored(void **state)
{
	struct fixture *f = *state;
	struct digest a, b;
	char *ra, *rb, *buf;
	size_t len;
	int fd;

	ingest_bytes(f, STORE_RECORD_MIN_SIZE, 40, &a);
	ingest_bytes(f, STORE_RECORD_MIN_SIZE, 41, &b);
	ra = record_path(f, &a);
	rb = record_path(f, &b);
	fd = open(ra, O_RDONLY | O_CLOEXEC);
	assert_int_equal(kl_io_read_all(fd, 4096, &buf, &len), 0);
	close(fd);
	assert_true(len > 100);
	assert_non_null(strstr(buf, "kiln-verified 1 sha256:"));
	reopen(f);

	assert_int_equal(unlink(rb), 0); /* a's record under b's name */
	fd = open(rb, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
	assert_int_equal(kl_io_write_all(fd, buf, len), 0);
	close(fd);
	assert_false(trusted_by(f->store, &b));

	assert_int_equal(truncate(ra, (off_t)len - 1), 0); /* torn */
	assert_false(trusted_by(f->store, &a));
	fd = open(ra, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_int_equal(kl_io_write_all(fd, "\nextra", 7), 0); /* longer */
	close(fd);
	assert_false(trusted_by(f->store, &a));

	fd = store_open_blob_verified(f->store, &a, NULL); /* hashes, writes a good record */
	assert_true(fd >= 0);
	close(fd);
	reopen(f);
	assert_true(trusted_by(f->store, &a));
	free(ra);
	free(rb);
	free(buf);
}

static void
test_read_only_store_reads_records_and_writes_none(void **state)
{
	struct fixture *f = *state;
	struct store *ro;
	struct digest a, b;
	char *rb;

	ingest_bytes(f, STORE_RECORD_MIN_SIZE, 50, &a);
	ingest_bytes(f, STORE_RECORD_MIN_SIZE, 51, &b);
	rb = record_path(f, &b);
	assert_int_equal(unlink(rb), 0);
	assert_int_equal(
	    store_open(f->dir, &(struct store_options){.flags = STORE_READ_ONLY}, &ro, NULL), 0);
	assert_true(trusted_by(ro, &a));
	assert_false(trusted_by(ro, &b));
	assert_int_equal(store_verify_blob(ro, &b), 0);
	assert_false(has_record(f, &b));
	assert_true(trusted_by(ro, &b)); /* remembered in memory all the same */
	store_unref(ro);
	free(rb);
}

/* Processes verifying (and so recording) one blob at once leave one good record and no
 * temporary files. */
static void
test_concurrent_processes_recording_one_blob_agree(void **state)
{
	struct fixture *f = *state;
	enum { N = 4 };
	char *ingest = xasprintf("%s/ingest", f->dir), *rec;
	struct digest d;
	pid_t pids[N];

	ingest_bytes(f, STORE_RECORD_MIN_SIZE, 60, &d);
	rec = record_path(f, &d);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct store *s;
			if (store_open(f->dir, NULL, &s, NULL) < 0)
				_exit(1);
			for (int j = 0; j < 20; j++) {
				(void)unlink(rec);
				if (store_verify_blob(s, &d) < 0)
					_exit(1);
			}
			store_unref(s);
			_exit(0);
		}
	}
	for (int i = 0; i < N; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(test_count_files(ingest), 1); /* only this store's lock */
	if (!has_record(f, &d)) /* the last unlink may have come after the last write */
		assert_int_equal(store_verify_blob(f->store, &d), 0);
	reopen(f);
	assert_true(trusted_by(f->store, &d));
	free(ingest);
	free(rec);
}

/* Whether blob d, as it is now, is vouched for without hashing by s, or else by set. */
static bool
trusted_by_set(struct store *s, const struct store_trust_set *set, const struct digest *d)
{
	int fd = store_open_blob(s, d, NULL);
	struct stat st;
	bool r;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	r = store_blob_trusted_by(s, set, d, &st);
	close(fd);
	return r;
}

static char *
set_path(struct fixture *f, const struct digest *name)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/verified/trees/%s", f->dir, digest_to_hex(name, hex));
}

/* Every blob this process wrote is trusted, not only the last few. */
static void
test_process_trusts_every_blob_it_wrote(void **state)
{
	struct fixture *f = *state;
	enum { N = 5000 };
	struct digest *d = xcalloc(N, sizeof(*d));
	struct store_batch *b = store_batch_new(f->store);

	for (unsigned i = 0; i < N; i++) {
		struct store_writer *w;
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "blob %u", i);

		assert_int_equal(store_writer_begin(f->store, &w, NULL), 0);
		assert_int_equal(store_writer_write(w, buf, (size_t)n, NULL), 0);
		assert_int_equal(store_writer_commit_batch(w, b, NULL, &d[i], NULL), 0);
	}
	assert_int_equal(store_batch_commit(b, NULL), 0);
	store_batch_free(b);
	for (unsigned i = 0; i < N; i++)
		assert_true(trusted_by(f->store, &d[i]));
	reopen(f);
	assert_false(trusted_by(f->store, &d[0]));
	free(d);
}

/* A trust set vouches, in another process, for the small blobs this one trusted, as the inodes
 * they were: not for one touched, corrupted in place or left out. */
static void
test_trust_set_vouches_for_small_blobs_across_processes(void **state)
{
	struct fixture *f = *state;
	struct digest d[5], name, absent;
	struct store_trust_set *set;

	for (unsigned i = 0; i < 5; i++)
		ingest_bytes(f, 2000 + i, 40 + i, &d[i]);
	digest_buffer("no such blob", 12, &absent);
	digest_buffer("a tree", 6, &name);
	reopen(f);
	assert_false(trusted_by(f->store, &d[0]));
	/* a new process trusts what it hashes: d[4] stays out */
	for (unsigned i = 0; i < 4; i++) {
		int fd = store_open_blob_verified(f->store, &d[i], NULL);

		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(
	    store_trust_set_save(f->store, &name,
	                         (struct digest[]){d[0], d[1], d[2], d[3], d[4], absent}, 6),
	    4);
	reopen(f);
	set = store_trust_set_load(f->store, &name);
	assert_non_null(set);
	assert_true(trusted_by_set(f->store, set, &d[0]));
	assert_true(trusted_by(f->store, &d[0])); /* and remembered from then on */
	assert_false(trusted_by_set(f->store, set, &d[4]));
	{
		char *path = blob_path(f, &d[1]);

		assert_int_equal(utimensat(AT_FDCWD, path,
		                           (struct timespec[2]){{0, UTIME_OMIT}, {1234567890, 5}},
		                           0),
		                 0);
		free(path);
	}
	assert_false(trusted_by_set(f->store, set, &d[1]));
	corrupt_blob(f, &d[2], /* keep_mtime= */ true);
	assert_false(trusted_by_set(f->store, set, &d[2]));
	assert_true(trusted_by_set(f->store, set, &d[3]));
	assert_false(trusted_by_set(f->store, NULL, &d[4]));
	store_trust_set_free(set);
	/* nothing trusted: nothing written, the set before kept */
	reopen(f);
	assert_int_equal(store_trust_set_save(f->store, &name, &d[4], 1), 0);
	set = store_trust_set_load(f->store, &name);
	assert_non_null(set);
	store_trust_set_free(set);
}

/* A set cut short, with a byte changed or another's header vouches for nothing. */
static void
test_torn_or_foreign_trust_set_is_ignored(void **state)
{
	struct fixture *f = *state;
	struct digest d, name;
	char *path, *buf;
	size_t len;
	int fd;

	ingest_bytes(f, 3000, 50, &d);
	digest_buffer("tree", 4, &name);
	assert_int_equal(store_trust_set_save(f->store, &name, &d, 1), 1);
	path = set_path(f, &name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(kl_io_read_all(fd, 1 << 20, &buf, &len), 0);
	close(fd);
	for (int change = 0; change < 3; change++) {
		struct store_trust_set *set;

		assert_int_equal(chmod(path, 0644), 0);
		fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		assert_true(fd >= 0);
		if (change == 0)
			assert_int_equal(kl_io_write_all(fd, buf, len - 1), 0);
		else {
			buf[change == 1 ? len - 40 : 0] ^= 1;
			assert_int_equal(kl_io_write_all(fd, buf, len), 0);
			buf[change == 1 ? len - 40 : 0] ^= 1;
		}
		close(fd);
		reopen(f);
		set = store_trust_set_load(f->store, &name);
		assert_null(set);
		assert_false(trusted_by_set(f->store, set, &d));
	}
	free(buf);
	free(path);
}

/* A blob found corrupt drops every set (which vouch for it is not known); a collection drops
 * the records and sets named after blobs it removed, and keeps the others. */
static void
test_distrust_and_prune_drop_trust_sets(void **state)
{
	struct fixture *f = *state;
	struct digest small, big, tree_a, tree_b;
	char *path_a, *path_b, *trees = xasprintf("%s/verified/trees", f->dir);

	ingest_bytes(f, 1000, 60, &small);
	ingest_bytes(f, STORE_RECORD_MIN_SIZE, 61, &big);
	ingest_bytes(f, 100, 62, &tree_a);
	ingest_bytes(f, 101, 63, &tree_b);
	path_a = set_path(f, &tree_a);
	path_b = set_path(f, &tree_b);
	assert_int_equal(store_trust_set_save(f->store, &tree_a, &small, 1), 1);
	assert_int_equal(store_trust_set_save(f->store, &tree_b, &small, 1), 1);
	assert_int_equal(test_count_files(trees), 2);
	store_blob_distrust(f->store, &small);
	assert_int_equal(test_count_files(trees), 0);
	assert_false(trusted_by(f->store, &small));

	assert_int_equal(store_verify_blob(f->store, &small), 0);
	assert_int_equal(store_trust_set_save(f->store, &tree_a, &small, 1), 1);
	assert_int_equal(store_trust_set_save(f->store, &tree_b, &small, 1), 1);
	assert_true(has_record(f, &big));
	assert_int_equal(store_remove_blob(f->store, &tree_a, 0), 0);
	assert_int_equal(store_remove_blob(f->store, &big, 0), 0);
	store_trust_prune(f->store);
	assert_int_equal(access(path_a, F_OK), -1);
	assert_int_equal(access(path_b, F_OK), 0);
	assert_false(has_record(f, &big));
	free(path_a);
	free(path_b);
	free(trees);
}

/* A read-only store reads sets and writes none. */
static void
test_read_only_store_reads_trust_sets_and_writes_none(void **state)
{
	struct fixture *f = *state;
	struct digest d, name, other;
	struct store_trust_set *set;
	struct store *ro;
	char *path;

	ingest_bytes(f, 4000, 70, &d);
	digest_buffer("tree", 4, &name);
	digest_buffer("other", 5, &other);
	assert_int_equal(store_trust_set_save(f->store, &name, &d, 1), 1);
	assert_int_equal(
	    store_open(f->dir, &(struct store_options){.flags = STORE_READ_ONLY}, &ro, NULL), 0);
	set = store_trust_set_load(ro, &name);
	assert_true(trusted_by_set(ro, set, &d));
	assert_int_equal(store_trust_set_save(ro, &other, &d, 1), 0);
	path = set_path(f, &other);
	assert_int_equal(access(path, F_OK), -1);
	store_trust_set_free(set);
	store_unref(ro);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_ingest_buffer_then_read_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_absent_blob_is_enoent_without_message, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_commit_with_wrong_expected_digest_stores_nothing,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_blob_is_detected_and_not_served, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_ingest_of_same_blob_all_succeed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_concurrent_ingest_from_processes_leaves_one_good_copy, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_killed_ingest_leaves_nothing_visible_and_is_cleaned, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_temporary_dir_goes_with_its_store_and_old_leftovers_are_removed, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_forked_child_keeps_its_token_after_the_parent_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_makes_blobs_visible_only_at_commit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_foreach_lists_every_blob, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_store_refuses_writes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_of_ingested_blob_survives_reopen, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_batch_records_big_blobs_at_commit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_touch_chmod_rewrite_or_replace_voids_the_record,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blob_corrupted_keeping_size_and_mtime_is_refused,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_verify_rehashes_recorded_blobs_and_drops_a_corrupt_ones_record, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_torn_or_foreign_record_is_ignored, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_store_reads_records_and_writes_none,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_processes_recording_one_blob_agree,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_process_trusts_every_blob_it_wrote, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_trust_set_vouches_for_small_blobs_across_processes,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_or_foreign_trust_set_is_ignored, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_distrust_and_prune_drop_trust_sets, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_store_reads_trust_sets_and_writes_none,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
