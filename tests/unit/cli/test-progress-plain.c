// SPDX-License-Identifier: Apache-2.0
/* Unit tests for cli/progress-plain: BuildKit's plain lines for synthetic event sequences,
 * compared byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/cli/progress-feed.h"

static const char *const names[] = {
    "[internal] load build context",
    "[base 1/1] FROM busybox",
    "[app 2/3] RUN make",
    "[app 3/3] RUN make install",
};

static void
open_plain(struct feed *f)
{
	feed_open(f, &cli_progress_plain_ops, names);
	f->state = cli_progress_plain_new(f->out);
}

static void
test_cached_and_run_vertices_with_blank_lines_between(void **state)
{
	struct feed f;
	char *out;

	(void)state;
	open_plain(&f);
	feed_end(&f, PROGRESS_VERTEX_CACHED, 0, 0, 0, NULL);
	feed_end(&f, PROGRESS_VERTEX_CACHED, 1, 0, 0, NULL);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, FEED_MS(100));
	feed_log(&f, 2, FEED_MS(223), 1, "hello\n");
	feed_log(&f, 2, FEED_MS(12600), 2, "late\n");
	feed_log(&f, 2, FEED_MS(123500), 1, "much later\n");
	feed_end(&f, PROGRESS_VERTEX_DONE, 2, FEED_MS(100), FEED_MS(123900), NULL);
	out = feed_close(&f);
	assert_string_equal(out, "#1 [internal] load build context\n"
	                         "#1 CACHED\n"
	                         "\n"
	                         "#2 [base 1/1] FROM busybox\n"
	                         "#2 CACHED\n"
	                         "\n"
	                         "#3 [app 2/3] RUN make\n"
	                         "#3 0.123 hello\n"
	                         "#3 12.50 late\n"
	                         "#3 123.4 much later\n"
	                         "#3 DONE 123.8s\n");
	free(out);
}

static void
test_partial_lines_keep_the_time_they_began(void **state)
{
	struct feed f;
	char *out;

	(void)state;
	open_plain(&f);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, 0);
	feed_log(&f, 2, FEED_MS(100), 1, "abc");
	feed_log(&f, 2, FEED_MS(200), 1, "def\nghi");
	feed_log(&f, 2, FEED_MS(250), 2, "err\n");
	feed_end(&f, PROGRESS_VERTEX_DONE, 2, 0, FEED_MS(300), NULL);
	out = feed_close(&f);
	assert_string_equal(out, "#1 [app 2/3] RUN make\n"
	                         "#1 0.100 abcdef\n"
	                         "#1 0.250 err\n"
	                         "#1 0.200 ghi\n"
	                         "#1 DONE 0.3s\n");
	free(out);
}

/* A second vertex's output waits until the first ends, then shows under its own header. */
static void
test_parallel_vertex_waits_for_the_current_one(void **state)
{
	struct feed f;
	char *out;

	(void)state;
	open_plain(&f);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, 0);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 3, FEED_MS(100));
	feed_log(&f, 2, FEED_MS(200), 1, "a1\n");
	feed_log(&f, 3, FEED_MS(300), 1, "b1\n");
	feed_end(&f, PROGRESS_VERTEX_DONE, 2, 0, FEED_MS(1000), NULL);
	feed_end(&f, PROGRESS_VERTEX_DONE, 3, FEED_MS(100), FEED_MS(1500), NULL);
	out = feed_close(&f);
	assert_string_equal(out, "#1 [app 2/3] RUN make\n"
	                         "#1 0.200 a1\n"
	                         "#1 DONE 1.0s\n"
	                         "\n"
	                         "#2 [app 3/3] RUN make install\n"
	                         "#2 0.200 b1\n"
	                         "#2 DONE 1.4s\n");
	free(out);
}

/* After 10 s of waiting the other vertex gets the output: "#1 ..." marks the switch. */
static void
test_waiting_vertex_shows_after_ten_seconds(void **state)
{
	struct feed f;
	char *out;

	(void)state;
	open_plain(&f);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, 0);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 3, FEED_MS(100));
	feed_log(&f, 3, FEED_MS(200), 1, "b1\n");
	feed_log(&f, 2, FEED_MS(1000), 1, "a1\n");
	feed_log(&f, 2, FEED_MS(10500), 1, "a2\n");
	feed_end(&f, PROGRESS_VERTEX_DONE, 2, 0, FEED_MS(11000), NULL);
	feed_end(&f, PROGRESS_VERTEX_DONE, 3, FEED_MS(100), FEED_MS(12000), NULL);
	out = feed_close(&f);
	assert_string_equal(out, "#1 [app 2/3] RUN make\n"
	                         "#1 1.000 a1\n"
	                         "#1 10.50 a2\n"
	                         "#1 ...\n"
	                         "\n"
	                         "#2 [app 3/3] RUN make install\n"
	                         "#2 0.100 b1\n"
	                         "#2 ...\n"
	                         "\n"
	                         "#1 [app 2/3] RUN make\n"
	                         "#1 DONE 11.0s\n"
	                         "\n"
	                         "#2 [app 3/3] RUN make install\n"
	                         "#2 DONE 11.9s\n");
	free(out);
}

/* ERROR shows the message's first line; the last 10 lines follow the output at the end. */
static void
test_error_line_and_last_lines_block(void **state)
{
	struct feed f;
	char *out, *want, *p;
	size_t n = 0;
	FILE *w;

	(void)state;
	open_plain(&f);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, 0);
	feed_log(&f, 2, FEED_MS(500), 1, "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12\n");
	feed_end(&f, PROGRESS_VERTEX_FAILED, 2, 0, FEED_MS(600),
	         "vertex 'build': 'make' exited with code 2; its last output:\nl11\nl12");
	out = feed_close(&f);
	w = open_memstream(&want, &n);
	fputs("#1 [app 2/3] RUN make\n", w);
	for (int i = 1; i <= 12; i++)
		fprintf(w, "#1 0.500 l%d\n", i);
	fputs("#1 ERROR: vertex 'build': 'make' exited with code 2; its last output:\n", w);
	fputs("------\n > [app 2/3] RUN make:\n", w);
	for (int i = 3; i <= 12; i++)
		fprintf(w, "0.500 l%d\n", i);
	fputs("------\n", w);
	fclose(w);
	assert_string_equal(out, want);
	p = strstr(out, "ERROR");
	assert_non_null(p);
	free(want);
	free(out);
}

static void
test_canceled_vertex(void **state)
{
	struct feed f;
	char *out;

	(void)state;
	open_plain(&f);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, 0);
	feed_log(&f, 2, FEED_MS(100), 1, "working");
	feed_end(&f, PROGRESS_VERTEX_CANCELED, 2, 0, FEED_MS(200), NULL);
	out = feed_close(&f);
	assert_string_equal(out, "#1 [app 2/3] RUN make\n"
	                         "#1 0.100 working\n"
	                         "#1 CANCELED\n");
	free(out);
}

/* Byte counters print as BuildKit's statuses: again after 5% or 5 s, and "done". */
static void
test_byte_counter_lines_are_throttled(void **state)
{
	struct feed f;
	char *out;

	(void)state;
	open_plain(&f);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 1, 0);
	feed_bytes(&f, 1, FEED_MS(100), "sha256:aa", 0, 10000000);
	feed_bytes(&f, 1, FEED_MS(200), "sha256:aa", 100000, 10000000);
	feed_bytes(&f, 1, FEED_MS(300), "sha256:aa", 1000000, 10000000);
	feed_bytes(&f, 1, FEED_MS(6000), "sha256:aa", 1100000, 10000000);
	feed_bytes(&f, 1, FEED_MS(7000), "sha256:aa", 10000000, 10000000);
	feed_bytes(&f, 1, FEED_MS(7000), "https://h/f", 999, 0);
	feed_end(&f, PROGRESS_VERTEX_DONE, 1, 0, FEED_MS(7100), NULL);
	out = feed_close(&f);
	assert_string_equal(out, "#1 [base 1/1] FROM busybox\n"
	                         "#1 sha256:aa 0B / 10.00MB\n"
	                         "#1 sha256:aa 1.00MB / 10.00MB 0.2s\n"
	                         "#1 sha256:aa 1.10MB / 10.00MB 5.9s\n"
	                         "#1 sha256:aa 10.00MB / 10.00MB 6.9s done\n"
	                         "#1 https://h/f 999B\n"
	                         "#1 https://h/f 999B 0.1s done\n"
	                         "#1 DONE 7.1s\n");
	free(out);
}

/* A line without an end prints in pieces of 64 KiB rather than growing without bound. */
static void
test_endless_line_prints_in_pieces(void **state)
{
	struct feed f;
	char *out, *big = xmalloc(70001), *want;

	(void)state;
	memset(big, 'x', 70000);
	big[70000] = '\0';
	open_plain(&f);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, 0);
	feed_log(&f, 2, FEED_MS(100), 1, big);
	feed_log(&f, 2, FEED_MS(200), 1, "\n");
	big[65536] = '\0';
	feed_log(&f, 2, FEED_MS(300), 1, big);
	feed_log(&f, 2, FEED_MS(300), 1, "\nend\n");
	feed_end(&f, PROGRESS_VERTEX_DONE, 2, 0, FEED_MS(400), NULL);
	out = feed_close(&f);
	want = xasprintf("#1 [app 2/3] RUN make\n#1 0.100 %s\n#1 0.100 %.4464s\n#1 0.300 %s\n"
	                 "#1 0.300 end\n#1 DONE 0.4s\n",
	                 big, big, big);
	assert_string_equal(out, want);
	free(want);
	free(big);
	free(out);
}

static void
test_shared_formats(void **state)
{
	char b[16], o[32];

	(void)state;
	assert_string_equal(cli_progress_format_bytes(0, b), "0B");
	assert_string_equal(cli_progress_format_bytes(999, b), "999B");
	assert_string_equal(cli_progress_format_bytes(1000, b), "1.00kB");
	assert_string_equal(cli_progress_format_bytes(1234567, b), "1.23MB");
	assert_string_equal(cli_progress_format_bytes(UINT64_MAX, b), "18.45EB");
	assert_string_equal(cli_progress_format_offset(-5, o), "0.000");
	assert_string_equal(cli_progress_format_offset(FEED_MS(9999), o), "9.999");
	assert_string_equal(cli_progress_format_offset(FEED_MS(99990), o), "99.99");
	assert_string_equal(cli_progress_format_offset(FEED_MS(100000), o), "100.0");
	assert_int_equal(cli_progress_first_line("a\nb", 3), 1);
	assert_int_equal(cli_progress_first_line("ab", 2), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cached_and_run_vertices_with_blank_lines_between),
	    cmocka_unit_test(test_partial_lines_keep_the_time_they_began),
	    cmocka_unit_test(test_parallel_vertex_waits_for_the_current_one),
	    cmocka_unit_test(test_waiting_vertex_shows_after_ten_seconds),
	    cmocka_unit_test(test_error_line_and_last_lines_block),
	    cmocka_unit_test(test_canceled_vertex),
	    cmocka_unit_test(test_byte_counter_lines_are_throttled),
	    cmocka_unit_test(test_endless_line_prints_in_pieces),
	    cmocka_unit_test(test_shared_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
