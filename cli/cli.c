// SPDX-License-Identifier: Apache-2.0
/* What subcommands share: the store opened on first use, usage errors, --help. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/store.h"
#include "util/cleanup.h"
#include "util/error.h"

int
cli_store(struct cli *c, struct store **ret, struct kl_error **err)
{
	int r;

	if (!c->store) {
		r = store_open(c->root, /* opts= */ NULL, &c->store, err);
		if (r < 0) {
			kl_error_prefix(err, "opening the store");
			return r;
		}
	}
	*ret = c->store;
	return 0;
}

int
cli_usage_error(struct cli *c, struct kl_error **err, const char *cmd, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	c->usage_cmd = cmd;
	if (!*cmd)
		return kl_error_setf(err, EINVAL, "%s", what);
	return kl_error_setf(err, EINVAL, "%s: %s", cmd, what);
}

int
cli_option_error(struct cli *c, struct kl_error **err, const char *cmd, int opt, char **argv)
{
	const char *arg = argv[optind - 1];
	bool long_opt = strncmp(arg, "--", 2) == 0;

	if (opt == ':' && long_opt)
		return cli_usage_error(c, err, cmd, "option '%s' needs an argument", arg);
	if (opt == ':')
		return cli_usage_error(c, err, cmd, "option '-%c' needs an argument", optopt);
	/* getopt_long leaves optopt 0 for an unknown long option, and sets it to the option's
	 * value for a known one given an argument it does not take */
	if (long_opt && strchr(arg, '=') && optopt)
		return cli_usage_error(c, err, cmd, "option '%.*s' takes no argument",
		                       (int)strcspn(arg, "="), arg);
	if (long_opt && !optopt)
		return cli_usage_error(c, err, cmd, "unknown option '%s'", arg);
	return cli_usage_error(c, err, cmd, "unknown option '-%c'", optopt);
}

bool
cli_wants_help(int argc, char **argv, const char *text)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(text, stdout);
			return true;
		}
	}
	return false;
}
