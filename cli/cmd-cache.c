// SPDX-License-Identifier: Apache-2.0
/* kiln cache ls|snapshot: the dirs of RUN --mount=type=cache, and trees made of them. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "solver/exec-cache.h"
#include "util/error.h"
#include "util/log.h"

static const char usage[] =
    "usage: kiln cache ls\n"
    "       kiln cache snapshot ID\n"
    "\n"
    "ls         list the cache mounts kept in the store: id, instances, bytes\n"
    "snapshot   import the cache ID into a tree (its files copied into the store) and print\n"
    "           the tree's id, which 'kiln mount' shows\n";

static int
cache_ls(struct cli *c)
{
	struct exec_cache_info *v = NULL;
	struct kl_error *err = NULL;
	size_t n = 0;

	if (!cli_store(c))
		return 1;
	if (exec_cache_list(c->store, &v, &n, &err) < 0)
		return kl_log_error(&err, "cache ls");
	for (size_t i = 0; i < n; i++)
		printf("%s\t%u\t%" PRIu64 "\n", v[i].id, v[i].instances, v[i].bytes);
	exec_cache_list_free(v, n);
	return 0;
}

static int
cache_snapshot(struct cli *c, const char *id)
{
	char text[DIGEST_STRING_SIZE];
	struct kl_error *err = NULL;
	struct digest d;

	if (!cli_store(c))
		return 1;
	if (exec_cache_snapshot(c->store, id, &d, &err) < 0)
		return kl_log_error(&err, "cache snapshot");
	printf("%s\n", digest_to_string(&d, text));
	return 0;
}

int
cmd_cache(struct cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc == 2 && !strcmp(argv[1], "ls"))
		return cache_ls(c);
	if (argc == 3 && !strcmp(argv[1], "snapshot"))
		return cache_snapshot(c, argv[2]);
	return cli_usage_error("cache", "expected 'ls' or 'snapshot ID'");
}
