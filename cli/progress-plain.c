// SPDX-License-Identifier: Apache-2.0
/* BuildKit's plain progress: "#N name" when a vertex first shows, then "#N CACHED", or its
 * output lines ("#N 0.123 line") and "#N DONE 0.3s", or "#N ERROR: …". */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "util/xalloc.h"

struct pv {
	unsigned number;  /* 0: not shown yet */
	char *partial[3]; /* a line of stream 1 or 2 without its newline yet */
	size_t partial_len[3];
	int64_t started_ns;
};

struct plain {
	FILE *out;
	struct pv *v; /* by vertex index */
	size_t cap;
	unsigned next;
	uint32_t last; /* the vertex the last line was about */
};

void *
cli_progress_plain_new(FILE *out)
{
	struct plain *p = xcalloc(1, sizeof(*p));

	p->out = out;
	p->last = UINT32_MAX;
	return p;
}

static struct pv *
vertex(struct plain *p, const struct progress_event *ev)
{
	struct pv *v;

	if (ev->vertex >= p->cap) {
		size_t old = p->cap;

		p->v = xgrow(p->v, &p->cap, (size_t)ev->vertex + 1, sizeof(*p->v));
		memset(p->v + old, 0, (p->cap - old) * sizeof(*p->v));
	}
	v = &p->v[ev->vertex];
	if (!v->number) {
		v->number = ++p->next;
		v->started_ns = ev->time_ns;
		fprintf(p->out, "#%u %s\n", v->number, ev->name ? ev->name : "?");
	} else if (p->last != ev->vertex && p->last != UINT32_MAX) {
		/* output of another vertex came between: say again whose lines follow */
		fprintf(p->out, "\n#%u %s\n", v->number, ev->name ? ev->name : "?");
	}
	p->last = ev->vertex;
	return v;
}

static void
print_line(struct plain *p, struct pv *v, int64_t now, const char *s, size_t n)
{
	double t = (double)(now - v->started_ns) / 1e9;

	fprintf(p->out, "#%u %.3f %.*s\n", v->number, t > 0 ? t : 0.0, (int)n, s);
}

static void
log_data(struct plain *p, struct pv *v, const struct progress_event *ev)
{
	int s = ev->stream == 2 ? 2 : 1;
	const char *d = ev->data;
	size_t n = ev->len;

	while (n) {
		const char *nl = memchr(d, '\n', n);
		size_t take = nl ? (size_t)(nl - d) : n;

		if (!nl) { /* keep the start of a line until it ends */
			v->partial[s] = xrealloc(v->partial[s], v->partial_len[s] + take + 1);
			memcpy(v->partial[s] + v->partial_len[s], d, take);
			v->partial_len[s] += take;
			return;
		}
		if (v->partial_len[s]) {
			v->partial[s] = xrealloc(v->partial[s], v->partial_len[s] + take + 1);
			memcpy(v->partial[s] + v->partial_len[s], d, take);
			print_line(p, v, ev->time_ns, v->partial[s], v->partial_len[s] + take);
			v->partial_len[s] = 0;
		} else {
			print_line(p, v, ev->time_ns, d, take);
		}
		d += take + 1;
		n -= take + 1;
	}
}

static void
flush_partial(struct plain *p, struct pv *v, int64_t now)
{
	for (int s = 1; s <= 2; s++) {
		if (v->partial_len[s])
			print_line(p, v, now, v->partial[s], v->partial_len[s]);
		v->partial_len[s] = 0;
	}
}

static void
end_vertex(struct plain *p)
{
	fputc('\n', p->out);
	p->last = UINT32_MAX;
}

static void
plain_event(void *state, const struct progress_event *ev)
{
	struct plain *p = state;
	struct pv *v;

	if (ev->kind == PROGRESS_WARNING || ev->vertex == UINT32_MAX) {
		fprintf(p->out, "WARNING: %.*s\n", (int)ev->len, ev->data ? ev->data : "");
		fflush(p->out);
		return;
	}
	v = vertex(p, ev);
	switch (ev->kind) {
	case PROGRESS_VERTEX_STARTED:
		v->started_ns = ev->time_ns;
		break;
	case PROGRESS_VERTEX_CACHED:
		fprintf(p->out, "#%u CACHED\n", v->number);
		end_vertex(p);
		break;
	case PROGRESS_VERTEX_DONE:
		flush_partial(p, v, ev->time_ns);
		fprintf(p->out, "#%u DONE %.1fs\n", v->number, (double)ev->duration_ns / 1e9);
		end_vertex(p);
		break;
	case PROGRESS_VERTEX_FAILED:
		flush_partial(p, v, ev->time_ns);
		fprintf(p->out, "#%u ERROR: %.*s\n", v->number, (int)ev->len,
		        ev->data ? ev->data : "");
		end_vertex(p);
		break;
	case PROGRESS_VERTEX_CANCELED:
		flush_partial(p, v, ev->time_ns);
		fprintf(p->out, "#%u CANCELED\n", v->number);
		end_vertex(p);
		break;
	case PROGRESS_VERTEX_LOG:
		log_data(p, v, ev);
		break;
	case PROGRESS_VERTEX_BYTES:
		if (ev->total && ev->current == ev->total)
			fprintf(p->out, "#%u %s %" PRIu64 " bytes done\n", v->number,
			        ev->id ? ev->id : "", ev->total);
		break;
	default:
		break;
	}
	fflush(p->out);
}

static void
plain_finish(void *state)
{
	fflush(((struct plain *)state)->out);
}

static void
plain_free(void *state)
{
	struct plain *p = state;

	for (size_t i = 0; i < p->cap; i++)
		for (int s = 0; s < 3; s++)
			free(p->v[i].partial[s]);
	free(p->v);
	free(p);
}

const struct cli_progress_ops cli_progress_plain_ops = {
    .event = plain_event,
    .finish = plain_finish,
    .free = plain_free,
};
