// SPDX-License-Identifier: Apache-2.0
/* kiln pull: resolve an image reference into its tree, fetching what that needs, and keep the
 * image in kiln's image index under its name. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fs/digest.h"
#include "oci/registry.h"
#include "sources/imgsrc.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char usage[] =
    "usage: kiln pull [--all] [--platform OS/ARCH[/VARIANT]] [--insecure-registry HOST]...\n"
    "                 [--registry-timeout DURATION] [--policy POLICY] REF\n"
    "\n"
    "Fetches and verifies an image's manifest and config and makes its tree; prints the\n"
    "tree id. REF is docker-image://[host[:port]/]repo[:tag|@digest] (the prefix may be\n"
    "left out) or oci-layout://DIR[:tag|@digest].\n"
    "The image is kept in kiln's image index ('kiln images') under its name, normalized\n"
    "(busybox is docker.io/library/busybox:latest); a layout's as Podman names it,\n"
    "localhost/<DIR's last component>:<tag> (another name: 'kiln tag').\n"
    "Plain tar and tar+gzip layers are read once, now; zstd:chunked layers give their table\n"
    "of contents only, and file contents are fetched when first read.\n"
    "\n"
    "  --all                     fetch every layer blob now, too\n"
    "  --platform P              the platform to pick from a multi-platform image\n"
    "                            (default linux/amd64)\n"
    "  --insecure-registry HOST  allow plain HTTP to HOST[:PORT] (loopback always is)\n"
    "  --registry-timeout D      give up when a registry sends nothing for D (like 10s,\n"
    "                            500ms, 2m; default 30s); such a stall is not retried\n"
    "  --policy POLICY           for names: always (the default) asks the registry;\n"
    "                            missing: only when the image index lacks the name;\n"
    "                            never: the index only; newer: ask, but keep to the\n"
    "                            indexed image when the registry fails\n";

int
cmd_pull(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"platform", required_argument, NULL, 'p'},
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"registry-timeout", required_argument, NULL, 't'},
	    {"policy", required_argument, NULL, 'P'},
	    {NULL, 0, NULL, 0},
	};
	enum imgsrc_pull_policy policy = IMGSRC_PULL_ALWAYS;
	_cleanup_free_ const char **insecure = NULL;
	const char *ref;
	struct source_options so = {0};
	struct kl_error *perr = NULL;
	char id[DIGEST_STRING_SIZE];
	struct store *s;
	struct imgstore_image im = {0};
	_cleanup_free_ char *name = NULL;
	int opt, r;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	insecure = xcalloc((size_t)argc + 1, sizeof(*insecure));
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
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
			r = registry_parse_duration(optarg, &so.registry_timeout_ms, &perr);
			if (r < 0) {
				r = cli_usage_error(c, err, "pull", "--registry-timeout: %s",
				                    perr->msg);
				kl_error_free(perr);
				return r;
			}
			break;
		case 'P':
			if (imgsrc_pull_policy_parse(optarg, &policy, &perr) < 0) {
				r = cli_usage_error(c, err, "pull", "--policy: %s", perr->msg);
				kl_error_free(perr);
				return r;
			}
			break;
		default:
			return cli_option_error(c, err, "pull", opt, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(c, err, "pull", "expected one image reference");
	so.insecure_registries = insecure;
	so.auth_file = c->auth_file;
	ref = argv[optind];
	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = imgsrc_pull(s, ref, policy, &so, &im, &name, err);
	if (r < 0) {
		kl_error_prefix(err, "pull");
		return r;
	}
	if (!name)
		kl_log(KL_LOG_INFO,
		       "the layout's directory makes no image name: the image is not "
		       "in the image index; name it with 'kiln tag %s NAME'",
		       ref);
	printf("%s\n", digest_to_string(&im.tree, id));
	imgstore_image_done(&im);
	return 0;
}
