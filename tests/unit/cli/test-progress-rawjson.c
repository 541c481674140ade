// SPDX-License-Identifier: Apache-2.0
/* Unit tests for cli/progress-rawjson: BuildKit's SolveStatus lines for synthetic events,
 * compared byte for byte, and each line parsed back. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/cli/progress-feed.h"
#include "util/xalloc.h"

static const char *const names[] = {
    "[internal] load build context",
    "[base 1/1] FROM \"busybox\"",
    "[app 2/3] RUN make",
    "[app 3/3] RUN make install",
};

static char *
digest_of(int v)
{
	char *s = xmalloc(DIGEST_STRING_SIZE);
	int n = snprintf(s, DIGEST_STRING_SIZE, "sha256:");

	for (int i = 0; i < DIGEST_SIZE; i++)
		n += snprintf(s + n, DIGEST_STRING_SIZE - (size_t)n, "%02x", 0xa0 + v);
	return s;
}

/* Line i of out (0-based), without its newline. */
static char *
line(const char *out, int i)
{
	const char *p = out, *nl;

	while (i-- > 0) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	nl = strchr(p, '\n');
	assert_non_null(nl);
	return xstrndup(p, (size_t)(nl - p));
}

static void
assert_line(const char *out, int i, const char *want)
{
	char *got = line(out, i);

	assert_string_equal(got, want);
	free(got);
}

static void
test_vertices_logs_statuses_and_warnings_as_solve_status(void **state)
{
	struct feed f;
	char *out, *d0 = digest_of(0), *d1 = digest_of(1), *d2 = digest_of(2), *d3 = digest_of(3);
	char *want;
	struct progress_event ev;
	size_t n = 0;

	(void)state;
	feed_open(&f, &cli_progress_rawjson_ops, names);
	f.state = cli_progress_rawjson_new(f.out);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, FEED_MS(100));
	feed_log(&f, 2, FEED_MS(200), 1, "hi\n");
	feed_end(&f, PROGRESS_VERTEX_DONE, 2, FEED_MS(100), FEED_MS(1300), NULL);
	feed_end(&f, PROGRESS_VERTEX_CACHED, 0, 0, 0, NULL);
	feed_end(&f, PROGRESS_VERTEX_FAILED, 3, FEED_MS(1400), FEED_MS(1900),
	         "bad \xff name\nline 2");
	feed_bytes(&f, 1, FEED_MS(1500), "sha256:cc", 50, 100);
	feed_bytes(&f, 1, FEED_MS(1600), "sha256:cc", 100, 100);
	feed_bytes(&f, 1, 123456789, "https://h/f", 7, 0);
	feed_end(&f, PROGRESS_VERTEX_CANCELED, 1, FEED_MS(1000), FEED_MS(2000) + 1, NULL);
	ev = feed_event(&f, PROGRESS_WARNING, UINT32_MAX, FEED_MS(2100));
	ev.data = "w";
	ev.len = 1;
	f.ops->event(f.state, &ev);
	out = feed_close(&f);

	want = xasprintf("{\"vertexes\":[{\"digest\":\"%s\",\"name\":\"[app 2/3] RUN make\","
	                 "\"started\":\"2023-11-14T22:13:20.1Z\"}]}",
	                 d2);
	assert_line(out, 0, want);
	free(want);
	want = xasprintf("{\"logs\":[{\"vertex\":\"%s\",\"stream\":1,\"data\":\"aGkK\","
	                 "\"timestamp\":\"2023-11-14T22:13:20.2Z\"}]}",
	                 d2);
	assert_line(out, 1, want);
	free(want);
	want = xasprintf("{\"vertexes\":[{\"digest\":\"%s\",\"name\":\"[app 2/3] RUN make\","
	                 "\"started\":\"2023-11-14T22:13:20.1Z\","
	                 "\"completed\":\"2023-11-14T22:13:21.3Z\"}]}",
	                 d2);
	assert_line(out, 2, want);
	free(want);
	want = xasprintf("{\"vertexes\":[{\"digest\":\"%s\",\"name\":\"[internal] load build "
	                 "context\",\"started\":\"2023-11-14T22:13:20Z\","
	                 "\"completed\":\"2023-11-14T22:13:20Z\",\"cached\":true}]}",
	                 d0);
	assert_line(out, 3, want);
	free(want);
	/* bytes that are not UTF-8 become U+FFFD, as Go's encoder writes them */
	want = xasprintf("{\"vertexes\":[{\"digest\":\"%s\",\"name\":\"[app 3/3] RUN make "
	                 "install\",\"started\":\"2023-11-14T22:13:21.4Z\","
	                 "\"completed\":\"2023-11-14T22:13:21.9Z\","
	                 "\"error\":\"bad \xef\xbf\xbd name\\nline 2\"}]}",
	                 d3);
	assert_line(out, 4, want);
	free(want);
	want = xasprintf("{\"statuses\":[{\"id\":\"sha256:cc\",\"vertex\":\"%s\",\"total\":100,"
	                 "\"current\":50,\"timestamp\":\"2023-11-14T22:13:21.5Z\","
	                 "\"started\":\"2023-11-14T22:13:21.5Z\"}]}",
	                 d1);
	assert_line(out, 5, want);
	free(want);
	want = xasprintf("{\"statuses\":[{\"id\":\"sha256:cc\",\"vertex\":\"%s\",\"total\":100,"
	                 "\"current\":100,\"timestamp\":\"2023-11-14T22:13:21.6Z\","
	                 "\"started\":\"2023-11-14T22:13:21.5Z\","
	                 "\"completed\":\"2023-11-14T22:13:21.6Z\"}]}",
	                 d1);
	assert_line(out, 6, want);
	free(want);
	want = xasprintf("{\"statuses\":[{\"id\":\"https://h/f\",\"vertex\":\"%s\",\"current\":7,"
	                 "\"timestamp\":\"2023-11-14T22:13:20.123456789Z\","
	                 "\"started\":\"2023-11-14T22:13:20.123456789Z\"}]}",
	                 d1);
	assert_line(out, 7, want);
	free(want);
	want = xasprintf("{\"vertexes\":[{\"digest\":\"%s\",\"name\":\"[base 1/1] FROM "
	                 "\\\"busybox\\\"\",\"started\":\"2023-11-14T22:13:21Z\","
	                 "\"completed\":\"2023-11-14T22:13:22.000000001Z\","
	                 "\"error\":\"context canceled\"}]}",
	                 d1);
	assert_line(out, 8, want);
	free(want);
	assert_line(out, 9, "{\"warnings\":[{\"level\":1,\"short\":\"dw==\"}]}");

	/* one JSON object per line, nothing else */
	for (const char *p = out; *p; n++) {
		const char *nl = strchr(p, '\n');
		json_error_t e;
		json_t *j;

		assert_non_null(nl);
		j = json_loadb(p, (size_t)(nl - p), 0, &e);
		assert_non_null(j);
		assert_true(json_is_object(j) && json_object_size(j) == 1);
		json_decref(j);
		p = nl + 1;
	}
	assert_int_equal(n, 10);
	free(d0);
	free(d1);
	free(d2);
	free(d3);
	free(out);
}

/* Long output is one line still, its data the exact bytes (a NUL and a lone byte included). */
static void
test_log_data_is_base64_of_the_exact_bytes(void **state)
{
	struct feed f;
	struct progress_event ev;
	static const char raw[] = "a\0b\xfe\n";
	char *out, *l;
	json_t *j;
	const char *b64;

	(void)state;
	feed_open(&f, &cli_progress_rawjson_ops, names);
	f.state = cli_progress_rawjson_new(f.out);
	ev = feed_event(&f, PROGRESS_VERTEX_LOG, 2, 0);
	ev.stream = 2;
	ev.data = raw;
	ev.len = sizeof(raw) - 1;
	f.ops->event(f.state, &ev);
	out = feed_close(&f);
	l = line(out, 0);
	j = json_loads(l, 0, NULL);
	assert_non_null(j);
	b64 = json_string_value(
	    json_object_get(json_array_get(json_object_get(j, "logs"), 0), "data"));
	assert_string_equal(b64, "YQBi/go=");
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(json_object_get(j, "logs"), 0), "stream")),
	                 2);
	json_decref(j);
	free(l);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vertices_logs_statuses_and_warnings_as_solve_status),
	    cmocka_unit_test(test_log_data_is_base64_of_the_exact_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
