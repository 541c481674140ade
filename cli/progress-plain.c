// SPDX-License-Identifier: Apache-2.0
/* BuildKit's plain progress (its progressui textMux): "#N name" when output of vertex N
 * follows, then "#N 0.123 line", "#N id 1.20MB / 5.00MB 0.4s", and "#N DONE 0.3s",
 * "#N CACHED", "#N ERROR: …" or "#N CANCELED"; a blank line before each "#N name" but the
 * first; "#N ..." when the output moves to another vertex before N ended. A vertex keeps the
 * output while it runs; the others' lines wait until it ends, until one waited 10 s, or until
 * the current one has had its fair share of 5 s; at the end, each failed vertex's last lines
 * between "------" rules. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "util/xalloc.h"

#define NONE UINT32_MAX
#define LINE_MAX_BYTES 65536           /* a longer line prints in pieces of this size */
#define RING_LINES 10                  /* BuildKit's logsBufferSize */
#define ANTI_FLICKER_NS 5000000000LL   /* its antiFlicker */
#define MAX_DELAY_NS 10000000000LL     /* its maxDelay */
#define MIN_TIME_DELTA_NS 5000000000LL /* its minTimeDelta: counters */
#define MIN_PROGRESS_DELTA 0.05        /* its minProgressDelta */

struct pv {
	struct cli_vertex b;
	unsigned number; /* 0: not printed yet */
	int64_t completed_ns;
	char *error;      /* its first line */
	char *partial[3]; /* a line of stream 1 or 2 without its end yet … */
	size_t partial_len[3];
	int64_t partial_ns[3]; /* … and when it began, which its offset shows */
	char **pending;        /* "0.123 text" lines not printed yet */
	size_t n_pending, cap_pending;
	char *ring[RING_LINES]; /* the last lines printed, for the error block */
	size_t ring_next;
	bool updated;     /* something to print (BuildKit's t.updates) */
	unsigned count;   /* updates since it last lost the output */
	int64_t block_ns; /* when count went from 0 (0: never) */
};

struct plain {
	FILE *out;
	struct cli_vertex_table t; /* of struct pv */
	unsigned next;
	uint32_t current;
	bool not_first;
};

void *
cli_progress_plain_new(FILE *out)
{
	struct plain *p = xcalloc(1, sizeof(*p));

	p->out = out;
	cli_vertex_table_init(&p->t, sizeof(struct pv));
	p->current = NONE;
	return p;
}

static struct pv *
at(const struct plain *p, uint32_t idx)
{
	return cli_vertex_at(&p->t, idx);
}

/* BuildKit's vertex.update: one more change, starting a block when it had none. */
static void
touch(struct pv *v, int64_t now)
{
	if (v->count == 0)
		v->block_ns = now;
	v->count++;
	v->updated = true;
}

static void
add_line(struct pv *v, int64_t now, const char *s, size_t n)
{
	char off[32];

	cli_progress_format_offset(now - v->b.started_ns, off);
	v->pending = xgrow(v->pending, &v->cap_pending, v->n_pending + 1, sizeof(*v->pending));
	v->pending[v->n_pending++] = xasprintf("%s %.*s", off, (int)n, s);
}

static void
log_data(void *vertex, const struct progress_event *ev)
{
	struct pv *v = vertex;
	int s = ev->stream == 2 ? 2 : 1;
	const char *d = ev->data;
	size_t n = ev->len;

	while (n) {
		const char *nl = memchr(d, '\n', n);
		size_t take = nl ? (size_t)(nl - d) : n;
		bool end = nl != NULL;

		if (v->partial_len[s] + take > LINE_MAX_BYTES) {
			take = LINE_MAX_BYTES - v->partial_len[s];
			end = true; /* a line that long prints in pieces */
			nl = NULL;
		}
		if (!v->partial_len[s])
			v->partial_ns[s] = ev->time_ns;
		if (take) {
			v->partial[s] = xrealloc(v->partial[s], v->partial_len[s] + take + 1);
			memcpy(v->partial[s] + v->partial_len[s], d, take);
			v->partial_len[s] += take;
		}
		d += take + (nl ? 1 : 0);
		n -= take + (nl ? 1 : 0);
		if (!end)
			return; /* the start of a line waits for its end */
		add_line(v, v->partial_ns[s], v->partial[s] ? v->partial[s] : "",
		         v->partial_len[s]);
		v->partial_len[s] = 0;
	}
}

static void
flush_partial(struct pv *v)
{
	for (int s = 1; s <= 2; s++) {
		if (v->partial_len[s])
			add_line(v, v->partial_ns[s], v->partial[s], v->partial_len[s]);
		v->partial_len[s] = 0;
	}
}

/* BuildKit's throttle: a running counter prints again after 5% or 5 s. */
static void
print_counter(struct plain *p, struct pv *v, struct cli_counter *c)
{
	char cur[16], tot[16], tm[48] = "";
	double secs;

	c->updated = false;
	if (c->printed && !c->completed) {
		double delta =
		    c->total ? (double)(c->current - c->printed_current) / (double)c->total : 0.0;

		if (delta < MIN_PROGRESS_DELTA && c->ts_ns - c->printed_ts_ns < MIN_TIME_DELTA_NS)
			return;
	}
	c->printed = true;
	c->printed_current = c->current;
	c->printed_ts_ns = c->ts_ns;
	secs = (double)(c->ts_ns - c->started_ns) / 1e9;
	if (secs > 0.01)
		snprintf(tm, sizeof(tm), " %.1fs", secs);
	if (c->completed)
		strcat(tm, " done");
	if (c->total)
		fprintf(p->out, "#%u %s %s / %s%s\n", v->number, c->id,
		        cli_progress_format_bytes(c->current, cur),
		        cli_progress_format_bytes(c->total, tot), tm);
	else if (c->current)
		fprintf(p->out, "#%u %s %s%s\n", v->number, c->id,
		        cli_progress_format_bytes(c->current, cur), tm);
	else
		fprintf(p->out, "#%u %s%s\n", v->number, c->id, tm);
}

static void
print_end(struct plain *p, struct pv *v)
{
	switch (v->b.end) {
	case CLI_VERTEX_DONE:
		fprintf(p->out, "#%u DONE %.1fs\n", v->number, (double)v->b.duration_ns / 1e9);
		break;
	case CLI_VERTEX_CACHED:
		fprintf(p->out, "#%u CACHED\n", v->number);
		break;
	case CLI_VERTEX_ERROR:
		fprintf(p->out, "#%u ERROR: %s\n", v->number, v->error);
		break;
	case CLI_VERTEX_CANCELED:
		fprintf(p->out, "#%u CANCELED\n", v->number);
		break;
	default:
		break;
	}
}

/* BuildKit's printVtx: the output moves to vertex idx and shows what it has. */
static void
print_vertex(struct plain *p, uint32_t idx)
{
	struct pv *v = at(p, idx);

	if (!v->number)
		v->number = ++p->next;
	if (idx != p->current) {
		if (p->current != NONE) {
			struct pv *old = at(p, p->current);

			old->count = 0;
			fprintf(p->out, "#%u ...\n", old->number);
		}
		if (p->not_first)
			fputc('\n', p->out);
		p->not_first = true;
		fprintf(p->out, "#%u %s\n", v->number, v->b.name);
	}
	for (size_t i = 0; i < v->b.n_counters; i++)
		if (v->b.counters[i].updated)
			print_counter(p, v, &v->b.counters[i]);
	for (size_t i = 0; i < v->n_pending; i++) {
		fprintf(p->out, "#%u %s\n", v->number, v->pending[i]);
		free(v->ring[v->ring_next]);
		v->ring[v->ring_next] = v->pending[i];
		v->ring_next = (v->ring_next + 1) % RING_LINES;
	}
	v->n_pending = 0;
	v->updated = false;
	p->current = idx;
	if (v->b.end != CLI_VERTEX_RUNNING) {
		p->current = NONE;
		v->count = 0;
		print_end(p, v);
	}
}

static bool
running(const struct pv *v)
{
	return v->b.seen && v->b.end == CLI_VERTEX_RUNNING;
}

/* The completed vertices with something to print, by completion time. */
static void
print_completed(struct plain *p)
{
	for (;;) {
		uint32_t best = NONE;

		for (size_t i = 0; i < p->t.n_order; i++) {
			struct pv *v = at(p, p->t.order[i]);

			if (v->updated && v->b.end != CLI_VERTEX_RUNNING &&
			    (best == NONE || v->completed_ns < at(p, best)->completed_ns))
				best = p->t.order[i];
		}
		if (best == NONE)
			return;
		print_vertex(p, best);
	}
}

struct pstat {
	double speed;
	int64_t block;
	bool over_limit;
};

static struct pstat
stat_of(const struct plain *p, uint32_t idx, int64_t now)
{
	const struct pv *v = at(p, idx);
	struct pstat s = {0};
	int64_t tm = now - v->block_ns;

	s.block = tm;
	/* a block that just began counts as a millisecond, not as infinitely fast */
	s.speed = (double)v->count / ((double)(tm > 1000000 ? tm : 1000000) / 1e9);
	s.over_limit = tm > MAX_DELAY_NS && idx != p->current;
	return s;
}

/* Whether the current vertex keeps the output (BuildKit's fair split); else ret_next. */
static bool
pick_next(struct plain *p, int64_t now, uint32_t *ret_next)
{
	uint32_t max = NONE;
	double sum = 0, max_speed = 0, cur_speed = 0;
	int64_t cur_block = 0;
	bool cur_known = false;

	for (size_t i = 0; i < p->t.n_order; i++) {
		uint32_t idx = p->t.order[i];
		const struct pv *v = at(p, idx);
		struct pstat s;

		if (!(v->updated && v->b.end == CLI_VERTEX_RUNNING) && idx != p->current)
			continue;
		if (!v->block_ns)
			continue; /* never updated */
		s = stat_of(p, idx, now);
		sum += s.speed;
		if (idx == p->current) {
			cur_known = true;
			cur_speed = s.speed;
			cur_block = s.block;
		}
		if (s.over_limit && idx != p->current) {
			*ret_next = idx; /* waited too long: it shows now */
			return false;
		}
		if (max == NONE || s.speed > max_speed) {
			max = idx;
			max_speed = s.speed;
		}
	}
	*ret_next = max;
	if (max == NONE)
		return true;
	if (p->current == NONE)
		return false;
	if (!cur_known)
		return true;
	/* 1 / (1 - share) * antiFlicker < blockTime: the current one had its share */
	return !(sum > 0 && cur_speed < sum &&
	         (double)ANTI_FLICKER_NS / (1.0 - cur_speed / sum) < (double)cur_block);
}

/* BuildKit's textMux.print after each update. */
static void
mux_print(struct plain *p, int64_t now)
{
	bool rest = false;
	uint32_t next;

	if (p->current != NONE && at(p, p->current)->updated &&
	    at(p, p->current)->b.end != CLI_VERTEX_RUNNING)
		print_vertex(p, p->current);
	print_completed(p);
	for (size_t i = 0; i < p->t.n_order && !rest; i++)
		rest = at(p, p->t.order[i])->updated && running(at(p, p->t.order[i]));
	if (!rest) {
		if (p->current != NONE && running(at(p, p->current)))
			return;
		/* the next running vertex takes the output, to show it is running */
		for (size_t i = 0; i < p->t.n_order; i++) {
			if (running(at(p, p->t.order[i]))) {
				print_vertex(p, p->t.order[i]);
				return;
			}
		}
		return;
	}
	if (p->current != NONE && at(p, p->current)->updated)
		print_vertex(p, p->current);
	if (!pick_next(p, now, &next) && next != NONE && next != p->current)
		print_vertex(p, next);
}

static void
end_vertex(void *vertex, const struct progress_event *ev)
{
	struct pv *v = vertex;

	flush_partial(v);
	v->completed_ns = ev->time_ns;
	if (v->b.end == CLI_VERTEX_ERROR) {
		const char *msg = ev->data ? ev->data : "";

		v->error = xstrndup(msg, cli_progress_first_line(msg, ev->len));
	}
	if (v->b.end == CLI_VERTEX_DONE)
		cli_vertex_complete(&v->b, ev->time_ns);
}

static const struct cli_vertex_hooks plain_hooks = {.log = log_data, .end = end_vertex};

static void
plain_event(void *state, const struct progress_event *ev)
{
	struct plain *p = state;
	struct pv *v = cli_vertex_table_event(&p->t, ev, &plain_hooks);

	if (!v)
		return;
	touch(v, ev->time_ns);
	mux_print(p, ev->time_ns);
	fflush(p->out);
}

/* BuildKit's printErrorLogs: each failed vertex's last lines, after everything. */
static void
print_error_logs(struct plain *p)
{
	for (size_t i = 0; i < p->t.n_order; i++) {
		struct pv *v = at(p, p->t.order[i]);

		if (v->b.end != CLI_VERTEX_ERROR)
			continue;
		fprintf(p->out, "------\n > %s:\n", v->b.name);
		for (size_t k = 0; k < RING_LINES; k++) {
			const char *l = v->ring[(v->ring_next + k) % RING_LINES];

			if (l)
				fprintf(p->out, "%s\n", l);
		}
		fputs("------\n", p->out);
	}
}

static void
plain_finish(void *state)
{
	struct plain *p = state;

	for (size_t i = 0; i < p->t.n_order; i++)
		flush_partial(at(p, p->t.order[i]));
	print_completed(p);
	/* what never ended (a solve that stopped short) shows what it has */
	for (size_t i = 0; i < p->t.n_order; i++) {
		struct pv *v = at(p, p->t.order[i]);

		if (v->n_pending || v->updated)
			print_vertex(p, p->t.order[i]);
	}
	print_error_logs(p);
	cli_vertex_table_print_warnings(&p->t, p->out);
	fflush(p->out);
}

static void
plain_free(void *state)
{
	struct plain *p = state;

	for (size_t i = 0; i < p->t.cap; i++) {
		struct pv *v = at(p, (uint32_t)i);

		free(v->error);
		for (int s = 0; s < 3; s++)
			free(v->partial[s]);
		for (size_t k = 0; k < v->n_pending; k++)
			free(v->pending[k]);
		free(v->pending);
		for (size_t k = 0; k < RING_LINES; k++)
			free(v->ring[k]);
	}
	cli_vertex_table_free(&p->t);
	free(p);
}

const struct cli_progress_ops cli_progress_plain_ops = {
    .event = plain_event,
    .finish = plain_finish,
    .free = plain_free,
};
