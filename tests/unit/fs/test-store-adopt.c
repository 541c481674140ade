// SPDX-License-Identifier: Apache-2.0
/* Unit tests for store_adopt_file: a finished file becomes a blob by rename. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/store.h"
#include "util/error.h"
#include "util/io.h"
#include "tests/unit/test-helpers.h"

struct fixture {
	char *dir;
	struct store *store;
	int work_fd; /* a directory on the store's filesystem, outside the store */
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *work;

	f->dir = test_tmpdir();
	if (store_open(f->dir, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL) <
	    0)
		return -1;
	work = xasprintf("%s/work", f->dir);
	if (mkdir(work, 0755) < 0)
		return -1;
	f->work_fd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(work);
	*state = f;
	return f->work_fd >= 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	close(f->work_fd);
	store_unref(f->store);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* Writes data into dir_fd/name with mode; returns its digest. */
static struct digest
make_file(int dir_fd, const char *name, const char *data, mode_t mode)
{
	struct digest d;
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, data, strlen(data)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	digest_buffer(data, strlen(data), &d);
	return d;
}

static char *
blob_path(struct fixture *f, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/content/sha256/%s", f->dir, digest_to_hex(d, hex));
}

/* Sets user.step on dir_fd/name; false where the filesystem has no user xattrs. */
static bool
fsetxattrat_ok(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	bool ok;

	assert_true(fd >= 0);
	ok = fsetxattr(fd, "user.step", "v", 1, 0) == 0;
	close(fd);
	return ok;
}

static char *
tmpdir_on(const char *base)
{
	char *p = xasprintf("%s/kiln-unit.XXXXXX", base);

	if (!mkdtemp(p))
		abort();
	return p;
}

/* A directory on another filesystem than the store's (/dev/shm, a tmpfs), its path in *ret. */
static int
open_other_filesystem(struct fixture *f, char **ret)
{
	struct stat a, b;
	int fd;

	*ret = tmpdir_on("/dev/shm");
	fd = open(*ret, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(f->work_fd, &b), 0);
	assert_true(a.st_dev != b.st_dev);
	return fd;
}

static void
test_adopted_file_is_the_blob_and_leaves_its_place(void **state)
{
	struct fixture *f = *state;
	struct digest d = make_file(f->work_fd, "out", "built by a step\n", 04755);
	char *path = blob_path(f, &d), buf[64];
	struct stat before, after;
	ssize_t n;
	int fd;

	assert_int_equal(fstatat(f->work_fd, "out", &before, 0), 0);
	/* an xattr, where the filesystem has user xattrs */
	bool with_xattr = fsetxattrat_ok(f->work_fd, "out");
	assert_int_equal(store_adopt_file(f->store, NULL, f->work_fd, "out", &d, NULL), 0);
	assert_int_equal(faccessat(f->work_fd, "out", F_OK, 0), -1);
	assert_int_equal(stat(path, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino); /* moved, not copied */
	assert_int_equal(after.st_mode & 07777, 0444);
	if (with_xattr)
		assert_int_equal(lgetxattr(path, "user.step", buf, sizeof(buf)), -1);
	fd = store_open_blob_verified(f->store, &d, NULL);
	assert_true(fd >= 0);
	n = kl_io_read_full(fd, buf, sizeof(buf));
	assert_int_equal(n, 16);
	assert_memory_equal(buf, "built by a step\n", 16);
	close(fd);
	free(path);
}

static void
test_adopting_present_blob_only_removes_the_file(void **state)
{
	struct fixture *f = *state;
	struct digest d, stored;
	struct stat first, second;
	char *path;

	assert_int_equal(store_ingest_buffer(f->store, "same", 4, &stored, NULL), 0);
	d = make_file(f->work_fd, "dup", "same", 0644);
	assert_true(digest_equal(&d, &stored));
	path = blob_path(f, &d);
	assert_int_equal(stat(path, &first), 0);
	assert_int_equal(store_adopt_file(f->store, NULL, f->work_fd, "dup", &d, NULL), 0);
	assert_int_equal(faccessat(f->work_fd, "dup", F_OK, 0), -1);
	assert_int_equal(stat(path, &second), 0);
	assert_int_equal(first.st_ino, second.st_ino);
	free(path);
}

static void
test_batch_adoption_is_visible_only_at_commit(void **state)
{
	struct fixture *f = *state;
	struct store_batch *b = store_batch_new(f->store);
	struct digest d1 = make_file(f->work_fd, "a", "first\n", 0600);
	struct digest d2 = make_file(f->work_fd, "b", "second\n", 0600);
	struct digest d3 = make_file(f->work_fd, "c", "first\n", 0600); /* same bytes as a */

	assert_int_equal(store_adopt_file(f->store, b, f->work_fd, "a", &d1, NULL), 0);
	assert_int_equal(store_adopt_file(f->store, b, f->work_fd, "b", &d2, NULL), 0);
	assert_int_equal(store_adopt_file(f->store, b, f->work_fd, "c", &d3, NULL), 0);
	assert_int_equal(store_has_blob(f->store, &d1), 0);
	assert_int_equal(store_has_blob(f->store, &d2), 0);
	assert_int_equal(store_batch_commit(b, NULL), 0);
	assert_int_equal(store_has_blob(f->store, &d1), 1);
	assert_int_equal(store_has_blob(f->store, &d2), 1);
	assert_int_equal(store_verify_blob(f->store, &d1), 0);
	assert_int_equal(store_verify_blob(f->store, &d2), 0);
	assert_int_equal(faccessat(f->work_fd, "c", F_OK, 0), -1);
	store_batch_free(b);
}

static void
test_dropped_batch_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	struct store_batch *b = store_batch_new(f->store);
	struct digest d = make_file(f->work_fd, "x", "dropped\n", 0600);
	char *ingest = xasprintf("%s/ingest", f->dir);
	struct kl_error *err = NULL;

	assert_int_equal(store_adopt_file(f->store, b, f->work_fd, "x", &d, &err), 0);
	store_batch_free(b);
	assert_int_equal(store_has_blob(f->store, &d), 0);
	assert_int_equal(test_count_files(ingest), 1); /* only this store's lock file */
	free(ingest);
}

static void
test_adopting_a_directory_is_refused(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	struct digest d;

	digest_buffer("", 0, &d);
	assert_int_equal(mkdirat(f->work_fd, "dir", 0755), 0);
	assert_int_equal(store_adopt_file(f->store, NULL, f->work_fd, "dir", &d, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "'dir'"));
	kl_error_freep(&err);
	assert_int_equal(faccessat(f->work_fd, "dir", F_OK, 0), 0);
}

static void
test_file_on_another_filesystem_is_copied_and_verified(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	char *other;
	int fd = open_other_filesystem(f, &other);
	struct digest d, wrong;

	d = make_file(fd, "far", "far away\n", 0644);
	digest_buffer("something else", 14, &wrong);
	make_file(fd, "liar", "far away\n", 0644);
	assert_int_equal(store_adopt_file(f->store, NULL, fd, "liar", &wrong, &err), -EBADMSG);
	kl_error_freep(&err);
	assert_int_equal(store_has_blob(f->store, &wrong), 0);
	assert_int_equal(store_adopt_file(f->store, NULL, fd, "far", &d, NULL), 0);
	assert_int_equal(store_verify_blob(f->store, &d), 0);
	assert_int_equal(faccessat(fd, "far", F_OK, 0), -1);
	close(fd);
	test_rmdir(other);
}

static void
test_batch_copy_from_another_filesystem_is_visible_only_at_commit(void **state)
{
	struct fixture *f = *state;
	struct store_batch *b = store_batch_new(f->store);
	struct kl_error *err = NULL;
	char *other;
	int fd = open_other_filesystem(f, &other);
	struct digest d, wrong;

	d = make_file(fd, "far", "batched from afar\n", 0644);
	digest_buffer("something else", 14, &wrong);
	make_file(fd, "liar", "batched from afar\n", 0644);
	assert_int_equal(store_adopt_file(f->store, b, fd, "liar", &wrong, &err), -EBADMSG);
	kl_error_freep(&err);
	assert_int_equal(store_adopt_file(f->store, b, fd, "far", &d, NULL), 0);
	assert_int_equal(faccessat(fd, "far", F_OK, 0), -1);
	assert_int_equal(store_has_blob(f->store, &d), 0); /* not before the batch's sync */
	assert_int_equal(store_batch_commit(b, NULL), 0);
	assert_int_equal(store_has_blob(f->store, &d), 1);
	assert_int_equal(store_has_blob(f->store, &wrong), 0);
	assert_int_equal(store_verify_blob(f->store, &d), 0);
	store_batch_free(b);
	close(fd);
	test_rmdir(other);
}

/* In a child: (as root) a new mount namespace, the work dir opened by path there, the store
 * reopened; then a file adopted must be the blob's inode. 0 when it was moved. */
static int
adopt_after_reopen(struct fixture *f, bool new_namespace)
{
	char *work = xasprintf("%s/work", f->dir), *path;
	struct digest d;
	struct stat before, after;
	int root_fd = store_root_fd(f->store), fd;

	if (new_namespace && unshare(CLONE_NEWNS) < 0)
		return 10;
	fd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || store_reopen(f->store, NULL) < 0)
		return 11;
	if (store_root_fd(f->store) != root_fd)
		return 12; /* the number is kept */
	d = make_file(fd, "moved", "moved after a reopen\n", 0644);
	path = blob_path(f, &d);
	if (fstatat(fd, "moved", &before, 0) < 0 ||
	    store_adopt_file(f->store, NULL, fd, "moved", &d, NULL) < 0 || stat(path, &after) < 0)
		return 13;
	if (after.st_ino != before.st_ino)
		return 14; /* copied */
	return store_verify_blob(f->store, &d) == 0 ? 0 : 15;
}

static void
test_reopened_store_moves_files_opened_in_a_new_namespace(void **state)
{
	struct fixture *f = *state;
	bool root = geteuid() == 0;
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(adopt_after_reopen(f, root));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_reopen_refuses_a_replaced_directory(void **state)
{
	struct fixture *f = *state;
	char *ingest = xasprintf("%s/ingest", f->dir), *moved = xasprintf("%s/ingest.old", f->dir);
	struct kl_error *err = NULL;

	assert_int_equal(rename(ingest, moved), 0);
	assert_int_equal(mkdir(ingest, 0755), 0);
	assert_int_equal(store_reopen(f->store, &err), -ESTALE);
	assert_non_null(strstr(err->msg, ingest));
	kl_error_freep(&err);
	assert_int_equal(rmdir(ingest), 0);
	assert_int_equal(rename(moved, ingest), 0);
	assert_int_equal(store_reopen(f->store, NULL), 0);
	free(ingest);
	free(moved);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_adopted_file_is_the_blob_and_leaves_its_place,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_adopting_present_blob_only_removes_the_file, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_batch_adoption_is_visible_only_at_commit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_dropped_batch_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_adopting_a_directory_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_on_another_filesystem_is_copied_and_verified,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_batch_copy_from_another_filesystem_is_visible_only_at_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_reopened_store_moves_files_opened_in_a_new_namespace, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reopen_refuses_a_replaced_directory, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
