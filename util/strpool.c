// SPDX-License-Identifier: Apache-2.0
/* A list of owned strings that borrowed pointers point into, freed at once. */
#include "util/strpool.h"

#include <stdlib.h>

#include "util/xalloc.h"

char *
kl_strpool_own(struct kl_strpool *p, char *s)
{
	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n++] = s;
	return s;
}

void
kl_strpool_done(struct kl_strpool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	*p = (struct kl_strpool){0};
}
