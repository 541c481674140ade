// SPDX-License-Identifier: Apache-2.0
/* kiln push: an image of kiln's index to a registry, through the image exporter. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "exporters/export.h"
#include "fs/provider.h"
#include "oci/registry.h"
#include "sources/imgstore.h"
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

/* Applies one export option, as --exporter-opt would. */
static int
set(struct cli *c, struct export_options *o, const char *k, const char *v, struct kl_error **err)
{
	struct kl_error *e = NULL;
	int r = export_options_set(o, k, v, &e);

	if (r < 0) {
		r = cli_usage_error(c, err, "push", "%s", e->msg);
		kl_error_free(e);
	}
	return r;
}

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
	_cleanup_(provider_set_freep) struct provider_set *ps = NULL;
	struct source_options so = {0};
	struct export_options o;
	struct export_result res = {0};
	struct imgstore_image im = {0};
	struct kl_error *perr = NULL;
	const char *metadata = NULL;
	char id[DIGEST_STRING_SIZE];
	size_t n_insecure = 0;
	struct store *s;
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
			r = set(c, &o, "compression", optarg, err);
			break;
		case 'l':
			r = set(c, &o, "compression-level", optarg, err);
			break;
		case 'f':
			o.force_compression = true;
			break;
		case 'O':
			r = set(c, &o, "oci-mediatypes", optarg, err);
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
		r = set(c, &o, "name", argc - optind == 2 ? argv[optind + 1] : argv[optind], err);
	if (r >= 0)
		r = cli_image_load(c, argv[optind], &im, err);
	if (r >= 0)
		r = cli_store(c, &s, err);
	if (r < 0) {
		export_options_done(&o);
		return r;
	}
	so.insecure_registries = insecure;
	so.n_insecure_registries = n_insecure;
	so.auth_file = c->auth_file;
	so.registry_timeout_ms = o.registry_timeout_ms;
	o.insecure_registries = insecure;
	o.n_insecure_registries = n_insecure;
	o.auth_file = c->auth_file;
	ps = provider_set_new_default(s, NULL);
	source_add_providers(ps, s, &so);
	r = export_run(s, ps, &im, &o, &res, err);
	if (r < 0)
		kl_error_prefix(err, "push");
	if (r >= 0 && metadata)
		r = cli_write_metadata(metadata, &res, err);
	if (r >= 0)
		printf("%s\n", digest_to_string(&res.digest, id));
	export_result_done(&res);
	imgstore_image_done(&im);
	export_options_done(&o);
	return r;
}
