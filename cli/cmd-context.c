// SPDX-License-Identifier: Apache-2.0
/* kiln context hash: scan a local build context (.dockerignore, stat cache) and print its id. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fs/digest.h"
#include "sources/ctxsrc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

static const char usage[] =
    "usage: kiln context hash [--ignore-file FILE] [--follow PATH]... [--stats] DIR\n"
    "\n"
    "hash   scan the build context DIR as a build would send it and print its tree id:\n"
    "       .dockerignore applied, symlinks kept as links, file contents hashed (only the\n"
    "       files that changed since the last scan, thanks to the store's stat cache)\n"
    "\n"
    "options:\n"
    "  --ignore-file FILE  use FILE instead of DIR/.dockerignore\n"
    "  --follow PATH       scan only PATH (and its parents), as COPY sources; repeatable\n"
    "  --stats             print what the scan did to stderr\n";

static int
context_hash(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"ignore-file", required_argument, NULL, 'i'},
	    {"follow", required_argument, NULL, 'f'},
	    {"stats", no_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	struct ctxsrc_stats stats = {0};
	struct ctxsrc_options copts = {.stats = &stats};
	_cleanup_free_ const char **follow = NULL;
	char id[DIGEST_STRING_SIZE];
	bool show_stats = false;
	struct store *s;
	struct digest d;
	int opt, r;

	follow = xcalloc((size_t)argc + 1, sizeof(*follow));
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			copts.ignore_file = optarg;
			break;
		case 'f':
			follow[copts.n_followpaths++] = optarg;
			break;
		case 's':
			show_stats = true;
			break;
		default:
			return cli_option_error(c, err, "context hash", opt, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(c, err, "context hash", "expected one directory");
	if (copts.n_followpaths)
		copts.followpaths = follow;
	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = ctxsrc_scan(s, argv[optind], &copts, &d, err);
	if (r < 0) {
		kl_error_prefix(err, "context hash");
		return r;
	}
	printf("%s\n", digest_to_string(&d, id));
	if (show_stats)
		fprintf(stderr,
		        "entries %" PRIu64 "\nfiles %" PRIu64 "\nhashed %" PRIu64
		        "\nhashed_bytes %" PRIu64 "\ncached %" PRIu64 "\nscan_ms %.3f\n",
		        stats.entries, stats.files, stats.hashed_files, stats.hashed_bytes,
		        stats.cached_files, (double)stats.scan_ns / 1e6);
	return 0;
}

int
cmd_context(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc < 2 || strcmp(argv[1], "hash") != 0)
		return cli_usage_error(c, err, "context", "expected 'hash'");
	return context_hash(c, argc - 1, argv + 1, err);
}
