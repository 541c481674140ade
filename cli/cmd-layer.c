// SPDX-License-Identifier: Apache-2.0
/* kiln layer export: plumbing over exporters/layer.h, for tests and benchmarks before the image
 * exporters drive it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "exporters/layer.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/timestamp.h"

static const char usage[] =
    "usage: kiln layer export [--compression C] [--level N] [--threads N]\n"
    "                         [--source-date-epoch N] [--rewrite-timestamp] TREE-ID\n"
    "\n"
    "export   the layer of the diff tree TREE-ID (whiteouts and opaque directories become OCI\n"
    "         whiteouts; any tree is a diff over nothing): its tar, compressed into a blob in\n"
    "         the store, or the blob an earlier export of the same tree and options made.\n"
    "         Prints JSON: digest, size, diff_id, tar_size, compression, level, media_type\n"
    "         (OCI), annotations (for the layer's descriptor) and reused (true when found\n"
    "         recorded: nothing was compressed). The blob is <root>/content/sha256/<hex>.\n"
    "\n"
    "options:\n"
    "  --compression C        gzip (default), zstd, zstd:chunked, estargz or uncompressed\n"
    "  --level N              compression level: gzip and estargz 1-9 (6), zstd and\n"
    "                         zstd:chunked 1-22 (3)\n"
    "  --threads N            compression threads (default: every core); the bytes are the\n"
    "                         same whatever N is\n"
    "  --source-date-epoch N  SOURCE_DATE_EPOCH (default: $SOURCE_DATE_EPOCH): the time of\n"
    "                         whiteouts, and with --rewrite-timestamp the latest mtime kept:\n"
    "                         later ones are clamped to it, as BuildKit's rewrite-timestamp\n";

/* Parses a decimal integer in [min, max] for option name. */
static int
parse_int(struct cli *c, const char *name, const char *s, long long min, long long max,
          long long *ret, struct kl_error **err)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return cli_usage_error(c, err, "layer export",
		                       "%s: '%s' is not a number in [%lld, %lld]", name, s, min,
		                       max);
	*ret = v;
	return 0;
}

static void
print_blob(const struct layer_blob *b, bool reused)
{
	char d[DIGEST_STRING_SIZE], id[DIGEST_STRING_SIZE];
	json_auto_t *j = json_object();
	json_t *ann = json_object();
	const char *mt = layer_media_type(b->compression, true);
	char *s;

	json_object_set_new(j, "digest", json_string(digest_to_string(&b->digest, d)));
	json_object_set_new(j, "size", json_integer((json_int_t)b->size));
	json_object_set_new(j, "diff_id", json_string(digest_to_string(&b->diff_id, id)));
	json_object_set_new(j, "tar_size", json_integer((json_int_t)b->tar_size));
	json_object_set_new(j, "compression", json_string(layer_compression_name(b->compression)));
	json_object_set_new(j, "level", json_integer(b->level));
	json_object_set_new(j, "media_type", json_string(mt));
	for (size_t i = 0; i < b->n_annotations; i++)
		json_object_set_new(ann, b->annotations[i].key,
		                    json_string(b->annotations[i].value));
	json_object_set_new(j, "annotations", ann);
	json_object_set_new(j, "reused", json_boolean(reused));
	s = json_dumps(j, JSON_INDENT(2));
	if (s)
		puts(s);
	free(s);
}

static int
layer_export_cmd(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	static const struct option long_opts[] = {
	    {"compression", required_argument, NULL, 'c'},
	    {"level", required_argument, NULL, 'l'},
	    {"threads", required_argument, NULL, 't'},
	    {"source-date-epoch", required_argument, NULL, 'e'},
	    {"rewrite-timestamp", no_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_(provider_set_freep) struct provider_set *ps = NULL;
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	struct source_options so = {.auth_file = c->auth_file};
	struct layer_options o = {0};
	const char *epoch = getenv("SOURCE_DATE_EPOCH"), *epoch_from = "SOURCE_DATE_EPOCH";
	struct layer_blob b = {0};
	struct store *s;
	struct digest id;
	bool reused = false;
	long long v;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (layer_compression_parse(optarg, &o.compression) < 0)
				return cli_usage_error(c, err, "layer export",
				                       "unknown compression '%s' (gzip, zstd, "
				                       "zstd:chunked, estargz, uncompressed)",
				                       optarg);
			break;
		case 'l':
			r = parse_int(c, "--level", optarg, 1, 22, &v, err);
			if (r < 0)
				return r;
			o.level = (int)v;
			break;
		case 't':
			r = parse_int(c, "--threads", optarg, 1, 1024, &v, err);
			if (r < 0)
				return r;
			o.threads = (unsigned)v;
			break;
		case 'e':
			epoch = optarg;
			epoch_from = "--source-date-epoch";
			break;
		case 'w':
			o.rewrite_timestamp = true;
			break;
		default:
			return cli_option_error(c, err, "layer export", opt, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(c, err, "layer export", "expected one tree id");
	r = kl_source_date_epoch_parse(epoch_from, epoch, &o.epoch, err);
	if (r < 0) {
		c->usage_cmd = "layer export";
		kl_error_prefix(err, "layer export");
		return r;
	}
	o.has_epoch = r > 0;
	if (!o.has_epoch && o.rewrite_timestamp) {
		return cli_usage_error(c, err, "layer export",
		                       "--rewrite-timestamp needs --source-date-epoch or "
		                       "$SOURCE_DATE_EPOCH");
	}
	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = digest_parse(argv[optind], strlen(argv[optind]), &id, err);
	if (r >= 0)
		r = tree_load(s, &id, &t, err);
	if (r == -ENOENT)
		return kl_error_setf(err, ENOENT, "layer export: tree %s is not in the store",
		                     argv[optind]);
	if (r < 0) {
		kl_error_prefix(err, "layer export");
		return r;
	}
	ps = provider_set_new_default(s, /* local_root= */ NULL);
	source_add_providers(ps, s, &so);
	r = layer_export(s, ps, t, &o, &b, &reused, err);
	if (r < 0) {
		kl_error_prefix(err, "layer export");
		return r;
	}
	print_blob(&b, reused);
	layer_blob_done(&b);
	return 0;
}

int
cmd_layer(struct cli *c, int argc, char **argv, struct kl_error **err)
{
	if (cli_wants_help(argc, argv, usage))
		return 0;
	if (argc < 2)
		return cli_usage_error(c, err, "layer", "expected 'export'");
	if (!strcmp(argv[1], "export"))
		return layer_export_cmd(c, argc - 1, argv + 1, err);
	return cli_usage_error(c, err, "layer", "unknown subcommand '%s'", argv[1]);
}
