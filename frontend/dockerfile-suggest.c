// SPDX-License-Identifier: Apache-2.0
/* Levenshtein-distance suggestions for misspelt instructions, flags and mount options. */
#include "frontend/dockerfile-suggest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-internal.h"
#include "util/xalloc.h"

#define MAX_DIST 3u /* same as HCL, as BuildKit says */

static size_t
to_runes(const char *s, bool fold, uint32_t **ret)
{
	size_t n = strlen(s), k = 0;
	uint32_t *r = xcalloc(n + 1, sizeof(*r));

	for (size_t i = 0; i < n;) {
		i += dockerfile_utf8_decode(s + i, n - i, &r[k]);
		if (fold && r[k] >= 'A' && r[k] <= 'Z')
			r[k] += 32;
		k++;
	}
	*ret = r;
	return k;
}

static size_t
distance(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	size_t *row = xcalloc(nb + 1, sizeof(*row)), d;

	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	d = row[nb];
	free(row);
	return d;
}

static bool
all_case(const char *s, bool upper)
{
	for (; *s; s++)
		if (upper ? (*s >= 'a' && *s <= 'z') : (*s >= 'A' && *s <= 'Z'))
			return false;
	return true;
}

char *
dockerfile_suggest(const char *val, const char *const *options, size_t n_options,
                   bool case_sensitive)
{
	uint32_t *v;
	size_t nv = to_runes(val, !case_sensitive, &v), best = MAX_DIST;
	const char *match = NULL;
	char *out;

	for (size_t i = 0; i < n_options; i++) {
		uint32_t *o;
		size_t no = to_runes(options[i], !case_sensitive, &o), d;

		if (no == nv && memcmp(o, v, nv * sizeof(*v)) == 0) {
			free(o);
			free(v);
			return NULL; /* an exact match: the error is about something else */
		}
		if ((no > nv ? no - nv : nv - no) < best) {
			d = distance(v, nv, o, no);
			if (d < best)
				best = d, match = options[i];
		}
		free(o);
	}
	free(v);
	if (!match)
		return NULL;
	out = xstrdup(match);
	if (!case_sensitive) {
		bool lower = all_case(val, false), upper = all_case(val, true);

		for (char *p = out; *p; p++) {
			if (lower && *p >= 'A' && *p <= 'Z')
				*p += 32;
			else if (!lower && upper && *p >= 'a' && *p <= 'z')
				*p -= 32;
			else if (!lower && !upper && *p >= 'A' && *p <= 'Z')
				*p +=
				    32; /* BuildKit compares lowercased options and keeps them so */
		}
	}
	return out;
}
