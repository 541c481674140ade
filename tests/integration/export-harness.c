// SPDX-License-Identifier: Apache-2.0
/* Drives export_run for the integration tests before `kiln build --output` exists: an image
 * described in JSON (a config file and layers as diff trees, each maybe with its original
 * blob and origin), or a single tree as `kiln solve` gives it, exported as --output says.
 *
 *   export-harness [options] IMAGE.json|--tree TREE-ID OUTPUT-SPEC
 *     --exporter TYPE --opt K=V…  (instead of OUTPUT-SPEC: the buildctl form)
 *     --epoch N                    SOURCE_DATE_EPOCH
 *     --provenance MODE            min|max, with --material URI=ALGO:HEX… and --arg K=V…
 *     --metadata-file F            BuildKit's metadata JSON
 *     --chunk N                    registry upload chunk size
 *     --auth-file F                registry credentials (a Docker config.json)
 *
 * IMAGE.json: {"config": "FILE", "docker": false, "layers": [{"tree": "sha256:…",
 * "blob": {"mediaType": …, "digest": …, "size": …}, "diff_id": "sha256:…",
 * "origin": "oci-layout://DIR"}, …]}. The store is $KILN_ROOT. Prints the root digest. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exporters/export.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "oci/image.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

static void
die(const char *what, struct kl_error *e)
{
	fprintf(stderr, "export-harness: %s: %s\n", what, e ? e->msg : "failed");
	exit(1);
}

static void
parse_digest(const char *s, struct digest *d)
{
	if (!s || digest_parse(s, strlen(s), d, NULL) < 0) {
		fprintf(stderr, "export-harness: bad digest '%s'\n", s ? s : "(none)");
		exit(2);
	}
}

static void
load_image(const char *path, struct imgstore_image *im)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je), *layers, *l;
	const char *cfg;
	size_t i;
	int fd;

	if (!j) {
		fprintf(stderr, "export-harness: %s: %s\n", path, je.text);
		exit(2);
	}
	cfg = json_string_value(json_object_get(j, "config"));
	fd = cfg ? open(cfg, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0 || kl_io_read_all(fd, OCI_MAX_CONFIG_SIZE, &im->config, &im->config_len) < 0) {
		fprintf(stderr, "export-harness: cannot read config '%s'\n", cfg ? cfg : "");
		exit(2);
	}
	close(fd);
	im->docker_media_types = json_is_true(json_object_get(j, "docker"));
	layers = json_object_get(j, "layers");
	im->n_layers = json_array_size(layers);
	im->layers = xcalloc(im->n_layers + 1, sizeof(*im->layers));
	json_array_foreach(layers, i, l)
	{
		struct imgstore_layer *x = &im->layers[i];
		json_t *b = json_object_get(l, "blob");

		parse_digest(json_string_value(json_object_get(l, "tree")), &x->tree);
		if (json_object_get(l, "diff_id")) {
			parse_digest(json_string_value(json_object_get(l, "diff_id")), &x->diff_id);
			x->has_diff_id = true;
		}
		if (b) {
			x->has_blob = true;
			x->blob.media_type =
			    xstrdup(json_string_value(json_object_get(b, "mediaType")));
			parse_digest(json_string_value(json_object_get(b, "digest")),
			             &x->blob.digest);
			x->blob.size = (uint64_t)json_integer_value(json_object_get(b, "size"));
		}
		if (json_object_get(l, "origin"))
			x->origin = xstrdup(json_string_value(json_object_get(l, "origin")));
	}
	json_decref(j);
}

static double
ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void
push_kv(const char *arg, char **k, char **v)
{
	const char *eq = strchr(arg, '=');

	if (!eq) {
		fprintf(stderr, "export-harness: '%s' is not K=V\n", arg);
		exit(2);
	}
	*k = xstrndup(arg, (size_t)(eq - arg));
	*v = xstrdup(eq + 1);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"exporter", required_argument, NULL, 'x'},
	    {"opt", required_argument, NULL, 'o'},
	    {"epoch", required_argument, NULL, 'e'},
	    {"provenance", required_argument, NULL, 'p'},
	    {"material", required_argument, NULL, 'm'},
	    {"arg", required_argument, NULL, 'a'},
	    {"metadata-file", required_argument, NULL, 'M'},
	    {"tree", required_argument, NULL, 't'},
	    {"chunk", required_argument, NULL, 'c'},
	    {"auth-file", required_argument, NULL, 'A'},
	    {NULL, 0, NULL, 0},
	};
	struct export_provenance_info prov = {0};
	const char *exporter = NULL, *metadata = NULL, *tree = NULL, *root = getenv("KILN_ROOT");
	const char *auth_file = NULL;
	char **xopts = xcalloc((size_t)argc + 1, sizeof(char *));
	size_t n_xopts = 0;
	struct kl_error *err = NULL;
	struct export_options o;
	struct export_result res;
	struct imgstore_image im = {0};
	struct store *s;
	struct provider_set *ps;
	bool has_epoch = false;
	int64_t epoch = 0;
	unsigned long chunk = 0;
	char id[DIGEST_STRING_SIZE];
	struct timespec t0, t1, c0, c1;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'x':
			exporter = optarg;
			break;
		case 'o':
			xopts[n_xopts++] = optarg;
			break;
		case 'e':
			has_epoch = true;
			epoch = strtoll(optarg, NULL, 10);
			break;
		case 'p':
			if (export_provenance_parse(optarg, &prov.mode, &err) < 0)
				die("--provenance", err);
			break;
		case 'm':
			prov.materials = xrealloc(prov.materials,
			                          (prov.n_materials + 1) * sizeof(*prov.materials));
			push_kv(optarg, &prov.materials[prov.n_materials].uri,
			        &prov.materials[prov.n_materials].digest);
			prov.n_materials++;
			break;
		case 'a':
			prov.args = xrealloc(prov.args, (prov.n_args + 1) * sizeof(*prov.args));
			push_kv(optarg, &prov.args[prov.n_args].key, &prov.args[prov.n_args].value);
			prov.n_args++;
			break;
		case 'M':
			metadata = optarg;
			break;
		case 't':
			tree = optarg;
			break;
		case 'c':
			chunk = strtoul(optarg, NULL, 10);
			break;
		case 'A':
			auth_file = optarg;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != (tree ? 0 : 1) + (exporter ? 0 : 1) || !root) {
		fprintf(stderr, "usage: export-harness [options] IMAGE.json|--tree ID SPEC\n");
		return 2;
	}
	if (exporter) {
		enum export_type t;

		if (export_type_parse(exporter, &t, &err) < 0)
			die("--exporter", err);
		export_options_init(&o, t);
		if (!strcmp(exporter, "registry"))
			o.push = true;
		for (size_t i = 0; i < n_xopts; i++) {
			char *k, *v;

			push_kv(xopts[i], &k, &v);
			if (export_options_set(&o, k, v, &err) < 0)
				die("--opt", err);
			free(k);
			free(v);
		}
	} else if (export_options_parse(argv[argc - 1], &o, &err) < 0) {
		die("output", err);
	}
	o.has_epoch = has_epoch;
	o.epoch = epoch;
	o.docker_host = getenv("DOCKER_HOST");
	o.registry_chunk = chunk;
	o.auth_file = auth_file;
	prov.frontend = xstrdup("dockerfile.v0");
	prov.config_entry = xstrdup("Dockerfile");
	prov.started_on = 1700000000;
	prov.finished_on = 1700000100;
	o.provenance = prov;
	if (store_open(root, NULL, &s, &err) < 0)
		die("store", err);
	ps = provider_set_new_default(s, NULL);
	source_add_providers(ps, s, NULL);
	if (tree) {
		struct digest t;

		parse_digest(tree, &t);
		if (export_image_from_tree(&t, NULL, &o, &im, &err) < 0)
			die("image from tree", err);
	} else {
		load_image(argv[optind], &im);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	r = export_run(s, ps, &im, &o, &res, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	if (r < 0)
		die("export", err);
	fprintf(stderr, "export_run %.2f ms, cpu %.2f ms\n", ms(&t0, &t1), ms(&c0, &c1));
	printf("%s\n", digest_to_string(&res.digest, id));
	fprintf(stderr, "layers reused %zu made %zu mounted %zu pushed %llu\n", res.layers_reused,
	        res.layers_made, res.blobs_mounted, (unsigned long long)res.bytes_pushed);
	if (metadata) {
		char *m = export_result_metadata(&res);
		FILE *f = fopen(metadata, "w");

		if (!f || fputs(m, f) < 0 || fclose(f) != 0)
			return 1;
		free(m);
	}
	export_result_done(&res);
	export_options_done(&o);
	imgstore_image_done(&im);
	provider_set_free(ps);
	store_unref(s);
	free(xopts);
	return 0;
}
