// SPDX-License-Identifier: Apache-2.0
/* kiln push: an image of kiln's index to a registry, through the image exporter. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "exporters/export.h"
#include "oci/registry.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

static const char usage[] =
    "usage: kiln push [--insecure-registry HOST]... [--registry-timeout DURATION]\n"
    "                 [--compression C] [--compression-level N] [--force-compression]\n"
    "                 [--oci-mediatypes true|false] [--push-by-digest]\n"
    "                 [--metadata-file FILE] NAME [DEST]\n"
    "\n"
    "Pushes the image NAME of kiln's index to DEST (default: NAME), a\n"
    "[host[:port]/]repo[:tag] reference, over the distribution API; prints the digest\n"
    "pushed. Blobs the registry has are not sent again, a base image's layers are mounted\n"
    "from their repository on the same registry, and a layer compressed once is never\n"
    "compressed again. Credentials are docker's ($DOCKER_CONFIG/config.json).\n"
    "\n"
    "  --insecure-registry HOST  allow plain HTTP or unverified TLS to HOST[:PORT]\n"
    "  --registry-timeout D      give up when the registry is silent for D (default 30s)\n"
    "  --compression C           gzip (default), zstd, zstd:chunked, estargz, uncompressed:\n"
    "                            for layers kiln makes; a base image's keep theirs\n"
    "  --compression-level N     the compressor's level\n"
    "  --force-compression       recompress kept layers too\n"
    "  --oci-mediatypes B        OCI (true) or Docker (false) media types; default: the\n"
    "                            image's own\n"
    "  --push-by-digest          push without a tag\n"
    "  --metadata-file FILE      write containerimage.digest and friends as JSON\n";

int
cmd_push(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"insecure-registry", required_argument, NULL, 'i'},
	    {"registry-timeout", required_argument, NULL, 't'},
	    {"compression", required_argument, NULL, 'c'},
	    {"compression-level", required_argument, NULL, 'l'},
	    {"force-compression", no_argument, NULL, 'f'},
	    {"oci-mediatypes", required_argument, NULL, 'O'},
	    {"push-by-digest", no_argument, NULL, 'd'},
	    {"metadata-file", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_free_ const char **insecure = NULL;
	struct source_options so = {0};
	struct export_options o;
	struct export_result res = {0};
	struct kl_error *perr = NULL;
	const char *metadata = NULL;
	char id[DIGEST_STRING_SIZE];
	size_t n_insecure = 0;
	int opt, r = 0;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	insecure = xcalloc((size_t)argc + 1, sizeof(*insecure));
	export_options_init(&o, EXPORT_IMAGE);
	o.push = true;
	optind = 0;
	while (r >= 0 && (opt = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			insecure[n_insecure++] = optarg;
			break;
		case 't':
			r = registry_parse_duration(optarg, &o.registry_timeout_ms, &perr);
			if (r < 0) {
				r = cli_usage_error(c, err, "push", "--registry-timeout: %s",
				                    perr->msg);
				kl_error_free(perr);
			}
			break;
		case 'c':
			r = cli_export_set(c, "push", &o, "compression", optarg, err);
			break;
		case 'l':
			r = cli_export_set(c, "push", &o, "compression-level", optarg, err);
			break;
		case 'f':
			o.force_compression = true;
			break;
		case 'O':
			r = cli_export_set(c, "push", &o, "oci-mediatypes", optarg, err);
			break;
		case 'd':
			o.push_by_digest = true;
			break;
		case 'm':
			metadata = optarg;
			break;
		default:
			r = cli_option_error(c, err, "push", opt, argv);
		}
	}
	if (r >= 0 && (argc - optind < 1 || argc - optind > 2))
		r = cli_usage_error(c, err, "push",
		                    "expected an image name and maybe a destination");
	if (r >= 0)
		r = cli_export_set(c, "push", &o, "name",
		                   argc - optind == 2 ? argv[optind + 1] : argv[optind], err);
	so.insecure_registries = insecure;
	so.n_insecure_registries = n_insecure;
	so.registry_timeout_ms = o.registry_timeout_ms;
	o.insecure_registries = insecure;
	o.n_insecure_registries = n_insecure;
	if (r >= 0)
		r = cli_image_export(c, "push", argv[optind], &o, &so, metadata, &res, err);
	if (r >= 0)
		printf("%s\n", digest_to_string(&res.digest, id));
	export_result_done(&res);
	export_options_done(&o);
	return r;
}
