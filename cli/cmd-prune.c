// SPDX-License-Identifier: Apache-2.0
/* kiln prune: drops cache records by the filters given, then frees every blob nothing needs. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fs/store.h"
#include "solver/cacheidx.h"
#include "util/duration.h"
#include "util/error.h"

static const char usage[] =
    "usage: kiln prune [--all] [--keep-storage SIZE] [--filter until=DURATION]\n"
    "\n"
    "Frees the store's blobs that nothing needs: no cache record that is kept, no image or\n"
    "git source record, no running build (prune waits for running builds to end).\n"
    "Without options only such blobs go; the options drop cache records first:\n"
    "\n"
    "  -a, --all                  every cache record (images and git sources stay)\n"
    "  --keep-storage SIZE        the least recently used records until the cache holds at\n"
    "                             most SIZE (1024-based units: 512MB, 10GB, or bytes)\n"
    "  --filter until=DURATION    records last used more than DURATION ago (24h, 90m, 1h30m)\n"
    "  -f, --force                taken for docker's sake: kiln never asks\n";

/* "10GB", "512m", "1.5GiB", "4096": bytes, with 1024-based units as docker reads them. */
static int
parse_size(const char *s, uint64_t *ret)
{
	static const char units[] = "bkmgtp";
	char *end;
	double v = strtod(s, &end);
	const char *u;

	if (end == s || v < 0 || !isfinite(v))
		return -EINVAL;
	if (!*end) {
		*ret = (uint64_t)v;
		return 0;
	}
	u = strchr(units, tolower((unsigned char)*end));
	if (!u)
		return -EINVAL;
	end++;
	if (*u != 'b' && (!strcasecmp(end, "ib") || !strcasecmp(end, "b")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	*ret = (uint64_t)(v * pow(1024, (double)(u - units)));
	return 0;
}

/* Go's duration syntax ("1h30m", "90s", "24h"), whole seconds; a bare number is seconds. */
static void
on_waiting(void *userdata)
{
	(void)userdata;
	fprintf(stderr, "kiln: prune: waiting for running builds to end\n");
}

int
cmd_prune(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"keep-storage", required_argument, NULL, 'k'},
	    {"filter", required_argument, NULL, 'L'},
	    {"force", no_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	struct cacheidx_prune_options o = {.waiting = on_waiting};
	_cleanup_(cacheidx_freep) struct cacheidx *ci = NULL;
	struct cacheidx_prune_stats st;
	char freed[32], kept[32];
	struct store *s;
	int64_t until_ns;
	int opt, r;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:af", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			o.all = true;
			break;
		case 'k':
			if (parse_size(optarg, &o.keep_storage) < 0)
				return cli_usage_error(
				    c, err, "prune", "--keep-storage: '%s' is not a size", optarg);
			break;
		case 'L':
			if (strncmp(optarg, "until=", 6) != 0 ||
			    kl_duration_parse(optarg + 6, &until_ns, NULL) != KL_DURATION_OK ||
			    until_ns < 1000000000)
				return cli_usage_error(
				    c, err, "prune",
				    "--filter: expected until=DURATION (like 24h), "
				    "not '%s'",
				    optarg);
			o.until_sec = until_ns / 1000000000;
			break;
		case 'f':
			break; /* docker's "do not ask": kiln never asks */
		default:
			return cli_option_error(c, err, "prune", opt, argv);
		}
	}
	if (optind != argc)
		return cli_usage_error(c, err, "prune", "unexpected argument '%s'", argv[optind]);
	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = cacheidx_open(s, &ci, err);
	if (r >= 0)
		r = cacheidx_prune(ci, s, &o, &st, err);
	if (r < 0) {
		kl_error_prefix(err, "prune");
		return r;
	}
	cli_format_size(st.bytes_removed, freed, sizeof(freed));
	cli_format_size(st.bytes_kept, kept, sizeof(kept));
	printf("removed %" PRIu64 " records, %" PRIu64 " blobs, %" PRIu64 " bytes (%s)\n",
	       st.records_removed, st.blobs_removed, st.bytes_removed, freed);
	printf("kept %" PRIu64 " records, %" PRIu64 " blobs, %" PRIu64 " bytes (%s)\n",
	       st.records_kept, st.blobs_kept, st.bytes_kept, kept);
	return 0;
}
