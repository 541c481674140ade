// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/tree-statbatch: every name gets its own stat or errno, with or without
 * helper threads. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/tree-statbatch.h"
#include "util/io.h"
#include "util/xalloc.h"
#include "tests/unit/test-helpers.h"

/* Batches large and small, with and without helpers, give each name its own stat or errno. */
static void
test_statbatch_stats_every_name(void **state)
{
	char dir[] = "/tmp/kiln-statbatch.XXXXXX";
	enum { N = 300 };
	char *names[N];
	struct stat sts[N];
	int errs[N], dfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	for (int i = 0; i < N; i++) {
		names[i] = xasprintf("f%03d", i);
		if (i % 7 != 3) { /* every seventh name is missing */
			int fd = openat(dfd, names[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			assert_true(fd >= 0);
			assert_int_equal(kl_io_write_all(fd, "0123456789", (size_t)(i % 10)), 0);
			close(fd);
		}
	}
	for (unsigned helpers = 0; helpers < 3; helpers++) {
		struct tree_statbatch *b = tree_statbatch_new(helpers);

		for (size_t n = 1; n <= N; n = n * 3 + 1) {
			memset(errs, 0x55, sizeof(errs));
			tree_statbatch_run(b, dfd, names, n, sts, errs);
			for (size_t i = 0; i < n; i++) {
				if (i % 7 == 3) {
					assert_int_equal(errs[i], ENOENT);
				} else {
					assert_int_equal(errs[i], 0);
					assert_int_equal(sts[i].st_size, (off_t)(i % 10));
				}
			}
		}
		tree_statbatch_free(b);
	}
	for (int i = 0; i < N; i++) {
		(void)unlinkat(dfd, names[i], 0);
		free(names[i]);
	}
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_statbatch_stats_every_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
