// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/digest: known vectors, streaming, parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fs/digest.h"
#include "util/error.h"

#define EMPTY_SHA256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC_SHA256 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void
test_known_vectors(void **state)
{
	char s[DIGEST_STRING_SIZE];
	struct digest d;

	(void)state;
	digest_buffer("", 0, &d);
	assert_string_equal(digest_to_string(&d, s), EMPTY_SHA256);
	digest_buffer("abc", 3, &d);
	assert_string_equal(digest_to_string(&d, s), ABC_SHA256);
}

static void
test_streaming_equals_one_shot_and_ctx_resets(void **state)
{
	struct digest_ctx *c = digest_ctx_new();
	struct digest a, b;

	(void)state;
	digest_ctx_update(c, "a", 1);
	digest_ctx_update(c, "bc", 2);
	digest_ctx_final(c, &a);
	digest_buffer("abc", 3, &b);
	assert_true(digest_equal(&a, &b));
	digest_ctx_update(c, "abc", 3);
	digest_ctx_final(c, &a);
	assert_true(digest_equal(&a, &b));
	digest_ctx_free(c);
}

static void
test_parse_round_trip_and_errors_name_input(void **state)
{
	struct kl_error *err = NULL;
	struct digest d;
	char s[DIGEST_STRING_SIZE];

	(void)state;
	assert_int_equal(digest_parse(ABC_SHA256, strlen(ABC_SHA256), &d, NULL), 0);
	assert_string_equal(digest_to_string(&d, s), ABC_SHA256);
	assert_int_equal(digest_parse("sha256:xyz", 10, &d, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "'sha256:xyz'"));
	kl_error_freep(&err);
	assert_int_equal(digest_parse("md5:" ABC_SHA256, strlen(ABC_SHA256) + 4, &d, NULL),
	                 -EINVAL);
	/* one hex digit short */
	assert_int_equal(digest_parse(ABC_SHA256, strlen(ABC_SHA256) - 1, &d, NULL), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_vectors),
	    cmocka_unit_test(test_streaming_equals_one_shot_and_ctx_resets),
	    cmocka_unit_test(test_parse_round_trip_and_errors_name_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
