// SPDX-License-Identifier: Apache-2.0
/* kiln pull: resolve an image reference into its tree, fetching what that needs. */
#include "cli/cmd-pull.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fs/digest.h"
#include "oci/registry.h"
#include "sources/imgsrc.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char usage[] =
    "usage: kiln pull [--all] [--platform OS/ARCH[/VARIANT]] [--insecure-registry HOST]...\n"
    "                 [--registry-timeout DURATION] REF\n"
    "\n"
    "Fetches and verifies an image's manifest and config and makes its tree; prints the\n"
    "tree id. REF is docker-image://[host[:port]/]repo[:tag|@digest] (the prefix may be\n"
    "left out) or oci-layout://DIR[:tag|@digest].\n"
    "Plain tar and tar+gzip layers are read once, now; zstd:chunked layers give their table\n"
    "of contents only, and file contents are fetched when first read.\n"
    "\n"
    "  --all                     fetch every layer blob now, too\n"
    "  --platform P              the platform to pick from a multi-platform image\n"
    "                            (default linux/amd64)\n"
    "  --insecure-registry HOST  allow plain HTTP to HOST[:PORT] (loopback always is)\n"
    "  --registry-timeout D      give up when a registry sends nothing for D (like 10s,\n"
    "                            500ms, 2m; default 30s); such a stall is not retried\n";

int
cmd_pull(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"platform", required_argument, NULL, 'p'},
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"registry-timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct source_options so = {0};
	const char **insecure = NULL;
	_cleanup_free_ char *ref = NULL;
	char id[DIGEST_STRING_SIZE];
	struct kl_error *err = NULL;
	struct store *s;
	struct digest tree;
	int opt, r;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	insecure = xcalloc((size_t)argc + 1, sizeof(*insecure));
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			so.all_layers = true;
			break;
		case 'p':
			so.platform = optarg;
			break;
		case 'i':
			insecure[so.n_insecure_registries++] = optarg;
			break;
		case 't':
			if (registry_parse_duration(optarg, &so.registry_timeout_ms, &err) < 0) {
				free(insecure);
				r = cli_usage_error("pull", "--registry-timeout: %s", err->msg);
				kl_error_free(err);
				return r;
			}
			break;
		default:
			free(insecure);
			return cli_usage_error("pull", "unknown option");
		}
	}
	so.insecure_registries = insecure;
	so.auth_file = c->auth_file;
	if (optind + 1 != argc) {
		free(insecure);
		return cli_usage_error("pull", "expected one image reference");
	}
	if (strstr(argv[optind], "://"))
		ref = xstrdup(argv[optind]);
	else
		ref = xasprintf("docker-image://%s", argv[optind]);
	s = cli_store(c);
	if (!s) {
		free(insecure);
		return 1;
	}
	r = imgsrc_resolve(s, ref, &so, &tree, &err);
	free(insecure);
	if (r < 0)
		return kl_log_error(&err, "pull");
	printf("%s\n", digest_to_string(&tree, id));
	return 0;
}
