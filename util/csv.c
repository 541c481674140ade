// SPDX-License-Identifier: Apache-2.0
/* Comma-separated fields with double quotes, for option strings such as --output's. */
#include "util/csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

int
kl_csv_next(const char **p, char **ret)
{
	const char *s = *p;
	char *out = xmalloc(strlen(s) + 1);
	size_t len = 0;
	bool quoted = false;

	for (; *s; s++) {
		if (quoted && *s == '"' && s[1] == '"') {
			out[len++] = '"';
			s++;
		} else if (*s == '"') {
			quoted = !quoted;
		} else if (!quoted && *s == ',') {
			break;
		} else {
			out[len++] = *s;
		}
	}
	if (quoted) {
		free(out);
		return -EINVAL;
	}
	out[len] = '\0';
	*p = *s == ',' ? s + 1 : s;
	*ret = out;
	return 0;
}
