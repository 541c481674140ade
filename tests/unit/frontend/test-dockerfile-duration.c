// SPDX-License-Identifier: Apache-2.0
/* Unit tests for frontend/dockerfile-duration.c: Go's time.ParseDuration. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-duration.h"

static void
ok(const char *s, int64_t want)
{
	int64_t d;
	char *msg = NULL;

	if (dockerfile_duration_parse(s, &d, &msg) < 0)
		fail_msg("'%s': %s", s, msg);
	if (d != want)
		fail_msg("'%s': %lld, want %lld", s, (long long)d, (long long)want);
}

static void
bad(const char *s, const char *want)
{
	int64_t d;
	char *msg = NULL;

	assert_int_equal(dockerfile_duration_parse(s, &d, &msg), -EINVAL);
	if (strcmp(msg, want) != 0)
		fail_msg("'%s': '%s', want '%s'", s, msg, want);
	free(msg);
}

static void
test_valid(void **state)
{
	(void)state;
	ok("0", 0);
	ok("-0", 0);
	ok("5s", 5000000000LL);
	ok("1m30s", 90000000000LL);
	ok("1.5h", 5400000000000LL);
	ok("-1.5h", -5400000000000LL);
	ok(".5s", 500000000LL);
	ok("1.s", 1000000000LL);
	ok("300ms", 300000000LL);
	ok("10us", 10000LL);
	ok("10\xc2\xb5s", 10000LL);
	ok("10\xce\xbcs", 10000LL);
	ok("7ns", 7);
	ok("2h45m", 9900000000000LL);
	ok("9223372036854775807ns", INT64_MAX);
}

static void
test_invalid(void **state)
{
	(void)state;
	bad("", "time: invalid duration \"\"");
	bad("x", "time: invalid duration \"x\"");
	bad("1", "time: missing unit in duration \"1\"");
	bad("1x", "time: unknown unit \"x\" in duration \"1x\"");
	bad(".s", "time: invalid duration \".s\"");
	bad("9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\"");
	bad("3000000h", "time: invalid duration \"3000000h\"");
	bad("1s ", "time: unknown unit \"s \" in duration \"1s \"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
