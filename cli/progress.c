// SPDX-License-Identifier: Apache-2.0
/* Choosing a progress renderer, handing it the solver's events, and what renderers share. */
#include "cli/progress.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xalloc.h"

int
cli_progress_parse(const char *s, enum cli_progress_mode *ret)
{
	static const char *const names[] = {"auto", "tty", "plain", "rawjson"};

	for (int i = 0; i < _CLI_PROGRESS_MAX; i++) {
		if (!strcmp(s, names[i])) {
			*ret = (enum cli_progress_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* A terminal that moves its cursor: what BuildKit's console display needs. */
static bool
is_terminal(FILE *out)
{
	const char *term = getenv("TERM");

	return isatty(fileno(out)) && !(term && !strcmp(term, "dumb"));
}

struct cli_progress *
cli_progress_new(enum cli_progress_mode mode, FILE *out)
{
	struct cli_progress *p = xcalloc(1, sizeof(*p));
	const char *no_color = getenv("NO_COLOR");
	bool terminal = is_terminal(out);

	if (mode == CLI_PROGRESS_AUTO)
		mode = terminal ? CLI_PROGRESS_TTY : CLI_PROGRESS_PLAIN;
	switch (mode) {
	case CLI_PROGRESS_TTY: {
		const struct cli_progress_tty_options o = {
		    .color = terminal && !(no_color && *no_color),
		};

		p->ops = &cli_progress_tty_ops;
		p->state = cli_progress_tty_new(out, &o);
		break;
	}
	case CLI_PROGRESS_RAWJSON:
		p->ops = &cli_progress_rawjson_ops;
		p->state = cli_progress_rawjson_new(out);
		break;
	default:
		p->ops = &cli_progress_plain_ops;
		p->state = cli_progress_plain_new(out);
		break;
	}
	return p;
}

void
cli_progress_event(const struct progress_event *ev, void *userdata)
{
	struct cli_progress *p = userdata;

	if (ev->kind == PROGRESS_TICK)
		cli_progress_tick(p);
	else
		p->ops->event(p->state, ev);
}

void
cli_progress_tick(struct cli_progress *p)
{
	if (p && p->ops->tick)
		p->ops->tick(p->state);
}

void
cli_progress_finish(struct cli_progress *p)
{
	if (p && p->ops->finish)
		p->ops->finish(p->state);
}

struct cli_progress *
cli_progress_free(struct cli_progress *p)
{
	if (!p)
		return NULL;
	p->ops->free(p->state);
	free(p);
	return NULL;
}

char *
cli_progress_format_bytes(uint64_t n, char out[16])
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
	uint64_t base = 1;
	int i = 0;

	if (n < 1000) {
		snprintf(out, 16, "%" PRIu64 "B", n);
		return out;
	}
	while (i < 6 && n / base >= 1000) {
		base *= 1000;
		i++;
	}
	snprintf(out, 16, "%.2f%s", (double)n / (double)base, units[i]);
	return out;
}

char *
cli_progress_format_offset(int64_t ns, char out[32])
{
	double s = ns > 0 ? (double)ns / 1e9 : 0.0;

	snprintf(out, 32, "%.*f", s < 10 ? 3 : s < 100 ? 2 : 1, s);
	return out;
}

size_t
cli_progress_first_line(const char *s, size_t len)
{
	const char *nl = s ? memchr(s, '\n', len) : NULL;

	return nl ? (size_t)(nl - s) : (s ? len : 0);
}
