// SPDX-License-Identifier: Apache-2.0
/* Unit tests for store-record: a module's small records, replaced whole and read back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store-record.h"
#include "fs/store.h"
#include "util/error.h"
#include "tests/unit/test-helpers.h"

struct fixture {
	char *dir;
	struct store *store;
	struct digest key;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	f->dir = test_tmpdir();
	if (store_open(f->dir, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL) <
	    0)
		return -1;
	digest_buffer("key", 3, &f->key);
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

static void
test_absent_record_reads_as_enoent(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(store_record_read(f->store, "mod/kind", &f->key, 64, &text, &len),
	                 -ENOENT);
	assert_null(text);
}

static void
test_written_record_reads_back_and_is_replaced_whole(void **state)
{
	struct fixture *f = *state;
	char *path = store_record_path(f->store, "mod/kind", &f->key);
	char *text = NULL, *tmp;
	size_t len = 0;

	assert_int_equal(store_record_write(f->store, "mod/kind", &f->key, "first value", 11, NULL),
	                 0);
	assert_int_equal(store_record_write(f->store, "mod/kind", &f->key, "two", 3, NULL), 0);
	assert_int_equal(store_record_read(f->store, "mod/kind", &f->key, 64, &text, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(text, "two");
	assert_non_null(strstr(path, "/mod/kind/"));
	assert_int_equal(access(path, R_OK), 0);
	tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	assert_int_equal(access(tmp, F_OK), -1); /* renamed, not left behind */
	free(tmp);
	free(text);
	free(path);
}

static void
test_record_longer_than_max_reads_as_enoent(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(store_record_write(f->store, "mod", &f->key, "0123456789", 10, NULL), 0);
	assert_int_equal(store_record_read(f->store, "mod", &f->key, 4, &text, &len), -ENOENT);
	assert_null(text);
}

static void
test_unwritable_dir_error_names_the_path(void **state)
{
	struct fixture *f = *state;
	char *blocker = xasprintf("%s/blocked", f->dir);
	struct kl_error *err = NULL;
	FILE *fp = fopen(blocker, "w");

	assert_non_null(fp);
	fclose(fp);
	assert_true(store_record_write(f->store, "blocked/kind", &f->key, "x", 1, &err) < 0);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "blocked"));
	kl_error_free(err);
	free(blocker);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_absent_record_reads_as_enoent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_written_record_reads_back_and_is_replaced_whole,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_longer_than_max_reads_as_enoent, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_unwritable_dir_error_names_the_path, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
