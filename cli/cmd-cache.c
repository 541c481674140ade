// SPDX-License-Identifier: Apache-2.0
/* kiln cache ls|snapshot: the dirs of RUN --mount=type=cache, and trees made of them. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "solver/exec-cache.h"
#include "util/error.h"

static const char usage[] =
    "usage: kiln cache ls\n"
    "       kiln cache snapshot ID\n"
    "\n"
    "ls         list the cache mounts kept in the store: id, instances, bytes\n"
    "snapshot   import the cache ID into a tree (its files copied into the store) and print\n"
    "           the tree's id, which 'kiln mount' shows\n";

static int
cache_ls(struct cli *c, struct kl_error **err)
{
	struct exec_cache_info *v = NULL;
	struct store *s;
	size_t n = 0;
	int r;

	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = exec_cache_list(s, &v, &n, err);
	if (r < 0) {
		kl_error_prefix(err, "cache ls");
		return r;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\t%u\t%" PRIu64 "\n", v[i].id, v[i].instances, v[i].bytes);
	exec_cache_list_free(v, n);
	return 0;
}

static int
cache_snapshot(struct cli *c, const char *id, struct kl_error **err)
{
	char text[DIGEST_STRING_SIZE];
	struct store *s;
	struct digest d;
	int r;

	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = exec_cache_snapshot(s, id, &d, err);
	if (r < 0) {
		kl_error_prefix(err, "cache snapshot");
		return r;
	}
	printf("%s\n", digest_to_string(&d, text));
	return 0;
}

int
cmd_cache(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc == 2 && !strcmp(argv[1], "ls"))
		return cache_ls(c, err);
	if (argc == 3 && !strcmp(argv[1], "snapshot"))
		return cache_snapshot(c, argv[2], err);
	return cli_usage_error(c, err, "cache", "expected 'ls' or 'snapshot ID'");
}
