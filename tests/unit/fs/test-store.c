// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/store: ingest, dedup, concurrent ingest, corruption, leftovers. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
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

static size_t
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
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
	assert_int_equal(count_files(content), 1);
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
	assert_int_equal(count_files(ingest), 1); /* only this store's lock file */
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
	/* our lock + the dead one's lock + its temporary file */
	assert_int_equal(count_files(ingest), 3);
	assert_int_equal(count_files(content), 0);
	assert_int_equal(store_open(f->dir, NULL, &s2, NULL), 0);
	/* ours + the new store's lock: the dead process's files are gone */
	assert_int_equal(count_files(ingest), 2);
	store_unref(s2);
	close(ready[0]);
	close(ready[1]);
	free(ingest);
	free(content);
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
	    cmocka_unit_test_setup_teardown(test_batch_makes_blobs_visible_only_at_commit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_foreach_lists_every_blob, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_only_store_refuses_writes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
