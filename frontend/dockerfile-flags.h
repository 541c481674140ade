/* dockerfile-flags — an instruction's --flags checked against the flags it takes, as
 * BuildKit's BFlags does: "--name" for a bool (or --name=true|false), "--name=value" for a
 * string, repeatable "--name=value" for a list; errors worded as BuildKit words them. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum dockerfile_flag_type {
	DOCKERFILE_FLAG_BOOL,
	DOCKERFILE_FLAG_STRING,
	DOCKERFILE_FLAG_STRINGS,
	_DOCKERFILE_FLAG_TYPE_MAX
};

struct dockerfile_flag_spec {
	const char *name; /* without the "--" */
	enum dockerfile_flag_type type;
};

struct dockerfile_flag_value {
	bool used;
	bool on;       /* DOCKERFILE_FLAG_BOOL: the value, false when not used */
	char *value;   /* DOCKERFILE_FLAG_STRING: the value, NULL when not used */
	char **values; /* DOCKERFILE_FLAG_STRINGS: each value, in order */
	size_t n_values;
};

/* Parses flags (as the parser found them: "--name" or "--name=value") against the n_specs
 * specs; ret[i] (n_specs of them, zeroed by the caller) receives spec i's value. Returns 0 or
 * -EINVAL with *ret_msg (malloc'd): "unknown flag: --x (did you mean y?)", "duplicate flag
 * specified: --x", "missing a value on flag: --x", "expecting boolean value for flag --x, not:
 * v", "arg should start with -- : x". */
int dockerfile_flags_parse(char *const *flags, size_t n_flags,
                           const struct dockerfile_flag_spec *specs, size_t n_specs,
                           struct dockerfile_flag_value *ret, char **ret_msg);

/* Frees what ret[0..n) hold. */
void dockerfile_flag_values_done(struct dockerfile_flag_value *v, size_t n);
