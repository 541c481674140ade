/* progress — what a solve reports while it runs, as data: vertices started, cached, done or
 * failed with their durations, their output, and byte counters of fetches. solver/ emits
 * events to a progress_fn; cli/ renders them (tty, plain, rawjson).
 *
 * The solver serializes its calls: fn is never called from two threads at once, so a sink
 * needs no lock of its own. Event fields point into the solver's memory and are valid only
 * during the call. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

enum progress_event_kind {
	PROGRESS_VERTEX_STARTED, /* the vertex began to run (a cache miss) */
	PROGRESS_VERTEX_CACHED,  /* the vertex's result came from the cache: nothing ran */
	PROGRESS_VERTEX_DONE,    /* the vertex ran and succeeded; duration_ns set */
	PROGRESS_VERTEX_FAILED,  /* the vertex failed; data/len: the error message */
	PROGRESS_VERTEX_LOG,     /* output of the vertex: data/len bytes of stream (1 out, 2 err) */
	PROGRESS_VERTEX_BYTES,   /* a counter of the vertex: id, current of total bytes (0: unknown)
	                          */
	PROGRESS_WARNING, /* data/len: a warning not tied to one vertex (vertex: UINT32_MAX) */
	PROGRESS_VERTEX_CANCELED, /* the vertex was running when the solve was cancelled */
	_PROGRESS_EVENT_MAX
};

struct progress_event {
	enum progress_event_kind kind;
	uint32_t vertex;             /* index in the graph; UINT32_MAX for none */
	const char *name;            /* the vertex's display name (graph_vertex_display_name) */
	const struct digest *digest; /* the vertex's digest; NULL for none */
	int64_t time_ns;             /* when it happened, CLOCK_REALTIME */
	int64_t started_ns;          /* DONE, FAILED: when the vertex started (CLOCK_REALTIME) */
	uint64_t duration_ns;        /* DONE, FAILED, CACHED, CANCELED: how long it took */
	int stream;                  /* LOG: 1 stdout, 2 stderr */
	const char *data;            /* LOG: bytes (not NUL-terminated); FAILED, WARNING: text */
	size_t len;
	const char *id; /* BYTES: what is counted ("sha256:…", a URL); NUL-terminated */
	uint64_t current, total;
};

typedef void (*progress_fn)(const struct progress_event *ev, void *userdata);
