/* progress — rendering a solve's progress events (solver/progress.h) for a person or a
 * program, as BuildKit's progressui does: behind one small interface, one file per renderer
 * (progress-tty.c, progress-plain.c, progress-rawjson.c).
 *
 * A renderer is called by one thread at a time (the solver serializes its events; tick and
 * finish come from the thread that waits for the solve), so it holds no lock. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "solver/progress.h"

enum cli_progress_mode {
	CLI_PROGRESS_AUTO,    /* tty on a terminal that can move its cursor, plain otherwise */
	CLI_PROGRESS_TTY,     /* redrawn in place, as BuildKit's tty display */
	CLI_PROGRESS_PLAIN,   /* BuildKit's plain lines */
	CLI_PROGRESS_RAWJSON, /* one BuildKit SolveStatus JSON object per event and line */
	_CLI_PROGRESS_MAX
};

/* A renderer: state behind these calls. */
struct cli_progress_ops {
	void (*event)(void *state, const struct progress_event *ev);
	/* Time passed without an event: redraw what shows time (the tty's header and timers, at
	 * most ~10 times a second however often it is called). NULL: nothing shows time. */
	void (*tick)(void *state);
	/* The solve ended (success, failure or cancel): print the final state and what is
	 * pending (the tty's last frame and the failed vertices' last lines). */
	void (*finish)(void *state);
	void (*free)(void *state);
};

struct cli_progress {
	const struct cli_progress_ops *ops;
	void *state;
};

/* "auto", "tty", "plain" or "rawjson"; -EINVAL otherwise. */
int cli_progress_parse(const char *s, enum cli_progress_mode *ret);
/* A renderer writing to out. auto picks tty when out is a terminal and TERM is not "dumb";
 * tty colours only where auto would pick it and NO_COLOR is unset or empty. */
struct cli_progress *cli_progress_new(enum cli_progress_mode mode, FILE *out);
/* A progress_fn over a struct cli_progress (userdata). */
void cli_progress_event(const struct progress_event *ev, void *userdata);
/* Lets a renderer that shows time redraw between events; cheap, meant to be called about
 * every 100 ms by the loop that waits for the solve. NULL-safe. Nothing calls it yet:
 * solve_run() blocks its caller and its wait loop polls without a timeout, and cli/ starts no
 * thread; until the solver's wait loop ticks, the tty redraws on events and on finish (its
 * timers stand still while a step prints nothing). */
void cli_progress_tick(struct cli_progress *p);
void cli_progress_finish(struct cli_progress *p);
struct cli_progress *cli_progress_free(struct cli_progress *p);

/* Shared by the renderers (progress.c). */

/* A byte count as BuildKit prints one (its units.Bytes with "%.2f"): "999B", "1.23kB",
 * "45.60MB"; decimal units. out holds at least 16 bytes. */
char *cli_progress_format_bytes(uint64_t n, char out[16]);
/* Seconds into a vertex as BuildKit prefixes its log lines: 3 decimals below 10 s, 2 below
 * 100 s, else 1 ("0.123", "12.34", "123.4"); negative clamps to 0. out holds 32 bytes. */
char *cli_progress_format_offset(int64_t ns, char out[32]);
/* The length of s's first line (an error message's summary). */
size_t cli_progress_first_line(const char *s, size_t len);

/* The vertex table the tty and plain renderers share (progress-vertices.c): each vertex as
 * first seen, its end, its byte counters, and the warnings; what a renderer does with a
 * vertex's log lines and end it says through hooks. */

enum cli_vertex_end {
	CLI_VERTEX_RUNNING,
	CLI_VERTEX_DONE,
	CLI_VERTEX_CACHED,
	CLI_VERTEX_ERROR,
	CLI_VERTEX_CANCELED
};

/* A byte counter of a vertex (PROGRESS_VERTEX_BYTES events with one id). */
struct cli_counter {
	char *id;
	uint64_t current, total;
	int64_t started_ns, ts_ns; /* its first report; its last report, or when it completed */
	bool completed;            /* its total reached, or completed by cli_vertex_complete */
	bool updated;              /* changed since a renderer cleared this */
	/* what a renderer printing counters as lines printed last */
	bool printed;
	uint64_t printed_current;
	int64_t printed_ts_ns;
};

/* What every renderer keeps of a vertex: the first member of a renderer's own vertex struct. */
struct cli_vertex {
	bool seen;
	char *name;
	int64_t started_ns;
	uint64_t duration_ns; /* set at its end */
	enum cli_vertex_end end;
	struct cli_counter *counters;
	size_t n_counters;
};

/* What differs between renderers, called on their own vertex structs. */
struct cli_vertex_hooks {
	void (*log)(void *vertex, const struct progress_event *ev);
	/* after end and duration_ns were set */
	void (*end)(void *vertex, const struct progress_event *ev);
};

struct cli_vertex_table {
	void *v;     /* the renderer's vertex structs by vertex index, zeroed until seen */
	size_t size; /* of one, a struct cli_vertex first */
	size_t cap;
	uint32_t *order; /* vertex indexes as first seen */
	size_t n_order, cap_order;
	char **warnings;
	size_t n_warnings;
};

/* A table of renderer vertex structs of size bytes each. */
void cli_vertex_table_init(struct cli_vertex_table *t, size_t size);
/* The vertex struct at index idx (< t->cap). */
void *cli_vertex_at(const struct cli_vertex_table *t, uint32_t idx);
/* Takes one event: a warning is kept; an event of a vertex (seen from its first event on,
 * its start the event's started_ns or time) updates it unless it has ended. Returns the
 * vertex struct it changed, NULL when none. */
void *cli_vertex_table_event(struct cli_vertex_table *t, const struct progress_event *ev,
                             const struct cli_vertex_hooks *hooks);
/* Completes v's running counters at now (the solver reports no end of its own for them). */
void cli_vertex_complete(struct cli_vertex *v, int64_t now);
/* Prints "WARNING: …" for each warning kept. */
void cli_vertex_table_print_warnings(const struct cli_vertex_table *t, FILE *out);
/* Frees the table and what struct cli_vertex holds; a renderer frees its own fields first. */
void cli_vertex_table_free(struct cli_vertex_table *t);

/* The plain renderer (progress-plain.c): BuildKit's "#N …" lines; a vertex's lines stay
 * together while it runs, others' wait (up to 10 s, as BuildKit's anti-flicker does). */
extern const struct cli_progress_ops cli_progress_plain_ops;
void *cli_progress_plain_new(FILE *out);

/* The tty renderer (progress-tty.c). */
struct cli_progress_tty_options {
	int width, height; /* the terminal's size; 0: asked of out's terminal at each redraw
	                    * (80x10 when it answers nothing, as BuildKit) */
	bool color;        /* blue done, red error, yellow cancelled, dim log lines */
	/* CLOCK_REALTIME in ns, the same clock as the events' times; NULL: the system's */
	int64_t (*now)(void *userdata);
	void *now_userdata;
};
extern const struct cli_progress_ops cli_progress_tty_ops;
/* opts is copied; NULL: all defaults. */
void *cli_progress_tty_new(FILE *out, const struct cli_progress_tty_options *opts);

/* The rawjson renderer (progress-rawjson.c): buildctl --progress=rawjson's lines. */
extern const struct cli_progress_ops cli_progress_rawjson_ops;
void *cli_progress_rawjson_new(FILE *out);
