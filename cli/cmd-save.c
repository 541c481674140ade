// SPDX-License-Identifier: Apache-2.0
/* kiln save: an image of kiln's index as a Docker archive or an OCI layout tar. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "exporters/export.h"
#include "sources/source.h"
#include "util/error.h"

static const char usage[] =
    "usage: kiln save [--format docker|oci] [--compression C] [--metadata-file FILE]\n"
    "                 -o FILE NAME\n"
    "\n"
    "Writes the image NAME of kiln's index to FILE ('-': stdout) as a Docker archive\n"
    "(default; docker load and podman load read it, and it holds the OCI layout too) or an\n"
    "OCI image layout tar (--format oci). Prints the digest written.\n"
    "\n"
    "  -o, --output FILE     where the archive goes\n"
    "  --format F            docker (default) or oci\n"
    "  --compression C       for layers kiln makes: gzip (default), zstd, zstd:chunked,\n"
    "                        estargz, uncompressed\n"
    "  --metadata-file FILE  write containerimage.digest and friends as JSON\n";

int
cmd_save(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, 'F'},
	    {"compression", required_argument, NULL, 'c'},
	    {"metadata-file", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	struct source_options so = {0};
	struct export_options o;
	struct export_result res = {0};
	const char *dest = NULL, *format = "docker", *compression = NULL, *metadata = NULL;
	char id[DIGEST_STRING_SIZE];
	int opt, r;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:o:", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			dest = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'c':
			compression = optarg;
			break;
		case 'm':
			metadata = optarg;
			break;
		default:
			return cli_option_error(c, err, "save", opt, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(c, err, "save", "expected one image name");
	if (!dest)
		return cli_usage_error(c, err, "save", "-o FILE is needed (- for stdout)");
	if (strcmp(format, "docker") && strcmp(format, "oci"))
		return cli_usage_error(c, err, "save", "--format is docker or oci, not '%s'",
		                       format);
	export_options_init(&o, !strcmp(format, "oci") ? EXPORT_OCI : EXPORT_DOCKER);
	r = cli_export_set(c, "save", &o, "dest", dest, err);
	if (r >= 0)
		r = cli_export_set(c, "save", &o, "name", argv[optind], err);
	if (r >= 0 && compression)
		r = cli_export_set(c, "save", &o, "compression", compression, err);
	if (r >= 0)
		r = cli_image_export(c, "save", argv[optind], &o, &so, metadata, &res, err);
	if (r >= 0 && strcmp(dest, "-"))
		printf("%s\n", digest_to_string(&res.digest, id));
	export_result_done(&res);
	export_options_done(&o);
	return r;
}
