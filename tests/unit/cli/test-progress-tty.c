// SPDX-License-Identifier: Apache-2.0
/* Unit tests for cli/progress-tty: frames for synthetic event sequences with a fixed size and
 * clock — the final frame compared exactly, redraws counted and measured against the width —
 * and cli_progress_new's choice on a terminal (a pty). */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "tests/unit/cli/progress-feed.h"

static const char *const names[] = {
    "[internal] load build context", "[base 1/1] FROM busybox", "[app 2/3] RUN make",
    "[app 3/3] RUN make install",    "[s 5/10] RUN step 5",     "[s 6/10] RUN step 6",
    "[s 7/10] RUN step 7",           "[s 8/10] RUN step 8",     "[s 9/10] RUN step 9",
    "[s 10/10] RUN step 10",
};

static int64_t now_ns;

static int64_t
fake_now(void *userdata)
{
	(void)userdata;
	return FEED_T0 + now_ns;
}

static void
open_tty(struct feed *f, int width, int height, bool color, const char *const *n)
{
	const struct cli_progress_tty_options o = {
	    .width = width, .height = height, .color = color, .now = fake_now};

	feed_open(f, &cli_progress_tty_ops, n ? n : names);
	f->state = cli_progress_tty_new(f->out, &o);
	now_ns = 0;
}

/* The clock set to t, for an event at t. */
static int64_t
at(int64_t t)
{
	now_ns = t;
	return t;
}

/* A job line as BuildKit aligns it: the timer ends at column width - 1. */
static char *
job(const char *left, const char *timer, int width)
{
	return xasprintf("%-*s%s\n", width - 1 - (int)strlen(timer), left, timer);
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* Whether s sets a colour or style (ESC [ digits m). */
static bool
has_sgr(const char *s)
{
	for (const char *p = strstr(s, "\033["); p; p = strstr(p + 1, "\033[")) {
		size_t n = strspn(p + 2, "0123456789;");

		if (p[2 + n] == 'm')
			return true;
	}
	return false;
}

/* Frame i (0-based; -1: the last) without its cursor movement and line erasing; *after gets
 * what follows the last frame. */
static char *
frame(const char *out, int i, const char **after)
{
	const char *start = NULL, *end;
	size_t k = 0, total = count(out, "\r\033[?25l");
	struct buf_s {
		char *s;
		size_t n;
	} b = {0};
	FILE *w;

	for (const char *p = strstr(out, "\r\033[?25l"); p; p = strstr(p + 1, "\r\033[?25l"), k++)
		if ((i < 0 && k == total - 1) || (int)k == i)
			start = p + strlen("\r\033[?25l");
	assert_non_null(start);
	end = strstr(start, "\033[J\033[?25h");
	assert_non_null(end);
	if (after)
		*after = end + strlen("\033[J\033[?25h");
	w = open_memstream(&b.s, &b.n);
	for (const char *p = start; p < end; p++) {
		if (!strncmp(p, "\033[K", 3)) {
			p += 2;
			continue;
		}
		fputc(*p, w);
	}
	fclose(w);
	return b.s;
}

static void
test_final_frame_lists_every_vertex_with_state_and_time(void **state)
{
	struct feed f;
	char *out, *fr, *want;
	const char *after;
	char *l1, *l2, *l3;

	(void)state;
	open_tty(&f, 60, 20, false, NULL);
	feed_end(&f, PROGRESS_VERTEX_CACHED, 0, 0, at(0), NULL);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, at(FEED_MS(100)));
	feed_log(&f, 2, at(FEED_MS(200)), 1, "compiling\n");
	feed_end(&f, PROGRESS_VERTEX_DONE, 2, FEED_MS(100), at(FEED_MS(1300)), NULL);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 3, at(FEED_MS(1400)));
	feed_log(&f, 3, at(FEED_MS(1500)), 2, "oops\n");
	feed_end(&f, PROGRESS_VERTEX_FAILED, 3, FEED_MS(1400), at(FEED_MS(1900)),
	         "vertex 'install': 'make install' exited with code 2");
	at(FEED_MS(2000));
	out = feed_close(&f);
	fr = frame(out, -1, &after);
	l1 = job(" => CACHED [internal] load build context", " 0.0s", 60);
	l2 = job(" => [app 2/3] RUN make", " 1.2s", 60);
	l3 = job(" => ERROR [app 3/3] RUN make install", " 0.5s", 60);
	want = xasprintf("[+] Building 2.0s (3/3) FINISHED\n%s%s%s", l1, l2, l3);
	assert_string_equal(fr, want);
	assert_string_equal(after, "------\n > [app 3/3] RUN make install:\n0.100 oops\n------\n");
	/* no colour was asked for */
	assert_false(has_sgr(out));
	free(want);
	free(l1);
	free(l2);
	free(l3);
	free(fr);
	free(out);
}

static void
test_running_vertex_shows_last_lines_and_a_live_timer(void **state)
{
	struct feed f;
	char *out, *fr, *want, *l;

	(void)state;
	open_tty(&f, 60, 20, false, NULL);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, at(0));
	feed_log(&f, 2, at(FEED_MS(200)), 1, "l1\nl2\nl3\nl4\nl5\nl6\n\nl7\nl8\n");
	at(FEED_MS(250));
	f.ops->tick(f.state); /* 50 ms after the last frame: none */
	at(FEED_MS(420));
	f.ops->tick(f.state);
	out = feed_close(&f);
	assert_int_equal(count(out, "\r\033[?25l"), 4); /* start, log, tick, final */
	fr = frame(out, 1, NULL);
	l = job(" => [app 2/3] RUN make", " 0.2s", 60);
	/* 6 rows as a terminal shows them: l5, l6, an empty one, l7, l8 and the cursor's */
	want = xasprintf("[+] Building 0.2s (0/1)\n%s => => # l5\n => => # l6\n => => # l7\n"
	                 " => => # l8\n",
	                 l);
	assert_string_equal(fr, want);
	free(fr);
	free(want);
	free(l);
	fr = frame(out, 2, NULL);
	l = job(" => [app 2/3] RUN make", " 0.4s", 60);
	assert_true(!strncmp(fr, "[+] Building 0.4s (0/1)\n", 24));
	assert_non_null(strstr(fr, l));
	free(fr);
	free(l);
	/* the cursor goes back over the 6 lines of the frame before */
	assert_non_null(strstr(out, "\033[6A\r\033[?25l[+] Building 0.4s"));
	free(out);
}

/* The columns of s once escape sequences are gone, as a terminal counts them. */
static int
columns(const char *s, size_t n)
{
	mbstate_t mb = {0};
	int cols = 0;

	for (size_t i = 0; i < n;) {
		wchar_t wc;
		size_t k;

		if (s[i] == '\033') {
			i++;
			if (i < n && s[i] == '[')
				while (++i < n && !(s[i] >= 0x40 && s[i] <= 0x7e))
					;
			i++;
			continue;
		}
		if (s[i] == '\r') {
			i++;
			continue;
		}
		k = mbrtowc(&wc, s + i, n - i, &mb);
		assert_true(k != (size_t)-1 && k != (size_t)-2 && k != 0);
		assert_true(wcwidth(wc) >= 0); /* nothing a terminal would not print */
		cols += wcwidth(wc);
		i += k;
	}
	return cols;
}

static void
test_redraws_are_limited_and_lines_fit_the_width(void **state)
{
	static const char *const long_names[] = {
	    "[build 1/2] RUN ./configure --prefix=/usr --enable-everything-there-is",
	    "[build 2/2] RUN make -j8 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5"
	    "\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac",
	};
	struct feed f;
	char *out;
	const char *after;
	size_t frames = 0;
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), old;

	(void)state;
	assert_non_null(utf8);
	open_tty(&f, 40, 12, true, long_names);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 0, at(0));
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 1, at(0));
	for (int i = 0; i < 100; i++)
		feed_log(&f, (uint32_t)(i % 2), at(FEED_MS(10 * i)), 1,
		         i % 3
		             ? "\033[1;32mgreen\033[0m\tand a tab, then a very long line indeed"
		               " that goes on and on\n"
		             : "\xe5\xb9\x85\xe5\xba\x83\xe3\x81\x84 \xff bad byte \r50%\r100%\n");
	feed_end(&f, PROGRESS_VERTEX_DONE, 0, 0, at(FEED_MS(1000)), NULL);
	feed_end(&f, PROGRESS_VERTEX_FAILED, 1, 0, at(FEED_MS(1000)), "failed");
	out = feed_close(&f);
	frames = count(out, "\r\033[?25l");
	/* 2 starts and 100 lines over a second: one frame per 100 ms (0 to 1000), and the last */
	assert_int_equal(frames, 12);
	old = uselocale(utf8);
	for (size_t i = 0; i < frames; i++) {
		char *fr = frame(out, (int)i, i + 1 == frames ? &after : NULL);

		for (char *p = fr, *nl; (nl = strchr(p, '\n')); p = nl + 1)
			assert_true(columns(p, (size_t)(nl - p)) <= 39);
		free(fr);
	}
	uselocale(old);
	freelocale(utf8);
	assert_non_null(strstr(after, " > [build 2/2]"));
	free(out);
}

static void
test_short_terminal_keeps_running_vertices_in_view(void **state)
{
	struct feed f;
	char *out, *fr, *want, *l[4];

	(void)state;
	open_tty(&f, 60, 6, false, NULL);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 0, at(0));
	for (uint32_t v = 1; v < 10; v++)
		feed_end(&f, PROGRESS_VERTEX_CACHED, v, FEED_MS(200 * v), at(FEED_MS(200 * v)),
		         NULL);
	feed_end(&f, PROGRESS_VERTEX_DONE, 0, 0, at(FEED_MS(2000)), NULL);
	out = feed_close(&f);
	/* the frame after the last CACHED: 4 jobs fit, the running one stays on top */
	fr = frame(out, 9, NULL);
	l[0] = job(" => [internal] load build context", " 1.8s", 60);
	l[1] = job(" => CACHED [s 8/10] RUN step 8", " 0.0s", 60);
	l[2] = job(" => CACHED [s 9/10] RUN step 9", " 0.0s", 60);
	l[3] = job(" => CACHED [s 10/10] RUN step 10", " 0.0s", 60);
	want = xasprintf("[+] Building 1.8s (9/10)\n%s%s%s%s", l[0], l[1], l[2], l[3]);
	assert_string_equal(fr, want);
	free(fr);
	free(want);
	for (int i = 0; i < 4; i++)
		free(l[i]);
	/* the final frame has them all */
	fr = frame(out, -1, NULL);
	assert_true(!strncmp(fr, "[+] Building 2.0s (10/10) FINISHED\n", 35));
	assert_int_equal(count(fr, "\n"), 11);
	free(fr);
	free(out);
}

static void
test_colors_mark_ended_vertices_and_dim_log_lines(void **state)
{
	struct feed f;
	char *out, *fr;

	(void)state;
	open_tty(&f, 60, 20, true, NULL);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 2, at(0));
	feed_log(&f, 2, at(FEED_MS(200)), 1, "hi\n");
	feed_end(&f, PROGRESS_VERTEX_CACHED, 0, FEED_MS(400), at(FEED_MS(400)), NULL);
	feed_simple(&f, PROGRESS_VERTEX_STARTED, 3, at(FEED_MS(500)));
	feed_end(&f, PROGRESS_VERTEX_CANCELED, 2, 0, at(FEED_MS(600)), NULL);
	feed_end(&f, PROGRESS_VERTEX_FAILED, 3, FEED_MS(500), at(FEED_MS(700)), "failed");
	out = feed_close(&f);
	fr = frame(out, 1, NULL);
	assert_non_null(strstr(fr, "\n\033[2m => => # hi\033[0m\n"));
	free(fr);
	fr = frame(out, -1, NULL);
	assert_non_null(strstr(fr, "\n\033[34m => CACHED [internal]"));
	assert_non_null(strstr(fr, "\n\033[33m => CANCELED [app 2/3]"));
	assert_non_null(strstr(fr, "\n\033[31m => ERROR [app 3/3]"));
	assert_non_null(strstr(fr, " 0.0s\033[0m\n"));
	free(fr);
	free(out);
}

/* What a pty's other end received (non-blocking). */
static char *
drain(int master)
{
	char *s = NULL, buf[4096];
	size_t n = 0;
	ssize_t r;

	while ((r = read(master, buf, sizeof(buf))) > 0) {
		s = xrealloc(s, n + (size_t)r + 1);
		memcpy(s + n, buf, (size_t)r);
		n += (size_t)r;
	}
	if (!s)
		s = xstrdup("");
	s[n] = '\0';
	return s;
}

static void
render_one(FILE *out, enum cli_progress_mode mode, const struct cli_progress_ops **ret_ops)
{
	struct cli_progress *p = cli_progress_new(mode, out);
	struct digest d = {{0xa0}};
	struct progress_event ev = {
	    .kind = PROGRESS_VERTEX_CACHED, .vertex = 0, .name = "[internal] x", .digest = &d};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ev.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	*ret_ops = p->ops;
	cli_progress_event(&ev, p);
	cli_progress_tick(p);
	cli_progress_finish(p);
	cli_progress_free(p);
	fflush(out);
}

static void
test_auto_is_tty_on_a_terminal_and_honours_no_color_and_dumb(void **state)
{
	const struct cli_progress_ops *ops;
	struct winsize ws = {.ws_row = 30, .ws_col = 50};
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	char *got, *colored, *mem = NULL, *line = job(" => CACHED [internal] x", " 0.0s", 50);
	size_t mem_len = 0;
	FILE *slave, *m;

	(void)state;
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	assert_int_equal(ioctl(master, TIOCSWINSZ, &ws), 0);
	slave = fopen(ptsname(master), "w");
	assert_non_null(slave);
	assert_int_equal(fcntl(master, F_SETFL, O_NONBLOCK), 0);

	setenv("TERM", "xterm", 1);
	unsetenv("NO_COLOR");
	render_one(slave, CLI_PROGRESS_AUTO, &ops);
	assert_ptr_equal(ops, &cli_progress_tty_ops);
	got = drain(master);
	assert_non_null(strstr(got, "[+] Building 0.0s (1/1) FINISHED"));
	assert_non_null(strstr(got, "\033[34m => CACHED [internal] x"));
	/* the width came from the terminal: the timer ends at column 49 */
	colored = xasprintf("%.*s\033[0m", (int)strlen(line) - 1, line);
	assert_non_null(strstr(got, colored));
	free(colored);
	free(line);
	free(got);

	setenv("NO_COLOR", "1", 1);
	render_one(slave, CLI_PROGRESS_AUTO, &ops);
	assert_ptr_equal(ops, &cli_progress_tty_ops);
	got = drain(master);
	assert_non_null(strstr(got, " => CACHED [internal] x"));
	assert_null(strstr(got, "\033[34m"));
	free(got);
	unsetenv("NO_COLOR");

	setenv("TERM", "dumb", 1);
	render_one(slave, CLI_PROGRESS_AUTO, &ops);
	assert_ptr_equal(ops, &cli_progress_plain_ops);
	got = drain(master);
	assert_non_null(strstr(got, "#1 [internal] x"));
	free(got);
	fclose(slave);
	close(master);

	m = open_memstream(&mem, &mem_len);
	render_one(m, CLI_PROGRESS_AUTO, &ops);
	assert_ptr_equal(ops, &cli_progress_plain_ops);
	render_one(m, CLI_PROGRESS_TTY, &ops);
	assert_ptr_equal(ops, &cli_progress_tty_ops);
	render_one(m, CLI_PROGRESS_RAWJSON, &ops);
	assert_ptr_equal(ops, &cli_progress_rawjson_ops);
	fclose(m);
	/* tty forced onto a file: no colour, 80 columns */
	assert_null(strstr(mem, "\033[34m"));
	assert_non_null(strstr(mem, "\n => CACHED [internal] x"));
	free(mem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_final_frame_lists_every_vertex_with_state_and_time),
	    cmocka_unit_test(test_running_vertex_shows_last_lines_and_a_live_timer),
	    cmocka_unit_test(test_redraws_are_limited_and_lines_fit_the_width),
	    cmocka_unit_test(test_short_terminal_keeps_running_vertices_in_view),
	    cmocka_unit_test(test_colors_mark_ended_vertices_and_dim_log_lines),
	    cmocka_unit_test(test_auto_is_tty_on_a_terminal_and_honours_no_color_and_dumb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
