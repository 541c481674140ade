// SPDX-License-Identifier: Apache-2.0
/* Choosing a progress renderer and handing it the solver's events. */
#include "cli/progress.h"

#include <errno.h>
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

struct cli_progress *
cli_progress_new(enum cli_progress_mode mode, FILE *out)
{
	struct cli_progress *p = xcalloc(1, sizeof(*p));

	/* tty and rawjson are not written yet: every mode renders plain lines for now */
	(void)mode;
	p->ops = &cli_progress_plain_ops;
	p->state = cli_progress_plain_new(out);
	return p;
}

void
cli_progress_event(const struct progress_event *ev, void *userdata)
{
	struct cli_progress *p = userdata;

	p->ops->event(p->state, ev);
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
