// SPDX-License-Identifier: Apache-2.0
/* Unit tests for kiln's loose object files (gitsrc-loose.c): the size known in advance is the
 * size written, and zlib inflates the file to git's "<type> <size>\0" header and the bytes, at
 * sizes around the stored block's limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fs/store.h"
#include "sources/gitsrc-internal.h"
#include "util/error.h"
#include "util/xalloc.h"
#include "tests/unit/test-helpers.h"

static void
check_round_trip(struct store *s, git_object_t type, size_t size)
{
	unsigned char *data = xmalloc(size + 1), *back;
	char header[64];
	struct store_writer *w = NULL;
	struct kl_error *err = NULL;
	struct digest d;
	char *file = NULL;
	size_t len, hl;
	uLongf out_len;

	for (size_t i = 0; i < size; i++)
		data[i] = (unsigned char)(i * 7 + size);
	assert_int_equal(store_writer_begin(s, &w, &err), 0);
	if (gitsrc_loose_write(w, type, data, size, &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(store_writer_commit(w, NULL, &d, &err), 0);
	assert_int_equal(store_read_blob(s, &d, 1 << 24, &file, &len, &err), 0);
	assert_int_equal(len, gitsrc_loose_size(type, size));
	hl =
	    (size_t)snprintf(header, sizeof(header), "%s %zu", git_object_type2string(type), size) +
	    1;
	out_len = hl + size + 1;
	back = xmalloc(out_len);
	assert_int_equal(uncompress(back, &out_len, (const Bytef *)file, len), Z_OK);
	assert_int_equal(out_len, hl + size);
	assert_memory_equal(back, header, hl);
	if (size)
		assert_memory_equal(back + hl, data, size);
	free(back);
	free(file);
	free(data);
}

static void
test_loose_files_inflate_to_the_object_at_every_block_boundary(void **state)
{
	static const size_t sizes[] = {
	    0, 1, 4, 65535 - 9, 65535 - 8, 65535, 65536, 2 * 65535 + 3, 300000};
	char *dir = test_tmpdir();
	struct store *s = NULL;

	(void)state;
	assert_int_equal(store_open(dir, &(struct store_options){.flags = STORE_NO_SYNC}, &s, NULL),
	                 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_round_trip(s, GIT_OBJECT_BLOB, sizes[i]);
	check_round_trip(s, GIT_OBJECT_COMMIT, 200);
	check_round_trip(s, GIT_OBJECT_TREE, 70000);
	check_round_trip(s, GIT_OBJECT_TAG, 120);
	store_unref(s);
	test_rmdir(dir);
}

static void
test_loose_size_counts_headers_blocks_and_checksum(void **state)
{
	(void)state;
	/* "blob 0\0": 7 bytes in one block */
	assert_int_equal(gitsrc_loose_size(GIT_OBJECT_BLOB, 0), 2 + 5 + 7 + 4);
	/* "blob 65528\0" is 11 bytes: exactly one full block */
	assert_int_equal(gitsrc_loose_size(GIT_OBJECT_BLOB, 65524), 2 + 5 + 65535 + 4);
	assert_int_equal(gitsrc_loose_size(GIT_OBJECT_BLOB, 65525), 2 + 10 + 65536 + 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loose_files_inflate_to_the_object_at_every_block_boundary),
	    cmocka_unit_test(test_loose_size_counts_headers_blocks_and_checksum),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
