/* progress — rendering a solve's progress events (solver/progress.h) for a person or a
 * program: behind one small interface, one file per renderer (progress-plain.c; tty and rawjson
 * come later and plug in here). */
#pragma once
#include <stdio.h>

#include "solver/progress.h"

struct kl_error;

enum cli_progress_mode {
	CLI_PROGRESS_AUTO,    /* tty on a terminal, plain otherwise */
	CLI_PROGRESS_TTY,     /* redrawn in place (falls back to plain until it exists) */
	CLI_PROGRESS_PLAIN,   /* BuildKit's plain lines */
	CLI_PROGRESS_RAWJSON, /* one JSON object per event (falls back to plain until it exists) */
	_CLI_PROGRESS_MAX
};

/* A renderer: state behind three calls. */
struct cli_progress_ops {
	void (*event)(void *state, const struct progress_event *ev);
	void (*finish)(void *state); /* the solve ended: flush what is pending */
	void (*free)(void *state);
};

struct cli_progress {
	const struct cli_progress_ops *ops;
	void *state;
};

/* "auto", "tty", "plain" or "rawjson"; -EINVAL otherwise. */
int cli_progress_parse(const char *s, enum cli_progress_mode *ret);
/* A renderer writing to out (a terminal decides auto). */
struct cli_progress *cli_progress_new(enum cli_progress_mode mode, FILE *out);
/* A progress_fn over a struct cli_progress (userdata). */
void cli_progress_event(const struct progress_event *ev, void *userdata);
void cli_progress_finish(struct cli_progress *p);
struct cli_progress *cli_progress_free(struct cli_progress *p);

/* The plain renderer (progress-plain.c). */
extern const struct cli_progress_ops cli_progress_plain_ops;
void *cli_progress_plain_new(FILE *out);
