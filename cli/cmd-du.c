// SPDX-License-Identifier: Apache-2.0
/* kiln du: the cache's records and what the store's bytes are used for. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "fs/store.h"
#include "solver/cacheidx.h"
#include "util/error.h"
#include "util/log.h"

static const char usage[] =
    "usage: kiln du [-q]\n"
    "\n"
    "Lists the build cache's records (least recently used first) and counts the store's\n"
    "bytes by what needs them: the cache records, the image and git sources' own records,\n"
    "or nothing. 'reclaimable' is what 'kiln prune --all' frees, 'unused' what 'kiln prune'\n"
    "frees.\n"
    "\n"
    "  -q, --quiet   the totals only\n";

void
cli_format_size(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 "B", n);
	else
		snprintf(buf, len, "%.3g%s", v, units[u]);
}

static int
print_record(const struct cacheidx_record *r, void *userdata)
{
	char key[DIGEST_STRING_SIZE], size[32], when[32];
	time_t t = (time_t)r->last_used;
	struct tm tm;

	(void)userdata;
	digest_to_string(&r->key, key);
	key[7 + 12] = '\0'; /* sha256: and 12 hex digits */
	cli_format_size(r->size, size, sizeof(size));
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	printf("%-19s  %-7s %9s  %s  %s\n", key, r->op, size, when,
	       r->description ? r->description : "");
	return 0;
}

static void
line(const char *what, uint64_t n, const char *why)
{
	char h[32];

	cli_format_size(n, h, sizeof(h));
	printf("%-12s %" PRIu64 " (%s)  %s\n", what, n, h, why);
}

int
cmd_du(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	_cleanup_(cacheidx_freep) struct cacheidx *ci = NULL;
	struct cacheidx_usage u;
	bool quiet = false;
	struct store *s;
	int r;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			quiet = true;
		else
			return cli_usage_error(c, err, "du", "unexpected argument '%s'", argv[i]);
	}
	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = cacheidx_open(s, &ci, err);
	if (r < 0) {
		kl_error_prefix(err, "du");
		return r;
	}
	if (!quiet) {
		printf("%-19s  %-7s %9s  %-19s  %s\n", "KEY", "OP", "SIZE", "LAST USED",
		       "DESCRIPTION");
		r = cacheidx_foreach(ci, print_record, NULL, err);
		if (r < 0) {
			kl_error_prefix(err, "du");
			return r;
		}
		printf("\n");
	}
	r = cacheidx_usage(ci, s, &u, err);
	if (r < 0) {
		kl_error_prefix(err, "du");
		return r;
	}
	printf("%-12s %" PRIu64 "\n", "records", u.records);
	line("cache", u.records_bytes, "blobs the cache records need");
	line("sources", u.sources_bytes, "blobs the image and git source records need");
	line("shared", u.shared_bytes, "needed by both");
	line("reclaimable", u.reclaimable, "freed by 'kiln prune --all'");
	line("unused", u.unused, "freed by 'kiln prune'");
	line("store", u.store_bytes, "every blob");
	printf("%-12s %" PRIu64 "\n", "blobs", u.store_blobs);
	return 0;
}
