/* progress-feed — synthetic solver events for the progress renderers' unit tests, and a
 * memory FILE to render them into. Vertex v is named names[v] and has the digest of 32 bytes
 * 0xa0 + v. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/progress.h"
#include "util/xalloc.h"

#define FEED_T0 (1700000000LL * 1000000000LL) /* 2023-11-14T22:13:20Z */
#define FEED_MS(x) ((int64_t)(x)*1000000LL)

struct feed {
	const struct cli_progress_ops *ops;
	void *state;
	const char *const *names;
	struct digest digests[16];
	FILE *out;
	char *buf;
	size_t len;
};

static inline void
feed_open(struct feed *f, const struct cli_progress_ops *ops, const char *const *names)
{
	memset(f, 0, sizeof(*f));
	f->ops = ops;
	f->names = names;
	for (int i = 0; i < 16; i++)
		memset(f->digests[i].bytes, 0xa0 + i, DIGEST_SIZE);
	f->out = open_memstream(&f->buf, &f->len);
	if (!f->out)
		abort();
}

/* Finishes the renderer, frees it and returns what it wrote (the caller frees it). */
static inline char *
feed_close(struct feed *f)
{
	f->ops->finish(f->state);
	f->ops->free(f->state);
	fclose(f->out);
	return f->buf;
}

static inline struct progress_event
feed_event(struct feed *f, enum progress_event_kind kind, uint32_t v, int64_t t)
{
	struct progress_event ev = {
	    .kind = kind,
	    .vertex = v,
	    .name = v < 16 ? f->names[v] : NULL,
	    .digest = v < 16 ? &f->digests[v] : NULL,
	    .time_ns = FEED_T0 + t,
	};

	return ev;
}

static inline void
feed_simple(struct feed *f, enum progress_event_kind kind, uint32_t v, int64_t t)
{
	struct progress_event ev = feed_event(f, kind, v, t);

	f->ops->event(f->state, &ev);
}

/* DONE, FAILED, CANCELED, CACHED at t after a start at started (both from FEED_T0). */
static inline void
feed_end(struct feed *f, enum progress_event_kind kind, uint32_t v, int64_t started, int64_t t,
         const char *msg)
{
	struct progress_event ev = feed_event(f, kind, v, t);

	ev.started_ns = FEED_T0 + started;
	ev.duration_ns = (uint64_t)(t - started);
	ev.data = msg;
	ev.len = msg ? strlen(msg) : 0;
	f->ops->event(f->state, &ev);
}

static inline void
feed_log(struct feed *f, uint32_t v, int64_t t, int stream, const char *data)
{
	struct progress_event ev = feed_event(f, PROGRESS_VERTEX_LOG, v, t);

	ev.stream = stream;
	ev.data = data;
	ev.len = strlen(data);
	f->ops->event(f->state, &ev);
}

static inline void
feed_bytes(struct feed *f, uint32_t v, int64_t t, const char *id, uint64_t current, uint64_t total)
{
	struct progress_event ev = feed_event(f, PROGRESS_VERTEX_BYTES, v, t);

	ev.id = id;
	ev.current = current;
	ev.total = total;
	f->ops->event(f->state, &ev);
}
