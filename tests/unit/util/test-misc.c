// SPDX-License-Identifier: Apache-2.0
/* Unit tests for util/: errors, hex, base64, cleanup, paths, io. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/base64.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/io.h"
#include "util/path.h"
#include "util/strpool.h"
#include "util/timestamp.h"
#include "tests/unit/test-helpers.h"

static void
test_error_set_keeps_innermost_and_prefix_adds_context(void **state)
{
	struct kl_error *err = NULL;

	(void)state;
	assert_int_equal(kl_error_set(&err, ENOENT, "opening '%s'", "x"), -ENOENT);
	assert_int_equal(kl_error_set(&err, EIO, "ignored"), -EIO);
	assert_string_equal(err->msg, "opening 'x': No such file or directory");
	kl_error_prefix(&err, "tree import");
	assert_int_equal(err->code, ENOENT);
	assert_string_equal(err->msg, "tree import: opening 'x': No such file or directory");
	kl_error_freep(&err);
	assert_null(err);
	assert_int_equal(kl_error_set(NULL, EPERM, "nobody listens"), -EPERM);
}

static void
test_hex_round_trip_and_rejects_bad_digits(void **state)
{
	uint8_t in[3] = {0x00, 0xab, 0xff}, out[3];
	char hex[7];

	(void)state;
	kl_hex_encode(in, 3, hex);
	assert_string_equal(hex, "00abff");
	assert_int_equal(kl_hex_decode("00ABff", 6, out, 3), 0);
	assert_memory_equal(in, out, 3);
	assert_int_equal(kl_hex_decode("00abfg", 6, out, 3), -EINVAL);
	assert_int_equal(kl_hex_decode("00ab", 4, out, 3), -EINVAL);
}

static void
test_clean_relative_paths(void **state)
{
	(void)state;
	assert_true(kl_path_is_clean_relative("a/b c/d", 7));
	assert_false(kl_path_is_clean_relative("/a", 2));
	assert_false(kl_path_is_clean_relative("a/../b", 6));
	assert_false(kl_path_is_clean_relative("a//b", 4));
	assert_false(kl_path_is_clean_relative("./a", 3));
	assert_false(kl_path_is_clean_relative("a/", 2));
	assert_false(kl_path_is_clean_relative("", 0));
	assert_false(kl_path_is_clean_relative("a\0b", 3));
}

static void
test_path_join(void **state)
{
	char *p;

	(void)state;
	p = kl_path_join("a/", "b");
	assert_string_equal(p, "a/b");
	free(p);
	p = kl_path_join("", "b");
	assert_string_equal(p, "b");
	free(p);
}

static void
touch(const char *dir, const char *name)
{
	char *p = kl_path_join(dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	close(fd);
	free(p);
}

static void
test_rm_rf_removes_a_tree_without_following_symlinks(void **state)
{
	char *dir = test_tmpdir(), *victim = kl_path_join(dir, "victim");
	char *deep = kl_path_join(victim, "a/b/c"), *outside = kl_path_join(dir, "outside");
	char *link = kl_path_join(victim, "a/to-outside"), *kept = kl_path_join(outside, "kept");
	struct stat st;

	(void)state;
	assert_int_equal(kl_path_mkdir_p(deep, 0755), 0);
	assert_int_equal(kl_path_mkdir_p(outside, 0755), 0);
	touch(deep, "file");
	touch(victim, "top");
	touch(outside, "kept");
	assert_int_equal(symlink(outside, link), 0);

	assert_int_equal(kl_path_rm_rf_at(AT_FDCWD, victim), 0);
	assert_int_equal(lstat(victim, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(lstat(kept, &st), 0); /* the symlink went, not what it pointed to */
	assert_int_equal(kl_path_rm_rf_at(AT_FDCWD, victim), 0); /* absent: nothing to do */
	assert_int_equal(kl_path_rm_rf_at(AT_FDCWD, kept), 0);   /* a file */
	assert_int_equal(lstat(kept, &st), -1);
	free(victim);
	free(deep);
	free(outside);
	free(link);
	free(kept);
	test_rmdir(dir);
}

/* The flag ext4 reads when it places a new directory (the store's ingest/ and builds/). */
static void
test_spread_subdirs_sets_the_topdir_flag_where_the_filesystem_has_it(void **state)
{
	char *dir = test_tmpdir();
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), flags;

	(void)state;
	assert_true(fd >= 0);
	kl_path_spread_subdirs(fd);
	kl_path_spread_subdirs(fd); /* set already: nothing changes */
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0)
		assert_true(flags & FS_TOPDIR_FL);
	close(fd);
	test_rmdir(dir);
}

static void
test_read_all_respects_limit(void **state)
{
	char *dir = test_tmpdir(), *file = kl_path_join(dir, "f"), *buf;
	size_t len;
	int fd;

	(void)state;
	fd = open(file, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, "hello world", 11), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(kl_io_read_all(fd, 100, &buf, &len), 0);
	assert_int_equal(len, 11);
	assert_string_equal(buf, "hello world");
	free(buf);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(kl_io_read_all(fd, 5, &buf, &len), -EFBIG);
	close(fd);
	free(file);
	test_rmdir(dir);
}

static void
test_base64_round_trip_with_and_without_padding(void **state)
{
	static const char *const cases[][2] = {
	    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"user:pw", "dXNlcjpwdw=="}};
	uint8_t out[32];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *enc = kl_base64_encode(cases[i][0], strlen(cases[i][0]));
		size_t unpadded = strcspn(cases[i][1], "=");

		assert_string_equal(enc, cases[i][1]);
		free(enc);
		assert_int_equal(kl_base64_decode(cases[i][1], strlen(cases[i][1]), out, &n), 0);
		assert_int_equal(n, strlen(cases[i][0]));
		assert_memory_equal(out, cases[i][0], n);
		assert_int_equal(kl_base64_decode(cases[i][1], unpadded, out, &n), 0);
		assert_int_equal(n, strlen(cases[i][0]));
	}
	assert_int_equal(kl_base64_decode("Zm9v!", 5, out, &n), -EINVAL);
	assert_int_equal(kl_base64_decode("Z", 1, out, &n), -EINVAL);
}

static int frees;

static int *
counted_free(int *p)
{
	frees++;
	free(p);
	return NULL;
}
KL_DEFINE_CLEANUP(int *, counted_free)

static void
test_cleanup_resets_the_variable(void **state)
{
	int *p = malloc(sizeof(*p));

	(void)state;
	counted_freep(&p);
	assert_null(p);
	counted_freep(&p); /* a second cleanup of the same variable is a no-op */
	assert_int_equal(frees, 1);
}

static void
test_strpool_keeps_strings_until_done(void **state)
{
	struct kl_strpool p = {0};
	char *a = kl_strpool_own(&p, xstrdup("alpha"));

	(void)state;
	assert_string_equal(a, "alpha");
	assert_null(kl_strpool_own(&p, NULL));
	assert_string_equal(kl_strpool_own(&p, xstrdup("beta")), "beta");
	assert_int_equal(p.n, 3);
	assert_ptr_equal(p.v[0], a);
	kl_strpool_done(&p); /* ASan and valgrind see the strings freed */
	assert_int_equal(p.n, 0);
	assert_null(p.v);
}

static void
test_hex_is_lower_accepts_only_lowercase_digits(void **state)
{
	(void)state;
	assert_true(kl_hex_is_lower("0123456789abcdef", 16));
	assert_true(kl_hex_is_lower("", 0));
	assert_true(kl_hex_is_lower("abX", 2)); /* only n bytes are looked at */
	assert_false(kl_hex_is_lower("abcdeF", 6));
	assert_false(kl_hex_is_lower("12g4", 4));
	assert_false(kl_hex_is_lower("12 4", 4));
}

static void
test_source_date_epoch_parse_and_format(void **state)
{
	static const char *const bad[] = {
	    "-1", "+1", " 1", "1 ", "1e3", "0x10", "abc", "253402300800", "99999999999999999999"};
	struct kl_error *err = NULL;
	char buf[KL_TIMESTAMP_SIZE];
	int64_t v = -1;

	(void)state;
	assert_int_equal(kl_source_date_epoch_parse("SOURCE_DATE_EPOCH", NULL, &v, &err), 0);
	assert_int_equal(kl_source_date_epoch_parse("SOURCE_DATE_EPOCH", "", &v, &err), 0);
	assert_int_equal(v, -1);
	assert_int_equal(kl_source_date_epoch_parse("SOURCE_DATE_EPOCH", "0", &v, &err), 1);
	assert_int_equal(v, 0);
	assert_int_equal(kl_source_date_epoch_parse("X", "1600000000", &v, &err), 1);
	assert_int_equal(v, 1600000000);
	assert_string_equal(kl_timestamp_format(v, buf), "2020-09-13T12:26:40Z");
	assert_int_equal(kl_source_date_epoch_parse("X", "253402300799", &v, &err), 1);
	assert_string_equal(kl_timestamp_format(v, buf), "9999-12-31T23:59:59Z");
	assert_null(err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kl_source_date_epoch_parse("SOURCE_DATE_EPOCH", bad[i], &v, &err),
		                 -EINVAL);
		assert_non_null(strstr(err->msg, "invalid SOURCE_DATE_EPOCH '"));
		assert_non_null(strstr(err->msg, bad[i]));
		kl_error_freep(&err);
	}
	assert_string_equal(kl_timestamp_format(-5, buf), "1970-01-01T00:00:00Z");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_set_keeps_innermost_and_prefix_adds_context),
	    cmocka_unit_test(test_hex_round_trip_and_rejects_bad_digits),
	    cmocka_unit_test(test_base64_round_trip_with_and_without_padding),
	    cmocka_unit_test(test_cleanup_resets_the_variable),
	    cmocka_unit_test(test_clean_relative_paths),
	    cmocka_unit_test(test_path_join),
	    cmocka_unit_test(test_rm_rf_removes_a_tree_without_following_symlinks),
	    cmocka_unit_test(test_spread_subdirs_sets_the_topdir_flag_where_the_filesystem_has_it),
	    cmocka_unit_test(test_read_all_respects_limit),
	    cmocka_unit_test(test_strpool_keeps_strings_until_done),
	    cmocka_unit_test(test_hex_is_lower_accepts_only_lowercase_digits),
	    cmocka_unit_test(test_source_date_epoch_parse_and_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
