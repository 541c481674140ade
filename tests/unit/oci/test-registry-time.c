// SPDX-License-Identifier: Apache-2.0
/* Unit tests for oci/registry-time and the registry client's timeout option: durations as
 * --registry-timeout takes them, how messages write them, Retry-After, and the default. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "oci/registry.h"
#include "util/error.h"

static void
assert_duration(const char *text, unsigned want)
{
	unsigned ms = 0;
	struct kl_error *err = NULL;

	assert_int_equal(registry_parse_duration(text, &ms, &err), 0);
	assert_null(err);
	assert_int_equal(ms, want);
}

static void
assert_bad_duration(const char *text, const char *msg)
{
	unsigned ms = 12345;
	struct kl_error *err = NULL;

	assert_int_equal(registry_parse_duration(text, &ms, &err), -EINVAL);
	assert_non_null(err);
	if (!strstr(err->msg, msg))
		fail_msg("'%s': message '%s' lacks '%s'", text, err->msg, msg);
	assert_int_equal(ms, 12345); /* untouched on failure */
	kl_error_free(err);
}

static void
test_durations_take_units_and_fractions(void **state)
{
	(void)state;
	assert_duration("10s", 10000);
	assert_duration("500ms", 500);
	assert_duration("2m", 120000);
	assert_duration("1h", 3600000);
	assert_duration("1.5s", 1500);
	assert_duration(".25s", 250);
	assert_duration("1m30s", 90000);
	assert_duration("1h2m3s4ms", 3723004);
	assert_duration("1ms", 1);
	assert_duration("24h", REGISTRY_MAX_TIMEOUT_MS);
}

static void
test_bad_durations_are_refused_naming_the_text(void **state)
{
	(void)state;
	assert_bad_duration("", "empty duration");
	assert_bad_duration("10", "duration '10': a number needs a unit");
	assert_bad_duration("10x", "duration '10x': unknown unit 'x'");
	assert_bad_duration("s", "'s' is not a duration");
	assert_bad_duration("-1s", "'-1s' is not a duration");
	assert_bad_duration("1s ", "duration '1s ': unknown unit 's '");
	assert_bad_duration("1.s.", "'1.s.' is not a duration");
	assert_bad_duration("0s", "duration '0s': shorter than 1ms");
	assert_bad_duration("0.1ms", "shorter than 1ms");
	assert_bad_duration("25h", "duration '25h': longer than 24h");
	assert_bad_duration("24h1ms", "longer than 24h");
	assert_bad_duration("9999999999999s", "longer than 24h");
}

static void
assert_format(unsigned ms, const char *want)
{
	char buf[REGISTRY_DURATION_SIZE];

	assert_string_equal(registry_format_duration(ms, buf), want);
}

static void
test_durations_are_written_as_people_write_them(void **state)
{
	(void)state;
	assert_format(500, "500ms");
	assert_format(2000, "2s");
	assert_format(1500, "1.5s");
	assert_format(1001, "1.001s");
	assert_format(120000, "2m");
	assert_format(90000, "1m30s");
	assert_format(3600000, "1h");
	assert_format(REGISTRY_MAX_TIMEOUT_MS, "24h");
	assert_format(REGISTRY_DEFAULT_TIMEOUT_MS, "30s");
	assert_format(0, "0s");
}

static void
test_written_durations_parse_back(void **state)
{
	static const unsigned samples[] = {1, 999, 1000, 1500, 59999, 61001, 3723004};
	char buf[REGISTRY_DURATION_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		assert_duration(registry_format_duration(samples[i], buf), samples[i]);
}

static void
test_retry_after_is_seconds_or_a_date(void **state)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 */
	const time_t now = 784111777;
	uint64_t ms = 7;

	(void)state;
	assert_int_equal(registry_parse_retry_after("1", now, &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(registry_parse_retry_after(" 120 ", now, &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(registry_parse_retry_after("0", now, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(registry_parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now, &ms), 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(registry_parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now, &ms), 0);
	assert_int_equal(ms, 0); /* a date past is no wait */
	/* Absurdly long: huge, never wrapped into a short wait. */
	assert_int_equal(registry_parse_retry_after("99999999999999999999999", now, &ms), 0);
	assert_true(ms > REGISTRY_MAX_RETRY_AFTER_MS);
	assert_int_equal(registry_parse_retry_after("soon", now, &ms), -EINVAL);
	assert_int_equal(registry_parse_retry_after("", now, &ms), -EINVAL);
}

static void
test_default_timeout_is_at_most_30_seconds(void **state)
{
	struct registry *r = NULL;
	struct registry_options o = {0};

	(void)state;
	assert_true(REGISTRY_DEFAULT_TIMEOUT_MS <= 30000);
	assert_int_equal(registry_new("127.0.0.1:5000", "busybox", NULL, &r, NULL), 0);
	assert_int_equal(registry_timeout_ms(r), REGISTRY_DEFAULT_TIMEOUT_MS);
	r = registry_free(r);
	/* { 0 } options, as every caller that sets no timeout passes */
	assert_int_equal(registry_new("127.0.0.1:5000", "busybox", &o, &r, NULL), 0);
	assert_int_equal(registry_timeout_ms(r), REGISTRY_DEFAULT_TIMEOUT_MS);
	r = registry_free(r);
	o.timeout_ms = 500;
	assert_int_equal(registry_new("127.0.0.1:5000", "busybox", &o, &r, NULL), 0);
	assert_int_equal(registry_timeout_ms(r), 500);
	r = registry_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durations_take_units_and_fractions),
	    cmocka_unit_test(test_bad_durations_are_refused_naming_the_text),
	    cmocka_unit_test(test_durations_are_written_as_people_write_them),
	    cmocka_unit_test(test_written_durations_parse_back),
	    cmocka_unit_test(test_retry_after_is_seconds_or_a_date),
	    cmocka_unit_test(test_default_timeout_is_at_most_30_seconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
