// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the image assembly of exporters/: a base image's layer kept by digest, the
 * final config (diff_ids, history, SOURCE_DATE_EPOCH), media types of both families,
 * annotations, the provenance index, OCI layouts and Docker archives, the metadata JSON, the
 * Docker daemon's answers. Images are in memory, their layers original blobs in a temp store. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test-helpers.h"
#include "exporters/export-internal.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "oci/image.h"
#include "sources/imgstore.h"
#include "util/error.h"
#include "util/xalloc.h"

#define DIFF "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define MT_DOCKER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_OCI_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static const char base_config[] =
    "{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\",\"config\":{\"Cmd\":[\"sh\"]},"
    "\"created\":\"2024-05-01T10:00:00Z\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIFF
    "\"]},\"history\":[{\"created\":\"2020-01-01T00:00:00Z\",\"created_by\":\"ADD rootfs\"},"
    "{\"created\":\"2024-05-01T10:00:00.5Z\",\"created_by\":\"CMD sh\",\"empty_layer\":true}]}";

struct fixture {
	char *dir;
	struct store *s;
	struct provider_set *ps;
	struct imgstore_image im;
	struct digest blob;
	char *out;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	static const char bytes[] = "not really a gzip layer, but the bytes of its blob";
	_cleanup_free_ char *root = NULL;

	f->dir = test_tmpdir();
	root = kl_path_join(f->dir, "store");
	assert_int_equal(
	    store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->s, NULL), 0);
	f->ps = provider_set_new(f->s);
	assert_int_equal(store_ingest_buffer(f->s, bytes, sizeof(bytes), &f->blob, NULL), 0);
	f->im.config = xstrdup(base_config);
	f->im.config_len = strlen(base_config);
	f->im.docker_media_types = true;
	f->im.n_layers = 1;
	f->im.layers = xcalloc(1, sizeof(*f->im.layers));
	f->im.layers[0].has_blob = true;
	f->im.layers[0].blob.media_type = xstrdup(MT_DOCKER_GZIP);
	f->im.layers[0].blob.digest = f->blob;
	f->im.layers[0].blob.size = sizeof(bytes);
	f->im.layers[0].has_diff_id = true;
	assert_int_equal(digest_parse(DIFF, strlen(DIFF), &f->im.layers[0].diff_id, NULL), 0);
	f->im.layers[0].origin = xstrdup("docker-image://registry.example/base");
	f->out = kl_path_join(f->dir, "out");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	imgstore_image_done(&f->im);
	provider_set_free(f->ps);
	store_unref(f->s);
	test_rmdir(f->dir);
	free(f->out);
	free(f);
	return 0;
}

static json_t *
read_json(const char *dir, const char *name)
{
	_cleanup_free_ char *p = kl_path_join(dir, name);
	json_error_t je;
	json_t *j = json_load_file(p, 0, &je);

	if (!j)
		fail_msg("%s: %s", p, je.text);
	return j;
}

static json_t *
layout_blob(const char *dir, const char *digest)
{
	_cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest + 7);

	return read_json(dir, name);
}

/* Exports f->im with spec (plus dest=f->out), into *ret. */
static int
run(struct fixture *f, const char *spec, struct export_options *tweak, struct export_result *ret,
    struct kl_error **err)
{
	_cleanup_free_ char *full = xasprintf("%s,dest=%s", spec, f->out);
	struct export_options o;
	int r;

	assert_int_equal(export_options_parse(full, &o, NULL), 0);
	if (tweak) {
		o.has_epoch = tweak->has_epoch;
		o.epoch = tweak->epoch;
		o.provenance = tweak->provenance;
		*tweak = (struct export_options){0};
	}
	r = export_run(f->s, f->ps, &f->im, &o, ret, err);
	export_options_done(&o);
	return r;
}

static const char *
str_at(json_t *j, const char *path)
{
	/* "a.b.0.c": objects by key, arrays by index */
	_cleanup_free_ char *copy = xstrdup(path);
	char *save = NULL;

	for (char *k = strtok_r(copy, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, strtoul(k, NULL, 10))
		                     : json_object_get(j, k);
	return json_string_value(j);
}

static void
test_base_layer_kept_by_digest(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	char id[DIGEST_STRING_SIZE];
	json_t *idx, *m, *cfg;

	assert_int_equal(run(f, "type=oci,tar=false,name=kx:1", NULL, &res, NULL), 0);
	assert_int_equal(res.layers_reused, 1);
	assert_int_equal(res.layers_made, 0);
	idx = read_json(f->out, "index.json");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_array_get(json_object_get(idx, "manifests"), 0),
	                        "annotations"),
	        "io.containerd.image.name")),
	    "docker.io/library/kx:1");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_array_get(json_object_get(idx, "manifests"), 0),
	                        "annotations"),
	        OCI_ANN_REF_NAME)),
	    "1");
	assert_string_equal(str_at(idx, "manifests.0.platform.variant"), "v8");
	m = layout_blob(f->out, str_at(idx, "manifests.0.digest"));
	assert_string_equal(str_at(m, "mediaType"), OCI_MT_MANIFEST);
	assert_string_equal(str_at(m, "layers.0.digest"), digest_to_string(&f->blob, id));
	assert_string_equal(str_at(m, "layers.0.mediaType"), MT_OCI_GZIP);
	assert_string_equal(str_at(m, "config.mediaType"), OCI_MT_CONFIG);
	/* Nothing in the config needed a change: kept byte for byte, the image id with it. */
	digest_buffer(base_config, strlen(base_config), &f->blob);
	assert_string_equal(str_at(m, "config.digest"), digest_to_string(&f->blob, id));
	assert_true(digest_equal(&res.config, &f->blob));
	cfg = layout_blob(f->out, str_at(m, "config.digest"));
	assert_string_equal(str_at(cfg, "rootfs.diff_ids.0"), DIFF);
	json_decref(cfg);
	json_decref(m);
	json_decref(idx);
	export_result_done(&res);
}

static void
test_epoch_sets_created_and_clamps_history(void **state)
{
	struct fixture *f = *state;
	struct export_options t = {.has_epoch = true, .epoch = 1700000000}; /* 2023-11-14 */
	struct export_result res;
	json_t *idx, *m, *cfg;

	assert_int_equal(run(f, "type=oci,tar=false", &t, &res, NULL), 0);
	idx = read_json(f->out, "index.json");
	m = layout_blob(f->out, str_at(idx, "manifests.0.digest"));
	cfg = layout_blob(f->out, str_at(m, "config.digest"));
	assert_string_equal(str_at(cfg, "created"), "2023-11-14T22:13:20Z");
	assert_string_equal(str_at(cfg, "history.0.created"), "2020-01-01T00:00:00Z");
	assert_string_equal(str_at(cfg, "history.1.created"), "2023-11-14T22:13:20Z");
	assert_string_equal(str_at(cfg, "config.Cmd.0"), "sh");
	json_decref(cfg);
	json_decref(m);
	json_decref(idx);
	export_result_done(&res);
}

static void
test_two_exports_same_epoch_same_digest(void **state)
{
	struct fixture *f = *state;
	struct export_options t1 = {.has_epoch = true, .epoch = 1600000000};
	struct export_options t2 = t1;
	struct export_result a, b;

	assert_int_equal(run(f, "type=oci,tar=true,name=x", &t1, &a, NULL), 0);
	assert_int_equal(run(f, "type=oci,tar=true,name=x", &t2, &b, NULL), 0);
	assert_true(digest_equal(&a.digest, &b.digest));
	export_result_done(&a);
	export_result_done(&b);
}

static void
test_docker_media_types(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	json_t *idx, *m;

	assert_int_equal(run(f, "type=oci,tar=false,oci-mediatypes=false", NULL, &res, NULL), 0);
	assert_string_equal(res.media_type, OCI_MT_DOCKER_MANIFEST);
	idx = read_json(f->out, "index.json");
	m = layout_blob(f->out, str_at(idx, "manifests.0.digest"));
	assert_string_equal(str_at(m, "layers.0.mediaType"), MT_DOCKER_GZIP);
	assert_string_equal(str_at(m, "config.mediaType"), OCI_MT_DOCKER_CONFIG);
	json_decref(m);
	json_decref(idx);
	export_result_done(&res);
}

static void
test_annotations_go_where_asked(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	struct kl_error *e = NULL;
	json_t *idx, *root, *m;

	assert_int_equal(run(f,
	                     "type=oci,tar=false,annotation.a=1,annotation-manifest.b=2,"
	                     "annotation-index.c=3,annotation-manifest-descriptor.d=4,"
	                     "annotation-index-descriptor.e=5",
	                     NULL, &res, NULL),
	                 0);
	assert_string_equal(res.media_type, OCI_MT_INDEX);
	idx = read_json(f->out, "index.json");
	assert_string_equal(str_at(idx, "manifests.0.annotations.e"), "5");
	root = layout_blob(f->out, str_at(idx, "manifests.0.digest"));
	assert_string_equal(str_at(root, "annotations.c"), "3");
	assert_string_equal(str_at(root, "manifests.0.annotations.d"), "4");
	assert_int_equal(json_array_size(json_object_get(root, "manifests")), 1);
	m = layout_blob(f->out, str_at(root, "manifests.0.digest"));
	assert_string_equal(str_at(m, "annotations.a"), "1");
	assert_string_equal(str_at(m, "annotations.b"), "2");
	json_decref(m);
	json_decref(root);
	json_decref(idx);
	export_result_done(&res);
	assert_int_equal(
	    run(f, "type=oci,tar=false,oci-mediatypes=false,annotation.a=1", NULL, &res, &e),
	    -EINVAL);
	assert_non_null(strstr(e->msg, "annotations need OCI media types"));
	kl_error_free(e);
}

static void
test_provenance_names_the_commit(void **state)
{
	struct fixture *f = *state;
	struct export_options t = {0};
	struct export_provenance_info *p = &t.provenance;
	struct export_result res;
	json_t *idx, *root, *att, *st;
	char id[DIGEST_STRING_SIZE];

	p->mode = EXPORT_PROVENANCE_MAX;
	p->n_materials = 1;
	p->materials = xcalloc(1, sizeof(*p->materials));
	p->materials[0].uri = xstrdup("https://example.com/app.git#main");
	p->materials[0].digest = xstrdup("sha1:" COMMIT);
	p->n_args = 1;
	p->args = xcalloc(1, sizeof(*p->args));
	p->args[0].key = xstrdup("VERSION");
	p->args[0].value = xstrdup("1.2");
	p->frontend = xstrdup("dockerfile.v0");
	assert_int_equal(run(f, "type=oci,tar=false,name=kx:1", &t, &res, NULL), 0);
	idx = read_json(f->out, "index.json");
	root = layout_blob(f->out, str_at(idx, "manifests.0.digest"));
	assert_string_equal(str_at(root, "mediaType"), OCI_MT_INDEX);
	assert_int_equal(json_array_size(json_object_get(root, "manifests")), 2);
	{
		json_t *a = json_object_get(json_array_get(json_object_get(root, "manifests"), 1),
		                            "annotations");

		assert_string_equal(
		    json_string_value(json_object_get(a, "vnd.docker.reference.type")),
		    "attestation-manifest");
		assert_string_equal(
		    json_string_value(json_object_get(a, "vnd.docker.reference.digest")),
		    digest_to_string(&res.manifest, id));
	}
	att = layout_blob(f->out, str_at(root, "manifests.1.digest"));
	assert_string_equal(str_at(att, "layers.0.mediaType"), "application/vnd.in-toto+json");
	st = layout_blob(f->out, str_at(att, "layers.0.digest"));
	assert_string_equal(str_at(st, "predicateType"), "https://slsa.dev/provenance/v0.2");
	assert_string_equal(str_at(st, "subject.0.digest.sha256"), id + 7);
	assert_string_equal(str_at(st, "subject.0.name"),
	                    "pkg:docker/docker.io/library/kx@1?platform=linux%2Farm64%2Fv8");
	assert_string_equal(str_at(st, "predicate.materials.0.digest.sha1"), COMMIT);
	{
		json_t *args = json_object_get(
		    json_object_get(json_object_get(json_object_get(st, "predicate"), "invocation"),
		                    "parameters"),
		    "args");

		assert_string_equal(json_string_value(json_object_get(args, "build-arg:VERSION")),
		                    "1.2");
	}
	json_decref(st);
	json_decref(att);
	json_decref(root);
	json_decref(idx);
	export_result_done(&res);
}

static void
test_missing_history_is_added_in_front(void **state)
{
	static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"history\":[]}";
	struct digest ids[2];
	char *out = NULL;
	size_t len;
	json_t *j;

	(void)state;
	digest_buffer("a", 1, &ids[0]);
	digest_buffer("b", 1, &ids[1]);
	assert_int_equal(export_config_finish(cfg, strlen(cfg), ids, 2, false, 0, &out, &len, NULL),
	                 1);
	j = json_loadb(out, len, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "history")), 2);
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "rootfs"), "diff_ids")),
	                 2);
	assert_null(json_object_get(j, "created"));
	json_decref(j);
	free(out);
	/* Too many: the last non-empty entry stops claiming a layer. */
	assert_int_equal(export_config_finish(base_config, strlen(base_config), ids, 0, false, 0,
	                                      &out, &len, NULL),
	                 1);
	j = json_loadb(out, len, 0, NULL);
	assert_true(json_is_true(
	    json_object_get(json_array_get(json_object_get(j, "history"), 0), "empty_layer")));
	json_decref(j);
	free(out);
	assert_int_equal(export_config_finish("[1]", 3, ids, 0, false, 0, &out, &len, NULL),
	                 -EBADMSG);
}

/* Reads entry name of the tar at path into a new string. */
static char *
tar_entry(const char *path, const char *name, bool *ret_found)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char *out = NULL;

	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
	*ret_found = false;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		if (strcmp(archive_entry_pathname(e), name))
			continue;
		out = xcalloc((size_t)archive_entry_size(e) + 1, 1);
		assert_int_equal(archive_read_data(a, out, (size_t)archive_entry_size(e)),
		                 archive_entry_size(e));
		*ret_found = true;
		break;
	}
	archive_read_free(a);
	return out;
}

static void
test_docker_archive_has_manifest_json(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *mj = NULL, *layout = NULL, *want = NULL;
	bool found;
	json_t *j;

	assert_int_equal(run(f, "type=docker,name=kx:1,\"name=quay.io/a/b:2\"", NULL, &res, NULL),
	                 0);
	assert_string_equal(res.media_type, OCI_MT_DOCKER_MANIFEST);
	mj = tar_entry(f->out, "manifest.json", &found);
	assert_true(found);
	j = json_loads(mj, 0, NULL);
	assert_string_equal(str_at(j, "0.RepoTags.0"), "kx:1");
	assert_string_equal(str_at(j, "0.RepoTags.1"), "quay.io/a/b:2");
	want = xasprintf("blobs/sha256/%s", digest_to_string(&f->im.layers[0].blob.digest, id) + 7);
	assert_string_equal(str_at(j, "0.Layers.0"), want);
	json_decref(j);
	layout = tar_entry(f->out, "oci-layout", &found);
	assert_true(found);
	free(tar_entry(f->out, want, &found));
	assert_true(found);
	export_result_done(&res);
}

static void
test_blob_nowhere_is_an_error_naming_it(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	struct kl_error *e = NULL;

	free(f->im.layers[0].origin);
	f->im.layers[0].origin = NULL;
	digest_buffer("absent", 6, &f->im.layers[0].blob.digest);
	assert_int_equal(run(f, "type=oci", NULL, &res, &e), -ENOENT);
	assert_non_null(strstr(e->msg, "is not in the store"));
	kl_error_free(e);
	assert_int_equal(access(f->out, F_OK), -1); /* no partial archive */
}

static void
test_metadata_json(void **state)
{
	struct fixture *f = *state;
	struct export_result res;
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *text = NULL;
	json_t *j;

	assert_int_equal(run(f, "type=oci,name=kx:1,name-canonical=true", NULL, &res, NULL), 0);
	text = export_result_metadata(&res);
	j = json_loads(text, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "containerimage.digest")),
	                    digest_to_string(&res.digest, id));
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(j, "containerimage.descriptor"), "mediaType")),
	                    OCI_MT_MANIFEST);
	assert_non_null(json_object_get(j, "containerimage.config.digest"));
	{
		_cleanup_free_ char *want = xasprintf("kx:1,docker.io/library/kx@%s", id);

		assert_string_equal(json_string_value(json_object_get(j, "image.name")), want);
	}
	json_decref(j);
	export_result_done(&res);
}

static void
test_image_from_tree_is_minimal(void **state)
{
	struct export_options o = {.has_epoch = true, .epoch = 0};
	struct imgstore_image im;
	struct digest t;
	json_t *j;

	(void)state;
	digest_buffer("tree", 4, &t);
	assert_int_equal(export_image_from_tree(&t, "linux/arm/v7", &o, &im, NULL), 0);
	assert_int_equal(im.n_layers, 1);
	assert_true(digest_equal(&im.layers[0].tree, &t));
	j = json_loads(im.config, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "variant")), "v7");
	assert_string_equal(json_string_value(json_object_get(j, "created")),
	                    "1970-01-01T00:00:00Z");
	json_decref(j);
	imgstore_image_done(&im);
}

static void
test_helpers(void **state)
{
	struct kl_error *e = NULL;
	char *n;

	(void)state;
	n = export_familiar_name("docker.io/library/kx:1");
	assert_string_equal(n, "kx:1");
	free(n);
	n = export_familiar_name("docker.io/u/r:t");
	assert_string_equal(n, "u/r:t");
	free(n);
	n = export_familiar_name("127.0.0.1:5000/library/x:1");
	assert_string_equal(n, "127.0.0.1:5000/library/x:1");
	free(n);
	assert_string_equal(export_convert_media_type(MT_DOCKER_GZIP, true), MT_OCI_GZIP);
	assert_string_equal(export_convert_media_type(MT_OCI_GZIP, false), MT_DOCKER_GZIP);
	assert_string_equal(export_convert_media_type("x/y", true), "x/y");
	assert_int_equal(
	    export_dockerd_answer("{\"stream\":\"Loaded image: kx:1\\n\"}\n", 34, NULL), 0);
	{
		static const char bad[] = "{\"stream\":\"x\"}\n{\"errorDetail\":{\"message\":\"no "
		                          "space\"},\"error\":\"no space\"}\n";

		assert_int_equal(export_dockerd_answer(bad, strlen(bad), &e), -EIO);
		assert_non_null(strstr(e->msg, "no space"));
		kl_error_free(e);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_base_layer_kept_by_digest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_epoch_sets_created_and_clamps_history, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_two_exports_same_epoch_same_digest, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_docker_media_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_annotations_go_where_asked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_provenance_names_the_commit, setup, teardown),
	    cmocka_unit_test(test_missing_history_is_added_in_front),
	    cmocka_unit_test_setup_teardown(test_docker_archive_has_manifest_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_blob_nowhere_is_an_error_naming_it, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_metadata_json, setup, teardown),
	    cmocka_unit_test(test_image_from_tree_is_minimal),
	    cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
