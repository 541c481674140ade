// SPDX-License-Identifier: Apache-2.0
/* The vertex table of the tty and plain renderers: the solver's events filed by vertex. */
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "util/xalloc.h"

void
cli_vertex_table_init(struct cli_vertex_table *t, size_t size)
{
	*t = (struct cli_vertex_table){.size = size};
}

void *
cli_vertex_at(const struct cli_vertex_table *t, uint32_t idx)
{
	return (char *)t->v + (size_t)idx * t->size;
}

static struct cli_vertex *
vertex(struct cli_vertex_table *t, const struct progress_event *ev)
{
	struct cli_vertex *v;

	if (ev->vertex >= t->cap) {
		size_t old = t->cap;

		t->v = xgrow(t->v, &t->cap, (size_t)ev->vertex + 1, t->size);
		memset((char *)t->v + old * t->size, 0, (t->cap - old) * t->size);
	}
	v = cli_vertex_at(t, ev->vertex);
	if (!v->seen) {
		v->seen = true;
		v->name = xstrdup(ev->name ? ev->name : "?");
		v->started_ns = ev->started_ns ? ev->started_ns : ev->time_ns;
		t->order = xgrow(t->order, &t->cap_order, t->n_order + 1, sizeof(*t->order));
		t->order[t->n_order++] = ev->vertex;
	}
	return v;
}

static void
count_bytes(struct cli_vertex *v, const struct progress_event *ev)
{
	const char *id = ev->id ? ev->id : "";
	struct cli_counter *c = NULL;

	for (size_t i = 0; i < v->n_counters && !c; i++)
		if (!strcmp(v->counters[i].id, id))
			c = &v->counters[i];
	if (!c) {
		v->counters = xrealloc(v->counters, (v->n_counters + 1) * sizeof(*v->counters));
		c = &v->counters[v->n_counters++];
		*c = (struct cli_counter){.id = xstrdup(id), .started_ns = ev->time_ns};
	}
	c->current = ev->current;
	c->total = ev->total;
	c->ts_ns = ev->time_ns;
	c->completed = ev->total && ev->current >= ev->total;
	c->updated = true;
}

void
cli_vertex_complete(struct cli_vertex *v, int64_t now)
{
	for (size_t i = 0; i < v->n_counters; i++) {
		struct cli_counter *c = &v->counters[i];

		if (!c->completed) {
			c->completed = true;
			c->ts_ns = now;
			c->updated = true;
		}
	}
}

static enum cli_vertex_end
end_of(enum progress_event_kind kind)
{
	switch (kind) {
	case PROGRESS_VERTEX_CACHED:
		return CLI_VERTEX_CACHED;
	case PROGRESS_VERTEX_DONE:
		return CLI_VERTEX_DONE;
	case PROGRESS_VERTEX_FAILED:
		return CLI_VERTEX_ERROR;
	case PROGRESS_VERTEX_CANCELED:
		return CLI_VERTEX_CANCELED;
	default:
		return CLI_VERTEX_RUNNING;
	}
}

void *
cli_vertex_table_event(struct cli_vertex_table *t, const struct progress_event *ev,
                       const struct cli_vertex_hooks *hooks)
{
	struct cli_vertex *v;

	if (ev->kind == PROGRESS_WARNING) {
		t->warnings = xrealloc(t->warnings, (t->n_warnings + 1) * sizeof(*t->warnings));
		t->warnings[t->n_warnings++] = xstrndup(ev->data ? ev->data : "", ev->len);
		return NULL;
	}
	if (ev->vertex == UINT32_MAX)
		return NULL;
	v = vertex(t, ev);
	if (v->end != CLI_VERTEX_RUNNING)
		return NULL; /* nothing follows an end */
	switch (ev->kind) {
	case PROGRESS_VERTEX_STARTED:
		v->started_ns = ev->time_ns;
		return v;
	case PROGRESS_VERTEX_CACHED:
	case PROGRESS_VERTEX_DONE:
	case PROGRESS_VERTEX_FAILED:
	case PROGRESS_VERTEX_CANCELED:
		v->end = end_of(ev->kind);
		v->duration_ns = ev->duration_ns;
		hooks->end(v, ev);
		return v;
	case PROGRESS_VERTEX_LOG:
		hooks->log(v, ev);
		return v;
	case PROGRESS_VERTEX_BYTES:
		count_bytes(v, ev);
		return v;
	default:
		return NULL;
	}
}

void
cli_vertex_table_print_warnings(const struct cli_vertex_table *t, FILE *out)
{
	for (size_t i = 0; i < t->n_warnings; i++)
		fprintf(out, "WARNING: %s\n", t->warnings[i]);
}

void
cli_vertex_table_free(struct cli_vertex_table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct cli_vertex *v = cli_vertex_at(t, (uint32_t)i);

		free(v->name);
		for (size_t k = 0; k < v->n_counters; k++)
			free(v->counters[k].id);
		free(v->counters);
	}
	for (size_t i = 0; i < t->n_warnings; i++)
		free(t->warnings[i]);
	free(t->warnings);
	free(t->order);
	free(t->v);
}
