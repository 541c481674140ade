// SPDX-License-Identifier: Apache-2.0
/* BuildKit's tty progress (its progressui console display), redrawn in place with ANSI cursor
 * movement at most every 100 ms: a "[+] Building 12.3s (5/9)" header, then " => name  1.2s"
 * per vertex in the order they showed up (CACHED, ERROR or CANCELED before the name of an
 * ended one, coloured when allowed), " => => id 1.20MB / 5.00MB" per byte counter, and under
 * running vertices their last lines (up to 6, dim) while the terminal has room; every line
 * fits in the width less one column. The last frame shows every vertex; then each failed
 * vertex's last lines follow between "------" rules, as BuildKit prints them. */
#include <inttypes.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <wchar.h>

#include "cli/progress.h"
#include "util/xalloc.h"

#define REDRAW_NS 100000000LL /* BuildKit's displayTimeout */
#define TERM_LINES 6          /* its termHeight: log lines under a running vertex */
#define TERM_PAD 10           /* its termPad: a log line is this much narrower */
#define RING_LINES 10         /* lines kept for the error block */
#define LINE_MAX_BYTES 65536  /* of a line kept; the rest of a longer one is dropped */
#define SGR_BLUE "\033[34m"
#define SGR_RED "\033[31m"
#define SGR_YELLOW "\033[33m"
#define SGR_FAINT "\033[2m"
#define SGR_RESET "\033[0m"

struct tline {
	char *text;
	size_t len;
	int64_t ts_ns;
};

struct tv {
	struct cli_vertex b;
	struct tline ring[RING_LINES]; /* its last complete lines */
	size_t ring_next, ring_count;
	char *partial; /* the line being written (stdout and stderr share it, as a terminal) */
	size_t partial_len, partial_cap;
	int64_t partial_ts_ns;
	bool cr; /* a '\r' ended the last data: the line restarts unless '\n' follows */
	uint64_t log_bytes;
	unsigned shown; /* frames that showed its lines */
};

struct tty {
	FILE *out;
	struct cli_progress_tty_options o;
	locale_t utf8;              /* (locale_t)0: widths of ASCII only */
	struct cli_vertex_table vt; /* of struct tv */
	int64_t start_ns, last_draw_ns;
	bool drawn, dirty;
	int lines; /* of the last frame, header included */
};

static int64_t
clock_now(struct tty *t)
{
	struct timespec ts;

	if (t->o.now)
		return t->o.now(t->o.now_userdata);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void *
cli_progress_tty_new(FILE *out, const struct cli_progress_tty_options *opts)
{
	struct tty *t = xcalloc(1, sizeof(*t));

	t->out = out;
	if (opts)
		t->o = *opts;
	cli_vertex_table_init(&t->vt, sizeof(struct tv));
	t->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	return t;
}

/* Text for one terminal line. */

struct buf {
	char *s;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	b->s = xgrow(b->s, &b->cap, b->len + n + 1, 1);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_spaces(struct buf *b, int n)
{
	while (n-- > 0)
		buf_add(b, " ", 1);
}

/* Skips an escape sequence at s[0] == ESC (CSI, OSC, or a two-byte one); returns its length. */
static size_t
escape_len(const char *s, size_t n)
{
	size_t i = 2;

	if (n < 2)
		return n;
	if (s[1] == '[') {
		while (i < n && !((unsigned char)s[i] >= 0x40 && (unsigned char)s[i] <= 0x7e))
			i++;
		return i < n ? i + 1 : n;
	}
	if (s[1] == ']') {
		for (; i < n; i++) {
			if (s[i] == '\a')
				return i + 1;
			if (s[i] == '\033' && i + 1 < n && s[i + 1] == '\\')
				return i + 2;
		}
		return n;
	}
	return 2;
}

/* Appends at most max_cols columns of s: escape sequences and control characters dropped,
 * tabs to the next multiple of 8, bytes that are not UTF-8 as '?'. Returns the columns. */
static int
add_text(struct tty *t, struct buf *b, const char *s, size_t n, int max_cols)
{
	locale_t old = t->utf8 ? uselocale(t->utf8) : (locale_t)0;
	mbstate_t mb = {0};
	int cols = 0;
	size_t i = 0;

	while (i < n && cols < max_cols) {
		unsigned char c = (unsigned char)s[i];
		wchar_t wc;
		size_t k;
		int w;

		if (c == '\033') {
			i += escape_len(s + i, n - i);
			continue;
		}
		if (c == '\t') {
			int to = (cols / 8 + 1) * 8;

			to = to < max_cols ? to : max_cols;
			buf_spaces(b, to - cols);
			cols = to;
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			i++;
			continue;
		}
		if (c < 0x80) {
			buf_add(b, s + i, 1);
			cols++;
			i++;
			continue;
		}
		k = t->utf8 ? mbrtowc(&wc, s + i, n - i, &mb) : (size_t)-1;
		if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
			memset(&mb, 0, sizeof(mb));
			buf_add(b, "?", 1);
			cols++;
			i++;
			continue;
		}
		w = wcwidth(wc);
		if (w < 0) { /* a control or unassigned character */
			i += k;
			continue;
		}
		if (cols + w > max_cols)
			break;
		buf_add(b, s + i, k);
		cols += w;
		i += k;
	}
	if (t->utf8)
		uselocale(old);
	return cols;
}

/* Events. */

static struct tv *
at(const struct tty *t, uint32_t idx)
{
	return cli_vertex_at(&t->vt, idx);
}

static void
end_line(struct tv *v)
{
	struct tline *l = &v->ring[v->ring_next];

	free(l->text);
	l->text = xmemdup(v->partial ? v->partial : "", v->partial_len + 1);
	l->len = v->partial_len;
	l->ts_ns = v->partial_ts_ns;
	v->ring_next = (v->ring_next + 1) % RING_LINES;
	if (v->ring_count < RING_LINES)
		v->ring_count++;
	v->partial_len = 0;
}

/* Output as a terminal shows it: '\n' ends a line, a lone '\r' starts it again. */
static void
log_data(void *vertex, const struct progress_event *ev)
{
	struct tv *v = vertex;

	v->log_bytes += ev->len;
	for (size_t i = 0; i < ev->len; i++) {
		char c = ev->data[i];

		if (v->cr && c != '\n')
			v->partial_len = 0;
		v->cr = c == '\r';
		if (c == '\r')
			continue;
		if (c == '\n') {
			end_line(v);
			continue;
		}
		if (!v->partial_len)
			v->partial_ts_ns = ev->time_ns;
		if (v->partial_len >= LINE_MAX_BYTES)
			continue;
		v->partial = xgrow(v->partial, &v->partial_cap, v->partial_len + 2, 1);
		v->partial[v->partial_len++] = c;
		v->partial[v->partial_len] = '\0';
	}
}

static void
end_vertex(void *vertex, const struct progress_event *ev)
{
	struct tv *v = vertex;

	if (v->partial_len)
		end_line(v);
	cli_vertex_complete(&v->b, ev->time_ns);
}

static const struct cli_vertex_hooks tty_hooks = {.log = log_data, .end = end_vertex};

/* The frame. */

struct job {
	struct tv *v;
	struct cli_counter *c; /* NULL: the vertex itself */
	bool completed;
	bool show_lines;
};

struct row {
	const char *text;
	size_t len;
};

/* What a 6-line terminal under the vertex shows: its last rows, the one being written
 * included, blank ones left out. */
static int
visible_rows(const struct tv *v, struct row rows[TERM_LINES])
{
	struct row all[RING_LINES + 1];
	int n = 0, k = 0;

	for (size_t i = 0; i < v->ring_count; i++) {
		const struct tline *l =
		    &v->ring[(v->ring_next + RING_LINES - v->ring_count + i) % RING_LINES];

		all[n++] = (struct row){l->text, l->len};
	}
	all[n++] = (struct row){v->partial, v->partial_len};
	for (int i = n > TERM_LINES ? n - TERM_LINES : 0; i < n; i++) {
		bool blank = true;

		for (size_t j = 0; j < all[i].len && blank; j++)
			blank = all[i].text[j] == ' ' || all[i].text[j] == '\t';
		if (!blank)
			rows[k++] = all[i];
	}
	return k;
}

static size_t
collect_jobs(struct tty *t, struct job **ret)
{
	struct job *jobs = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < t->vt.n_order; i++) {
		struct tv *v = at(t, t->vt.order[i]);

		jobs = xgrow(jobs, &cap, n + 1 + v->b.n_counters, sizeof(*jobs));
		jobs[n++] = (struct job){.v = v, .completed = v->b.end != CLI_VERTEX_RUNNING};
		for (size_t k = 0; k < v->b.n_counters; k++)
			jobs[n++] = (struct job){.v = v,
			                         .c = &v->b.counters[k],
			                         .completed = v->b.counters[k].completed};
	}
	*ret = jobs;
	return n;
}

static int
compare_busiest(const void *a, const void *b)
{
	const struct job *x = *(const struct job *const *)a, *y = *(const struct job *const *)b;
	uint64_t kx = x->v->log_bytes + x->v->shown * 50u, ky = y->v->log_bytes + y->v->shown * 50u;

	return kx < ky ? 1 : kx > ky ? -1 : 0;
}

/* BuildKit's setupTerminals: running vertices with output get their lines while the height
 * leaves room for them, the busiest first; returns how many lines those take. */
static int
pick_lines(struct job *jobs, size_t n, int height)
{
	struct job **cand = xcalloc(n + 1, sizeof(*cand));
	size_t n_cand = 0;
	int in_use = 0, free_rows, taken = 0;

	for (size_t i = 0; i < n; i++) {
		if (!jobs[i].c && !jobs[i].completed && jobs[i].v->log_bytes)
			cand[n_cand++] = &jobs[i];
		in_use += !jobs[i].completed;
	}
	qsort(cand, n_cand, sizeof(*cand), compare_busiest);
	free_rows = height - 2 - in_use;
	for (size_t i = 0; i < n_cand && free_rows > TERM_LINES + 3; i++) {
		struct row rows[TERM_LINES];

		cand[i]->show_lines = true;
		taken += visible_rows(cand[i]->v, rows);
		free_rows -= TERM_LINES + 3;
	}
	free(cand);
	return taken;
}

/* BuildKit's wrapHeight: the last limit jobs; running ones that fell off come back in place
 * of ended ones at the top. Fills out (n entries) and returns how many it holds. */
static size_t
wrap_height(const struct job *jobs, size_t n, int limit, struct job *out)
{
	size_t cut, n_out = 0, n_invisible = 0, n_keep = 0, space, skip;
	struct job *keep;
	long l;

	if (limit < 0)
		limit = 0;
	if (n <= (size_t)limit) {
		memcpy(out, jobs, n * sizeof(*out));
		return n;
	}
	cut = n - (size_t)limit;
	for (size_t i = 0; i < cut; i++)
		n_invisible += !jobs[i].completed;
	if (!n_invisible) {
		memcpy(out, jobs + cut, (size_t)limit * sizeof(*out));
		return (size_t)limit;
	}
	keep = xcalloc(n, sizeof(*keep));
	l = (long)n_invisible;
	for (size_t i = cut; i < n; i++, l--)
		if (!jobs[i].completed || l <= 0)
			keep[n_keep++] = jobs[i];
	space = (size_t)limit - n_keep;
	skip = n_invisible - space;
	for (size_t i = 0, seen = 0; i < cut; i++)
		if (!jobs[i].completed && seen++ >= skip)
			out[n_out++] = jobs[i];
	memcpy(out + n_out, keep, n_keep * sizeof(*out));
	free(keep);
	return n_out + n_keep;
}

static int
add_job_name(struct tty *t, struct buf *b, const struct job *j, int max_cols)
{
	static const char *const prefix[] = {"", "", "CACHED ", "ERROR ", "CANCELED "};
	struct buf name = {0};
	int cols;

	if (j->c) {
		buf_str(&name, "=> ");
		buf_str(&name, j->c->id);
	} else {
		buf_str(&name, prefix[j->v->b.end]);
		buf_str(&name, j->v->b.name);
	}
	cols = add_text(t, b, name.s, name.len, max_cols);
	free(name.s);
	return cols;
}

static double
job_seconds(const struct job *j, int64_t now)
{
	double s;

	if (j->c)
		s = (double)((j->c->completed ? j->c->ts_ns : now) - j->c->started_ns) / 1e9;
	else if (j->completed)
		s = (double)j->v->b.duration_ns / 1e9;
	else
		s = (double)(now - j->v->b.started_ns) / 1e9;
	return s < 0.05 ? 0.0 : s;
}

static const char *
job_color(const struct job *j)
{
	if (!j->completed)
		return NULL;
	if (!j->c && j->v->b.end == CLI_VERTEX_ERROR)
		return SGR_RED;
	if (!j->c && j->v->b.end == CLI_VERTEX_CANCELED)
		return SGR_YELLOW;
	return SGR_BLUE;
}

/* " => name   1.2s" in width - 1 columns, the timer at the right as BuildKit aligns it;
 * false (nothing added) when the width leaves no room for a name. */
static bool
add_job_line(struct tty *t, struct buf *f, const struct job *j, int width, int64_t now)
{
	const char *color = t->o.color ? job_color(j) : NULL;
	char timer[48], status[40] = "", cur[16], tot[16];
	int left, cols, tlen, slen = 0;

	tlen = snprintf(timer, sizeof(timer), " %3.1fs", job_seconds(j, now));
	if (j->c && j->c->total)
		slen = snprintf(status, sizeof(status), "%s / %s",
		                cli_progress_format_bytes(j->c->current, cur),
		                cli_progress_format_bytes(j->c->total, tot));
	else if (j->c && j->c->current)
		slen = snprintf(status, sizeof(status), "%s",
		                cli_progress_format_bytes(j->c->current, cur));
	left = width - 4 - (tlen + 1) - 1;
	if (slen && left + slen > 20)
		left -= slen + 1;
	else
		slen = 0;
	if (left < 12)
		return false;
	if (color)
		buf_str(f, color);
	buf_str(f, " => ");
	cols = 4 + add_job_name(t, f, j, left);
	if (slen) {
		buf_str(f, " ");
		buf_str(f, status);
		cols += 1 + slen;
	}
	buf_spaces(f, width - 1 - tlen - cols);
	buf_str(f, timer);
	if (color)
		buf_str(f, SGR_RESET);
	buf_str(f, "\033[K\n");
	return true;
}

/* The last lines of a running vertex, dim: " => => # line". */
static int
add_rows(struct tty *t, struct buf *f, struct tv *v, int width)
{
	struct row rows[TERM_LINES];
	int n = visible_rows(v, rows);

	for (int i = 0; i < n; i++) {
		if (t->o.color)
			buf_str(f, SGR_FAINT);
		buf_str(f, " => => # ");
		add_text(t, f, rows[i].text, rows[i].len, width - TERM_PAD);
		if (t->o.color)
			buf_str(f, SGR_RESET);
		buf_str(f, "\033[K\n");
	}
	v->shown++;
	return n;
}

static void
terminal_size(struct tty *t, int *width, int *height)
{
	struct winsize ws = {0};

	*width = t->o.width;
	*height = t->o.height;
	if (*width > 0 && *height > 0)
		return;
	if (ioctl(fileno(t->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
		*width = ws.ws_col;
		*height = ws.ws_row;
	} else {
		*width = 80;
		*height = 10;
	}
}

static void
add_header(struct tty *t, struct buf *f, int width, int64_t now, bool final)
{
	size_t done = 0;
	char *h;

	for (size_t i = 0; i < t->vt.n_order; i++)
		done += at(t, t->vt.order[i])->b.end != CLI_VERTEX_RUNNING;
	h = xasprintf("[+] Building %.1fs (%zu/%zu)%s", (double)(now - t->start_ns) / 1e9, done,
	              t->vt.n_order, final && done == t->vt.n_order ? " FINISHED" : "");
	add_text(t, f, h, strlen(h), width - 1);
	buf_str(f, "\033[K\n");
	free(h);
}

/* Draws a frame over the last one; the final one shows every vertex, whatever the height. */
static void
draw(struct tty *t, int64_t now, bool final)
{
	struct buf f = {0};
	struct job *jobs, *shown;
	size_t n, n_shown;
	int width, height, lines = 1, taken;

	terminal_size(t, &width, &height);
	n = collect_jobs(t, &jobs);
	shown = xcalloc(n + 1, sizeof(*shown));
	taken = pick_lines(jobs, n, height);
	n_shown = final ? (memcpy(shown, jobs, n * sizeof(*jobs)), n)
	                : wrap_height(jobs, n, height - 2 - taken, shown);
	if (t->lines > 0) {
		char up[32];

		snprintf(up, sizeof(up), "\033[%dA", t->lines);
		buf_str(&f, up);
	}
	buf_str(&f, "\r\033[?25l");
	add_header(t, &f, width, now, final);
	for (size_t i = 0; i < n_shown; i++) {
		if (!add_job_line(t, &f, &shown[i], width, now))
			continue;
		lines++;
		if (shown[i].show_lines)
			lines += add_rows(t, &f, shown[i].v, width);
	}
	buf_str(&f, "\033[J\033[?25h");
	fwrite(f.s, 1, f.len, t->out);
	fflush(t->out);
	t->lines = lines;
	t->last_draw_ns = now;
	t->drawn = true;
	t->dirty = false;
	free(f.s);
	free(shown);
	free(jobs);
}

static void
maybe_draw(struct tty *t)
{
	int64_t now = clock_now(t);

	if (!t->drawn || now - t->last_draw_ns >= REDRAW_NS)
		draw(t, now, false);
	else
		t->dirty = true;
}

static void
tty_event(void *state, const struct progress_event *ev)
{
	struct tty *t = state;

	if (!cli_vertex_table_event(&t->vt, ev, &tty_hooks))
		return;
	if (!t->start_ns)
		t->start_ns = at(t, t->vt.order[0])->b.started_ns;
	maybe_draw(t);
}

static void
tty_tick(void *state)
{
	struct tty *t = state;
	bool running = false;

	for (size_t i = 0; i < t->vt.n_order && !running; i++)
		running = at(t, t->vt.order[i])->b.end == CLI_VERTEX_RUNNING;
	if (t->drawn && (running || t->dirty))
		maybe_draw(t);
}

/* BuildKit's printErrorLogs after the display. */
static void
print_error_logs(struct tty *t)
{
	for (size_t i = 0; i < t->vt.n_order; i++) {
		const struct tv *v = at(t, t->vt.order[i]);

		if (v->b.end != CLI_VERTEX_ERROR)
			continue;
		fprintf(t->out, "------\n > %s:\n", v->b.name);
		for (size_t k = 0; k < v->ring_count; k++) {
			const struct tline *l =
			    &v->ring[(v->ring_next + RING_LINES - v->ring_count + k) % RING_LINES];
			char off[32];

			cli_progress_format_offset(l->ts_ns - v->b.started_ns, off);
			fprintf(t->out, "%s %.*s\n", off, (int)l->len, l->text);
		}
		fputs("------\n", t->out);
	}
}

static void
tty_finish(void *state)
{
	struct tty *t = state;

	if (t->vt.n_order)
		draw(t, clock_now(t), true);
	print_error_logs(t);
	cli_vertex_table_print_warnings(&t->vt, t->out);
	fflush(t->out);
}

static void
tty_free(void *state)
{
	struct tty *t = state;

	for (size_t i = 0; i < t->vt.cap; i++) {
		struct tv *v = at(t, (uint32_t)i);

		free(v->partial);
		for (size_t k = 0; k < RING_LINES; k++)
			free(v->ring[k].text);
	}
	cli_vertex_table_free(&t->vt);
	if (t->utf8)
		freelocale(t->utf8);
	free(t);
}

const struct cli_progress_ops cli_progress_tty_ops = {
    .event = tty_event,
    .tick = tty_tick,
    .finish = tty_finish,
    .free = tty_free,
};
