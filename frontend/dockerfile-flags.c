// SPDX-License-Identifier: Apache-2.0
/* Checking an instruction's --flags against the ones it takes (BuildKit's BFlags). */
#include "frontend/dockerfile-flags.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frontend/dockerfile-suggest.h"
#include "util/xalloc.h"

static int
unknown(const char *flag_name, const char *arg, const struct dockerfile_flag_spec *specs,
        size_t n_specs, char **ret_msg)
{
	const char **names = xcalloc(n_specs + 1, sizeof(*names));
	char *s;

	for (size_t i = 0; i < n_specs; i++)
		names[i] = specs[i].name;
	s = dockerfile_suggest(arg, names, n_specs, true);
	free(names);
	if (s)
		*ret_msg = xasprintf("unknown flag: %s (did you mean %s?)", flag_name, s);
	else
		*ret_msg = xasprintf("unknown flag: %s", flag_name);
	free(s);
	return -EINVAL;
}

int
dockerfile_flags_parse(char *const *flags, size_t n_flags, const struct dockerfile_flag_spec *specs,
                       size_t n_specs, struct dockerfile_flag_value *ret, char **ret_msg)
{
	for (size_t i = 0; i < n_flags; i++) {
		const char *a = flags[i], *eq;
		struct dockerfile_flag_value *v = NULL;
		const struct dockerfile_flag_spec *spec = NULL;
		char *flag_name, *arg;
		int r = 0;

		if (strcmp(a, "--") == 0)
			return 0; /* the end of the flags */
		if (strncmp(a, "--", 2) != 0) {
			*ret_msg = xasprintf("arg should start with -- : %s", a);
			return -EINVAL;
		}
		eq = strchr(a, '=');
		flag_name = xstrndup(a, eq ? (size_t)(eq - a) : strlen(a));
		arg = flag_name + 2;
		for (size_t k = 0; k < n_specs; k++)
			if (strcmp(specs[k].name, arg) == 0)
				spec = &specs[k], v = &ret[k];
		if (!spec) {
			r = unknown(flag_name, arg, specs, n_specs, ret_msg);
		} else if (v->used && spec->type != DOCKERFILE_FLAG_STRINGS) {
			*ret_msg = xasprintf("duplicate flag specified: %s", flag_name);
			r = -EINVAL;
		} else if (spec->type == DOCKERFILE_FLAG_BOOL) {
			if (eq && eq[1] == '\0') {
				*ret_msg = xasprintf("missing a value on flag: %s", flag_name);
				r = -EINVAL;
			} else if (!eq || strcasecmp(eq + 1, "true") == 0) {
				v->on = true;
			} else if (strcasecmp(eq + 1, "false") == 0) {
				v->on = false;
			} else {
				*ret_msg = xasprintf("expecting boolean value for flag %s, not: %s",
				                     flag_name, eq + 1);
				r = -EINVAL;
			}
		} else if (!eq) {
			*ret_msg = xasprintf("missing a value on flag: %s", flag_name);
			r = -EINVAL;
		} else if (spec->type == DOCKERFILE_FLAG_STRING) {
			v->value = xstrdup(eq + 1);
		} else {
			v->values = xrealloc(v->values, (v->n_values + 1) * sizeof(*v->values));
			v->values[v->n_values++] = xstrdup(eq + 1);
		}
		if (v)
			v->used = true;
		free(flag_name);
		if (r < 0)
			return r;
	}
	return 0;
}

void
dockerfile_flag_values_done(struct dockerfile_flag_value *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].value);
		for (size_t k = 0; k < v[i].n_values; k++)
			free(v[i].values[k]);
		free(v[i].values);
		memset(&v[i], 0, sizeof(v[i]));
	}
}
