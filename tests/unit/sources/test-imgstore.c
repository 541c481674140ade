// SPDX-License-Identifier: Apache-2.0
/* Unit tests for sources/imgstore*.c and imgsrc-named.c: image records round trip and are
 * canonical, names normalize as Docker's and point at records, the index is listed in name
 * order, concurrent taggers never leave a torn pointer, ids and prefixes find images, every
 * blob an image keeps is named for prune, and names resolve from the index with no network. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "sources/imgsrc-internal.h"
#include "sources/imgsrc.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"
#include "../test-helpers.h"

#define HEX_A "4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1"
#define HEX_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CONFIG                                                                                     \
	"{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05.5Z\","     \
	"\"config\":{\"Env\":[\"PATH=/bin\"],\"Cmd\":[\"/bin/sh\"]},"                              \
	"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"

struct fx {
	char *dir;
	char *root;
	struct store *store;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	f->dir = test_tmpdir();
	f->root = kl_path_join(f->dir, "store");
	if (store_open(f->root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL) <
	    0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_unref(f->store);
	test_rmdir(f->dir);
	free(f->root);
	free(f);
	return 0;
}

/* A tree of one file holding text, in the store. */
static struct digest
tree_with(struct fx *f, const char *path, const char *text)
{
	_cleanup_(tree_writer_freep) struct tree_writer *w = tree_writer_new();
	struct tree_entry root = {.path = "", .name = "", .type = TREE_DIR, .mode = 0755};
	struct tree_entry file = {.path = path,
	                          .path_len = strlen(path),
	                          .name = path,
	                          .name_len = strlen(path),
	                          .type = TREE_REG,
	                          .mode = 0644,
	                          .size = strlen(text),
	                          .flags = TREE_ENTRY_HAS_DIGEST};
	struct digest id;

	assert_int_equal(store_ingest_buffer(f->store, text, strlen(text), &file.digest, NULL), 0);
	assert_int_equal(tree_writer_add(w, &root, NULL), 0);
	assert_int_equal(tree_writer_add(w, &file, NULL), 0);
	assert_int_equal(tree_writer_write(w, f->store, &id, NULL), 0);
	return id;
}

static struct digest
dg(const char *hex)
{
	_cleanup_free_ char *s = xasprintf("sha256:%s", hex);
	struct digest d;

	assert_int_equal(digest_parse(s, strlen(s), &d, NULL), 0);
	return d;
}

/* An image of two layers: a pulled one (blob, annotations, origin, diff id) and a built one. */
static void
make_image(struct fx *f, const char *config, struct imgstore_image *ret)
{
	struct imgstore_image im = {0};
	struct imgstore_layer *l;

	im.config = xstrdup(config);
	im.config_len = strlen(config);
	im.has_manifest = true;
	im.manifest = dg(HEX_B);
	im.n_layers = 2;
	im.layers = xcalloc(2, sizeof(*im.layers));
	l = &im.layers[0];
	l->tree = tree_with(f, "a", "layer one");
	l->has_diff_id = true;
	l->diff_id = dg(HEX_A);
	l->has_blob = true;
	l->blob.media_type = xstrdup("application/vnd.oci.image.layer.v1.tar+zstd");
	l->blob.digest = dg(HEX_B);
	l->blob.size = 12345;
	l->n_annotations = 2;
	l->annotations = xcalloc(2, sizeof(*l->annotations));
	l->annotations[0] = (struct imgstore_annotation){
	    xstrdup("containerd.io/snapshot/stargz/toc.digest"), xstrdup("sha256:" HEX_A)};
	l->annotations[1] =
	    (struct imgstore_annotation){xstrdup(OCI_ANN_ZSTD_CHUNKED_POS), xstrdup("100:20:40:1")};
	l->origin = xstrdup("docker-image://127.0.0.1:5000/busybox");
	im.layers[1].tree = tree_with(f, "b", "layer two");
	im.tree = tree_with(f, "merged", config);
	*ret = im;
}

static struct digest
put_image(struct fx *f, const char *config)
{
	struct imgstore_image im;
	struct digest rec;

	make_image(f, config, &im);
	assert_int_equal(imgstore_put(f->store, &im, &rec, NULL), 0);
	imgstore_image_done(&im);
	return rec;
}

static void
test_put_then_get_round_trips_every_field(void **state)
{
	struct fx *f = *state;
	struct imgstore_image im, got;
	struct digest rec, cfg;
	char a[DIGEST_STRING_SIZE], b[DIGEST_STRING_SIZE];

	make_image(f, CONFIG, &im);
	assert_int_equal(imgstore_put(f->store, &im, &rec, NULL), 0);
	digest_buffer(CONFIG, strlen(CONFIG), &cfg);
	assert_true(digest_equal(&im.id, &cfg));
	assert_int_equal(imgstore_get(f->store, &rec, &got, NULL), 0);
	assert_true(digest_equal(&got.id, &cfg));
	assert_int_equal(got.config_len, strlen(CONFIG));
	assert_string_equal(got.config, CONFIG);
	assert_false(got.docker_media_types);
	assert_true(got.has_manifest);
	assert_true(digest_equal(&got.manifest, &im.manifest));
	assert_true(digest_equal(&got.tree, &im.tree));
	assert_int_equal(got.n_layers, 2);
	assert_string_equal(digest_to_string(&got.layers[0].tree, a),
	                    digest_to_string(&im.layers[0].tree, b));
	assert_true(got.layers[0].has_diff_id);
	assert_true(digest_equal(&got.layers[0].diff_id, &im.layers[0].diff_id));
	assert_true(got.layers[0].has_blob);
	assert_string_equal(got.layers[0].blob.media_type,
	                    "application/vnd.oci.image.layer.v1.tar+zstd");
	assert_true(digest_equal(&got.layers[0].blob.digest, &im.layers[0].blob.digest));
	assert_int_equal(got.layers[0].blob.size, 12345);
	assert_int_equal(got.layers[0].n_annotations, 2);
	assert_string_equal(got.layers[0].annotations[0].key,
	                    "containerd.io/snapshot/stargz/toc.digest");
	assert_string_equal(got.layers[0].annotations[1].key, OCI_ANN_ZSTD_CHUNKED_POS);
	assert_string_equal(got.layers[0].blob.chunked_position, "100:20:40:1");
	assert_null(got.layers[0].blob.chunked_checksum);
	assert_string_equal(got.layers[0].origin, "docker-image://127.0.0.1:5000/busybox");
	assert_true(digest_equal(&got.layers[1].tree, &im.layers[1].tree));
	assert_false(got.layers[1].has_diff_id);
	assert_false(got.layers[1].has_blob);
	assert_null(got.layers[1].origin);
	imgstore_image_done(&got);
	imgstore_image_done(&im);
}

static void
test_the_same_image_makes_the_same_record(void **state)
{
	struct fx *f = *state;
	struct imgstore_image im;
	struct digest a = put_image(f, CONFIG), b, c;
	_cleanup_free_ char *text = NULL;
	size_t len;

	b = put_image(f, CONFIG);
	assert_true(digest_equal(&a, &b));
	/* the record is canonical JSON: sorted keys, no whitespace */
	assert_int_equal(store_read_blob(f->store, &a, 1 << 20, &text, &len, NULL), 0);
	assert_non_null(strstr(text, "{\"config\":{\"digest\":\"sha256:"));
	assert_null(strchr(text, ' '));
	assert_null(strchr(text, '\n'));
	/* Docker media types make another record of the same image id */
	make_image(f, CONFIG, &im);
	im.docker_media_types = true;
	assert_int_equal(imgstore_put(f->store, &im, &c, NULL), 0);
	assert_false(digest_equal(&a, &c));
	imgstore_image_done(&im);
	assert_int_equal(imgstore_get(f->store, &c, &im, NULL), 0);
	assert_true(im.docker_media_types);
	imgstore_image_done(&im);
}

static void
test_put_refuses_trees_not_in_the_store_and_bad_configs(void **state)
{
	struct fx *f = *state;
	struct kl_error *err = NULL;
	struct imgstore_image im;
	struct digest rec;

	make_image(f, CONFIG, &im);
	im.layers[1].tree = dg(HEX_A);
	assert_int_equal(imgstore_put(f->store, &im, &rec, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "layer tree sha256:" HEX_A " is not in the store"));
	kl_error_freep(&err);
	imgstore_image_done(&im);

	make_image(f, "[1, 2]", &im);
	assert_int_equal(imgstore_put(f->store, &im, &rec, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, "the config is not a JSON object"));
	kl_error_freep(&err);
	imgstore_image_done(&im);
}

/* A record blob with the given text, in the store. */
static struct digest
record_blob(struct fx *f, const char *text)
{
	struct digest d;

	assert_int_equal(store_ingest_buffer(f->store, text, strlen(text), &d, NULL), 0);
	return d;
}

static void
test_get_says_what_is_wrong_with_a_record(void **state)
{
	struct fx *f = *state;
	struct kl_error *err = NULL;
	struct imgstore_image im = {0};
	struct digest absent = dg(HEX_A), d;
	char id[DIGEST_STRING_SIZE];
	static const struct {
		const char *json, *msg;
	} cases[] = {
	    {"[]", "not a JSON object"},
	    {"{\"schemaVersion\":2}", "'schemaVersion' is not 1"},
	    {"{\"schemaVersion\":1,\"config\":{\"digest\":\"sha256:" HEX_A "\",\"size\":1},"
	     "\"tree\":\"sha256:" HEX_A "\",\"layers\":[{\"tree\":\"sha256:zz\"}]}",
	     "'layers[0].tree' is not a sha256 digest"},
	    {"{\"schemaVersion\":1,\"config\":{\"digest\":\"sha256:" HEX_A "\",\"size\":1},"
	     "\"layers\":[]}",
	     "'tree' is missing"},
	    {"{\"schemaVersion\":1,\"config\":{\"digest\":\"sha256:" HEX_A "\",\"size\":-1},"
	     "\"tree\":\"sha256:" HEX_A "\",\"layers\":[]}",
	     "'config' has no size"},
	    {"{\"schemaVersion\":1,\"config\":{\"digest\":\"sha256:" HEX_A "\",\"size\":1},"
	     "\"tree\":\"sha256:" HEX_A "\",\"layers\":[{\"tree\":\"sha256:" HEX_A "\","
	     "\"blob\":{\"digest\":\"sha256:" HEX_A "\",\"size\":1,\"annotations\":{\"k\":1}}}]}",
	     "'layers[0].blob.annotations' holds a value"},
	    {"{\"schemaVersion\":1,\"config\":{\"digest\":\"sha256:" HEX_A "\",\"size\":1},"
	     "\"tree\":\"sha256:" HEX_A "\",\"layers\":[]}",
	     "its config sha256:" HEX_A " is not in the store"},
	};

	assert_int_equal(imgstore_get(f->store, &absent, &im, &err), -ENOENT);
	assert_null(err);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d = record_blob(f, cases[i].json);
		assert_int_equal(imgstore_get(f->store, &d, &im, &err), -EBADMSG);
		if (!strstr(err->msg, cases[i].msg) || !strstr(err->msg, digest_to_string(&d, id)))
			fail_msg("case %zu: '%s' lacks '%s'", i, err->msg, cases[i].msg);
		kl_error_freep(&err);
	}
	/* a record whose config is there but not of the size it says */
	{
		struct digest cfg = record_blob(f, CONFIG);
		_cleanup_free_ char *text =
		    xasprintf("{\"schemaVersion\":1,\"config\":{\"digest\":\"%s\",\"size\":3},"
		              "\"tree\":\"sha256:" HEX_A "\",\"layers\":[]}",
		              digest_to_string(&cfg, id));

		d = record_blob(f, text);
		assert_int_equal(imgstore_get(f->store, &d, &im, &err), -EBADMSG);
		assert_non_null(strstr(err->msg, "'config.size' is not the size of its config"));
		kl_error_freep(&err);
	}
}

static void
test_normalize_as_docker_does(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
	    {"busybox", "docker.io/library/busybox:latest"},
	    {"busybox:1.36", "docker.io/library/busybox:1.36"},
	    {"library/busybox", "docker.io/library/busybox:latest"},
	    {"docker.io/busybox", "docker.io/library/busybox:latest"},
	    {"docker.io/library/busybox:latest", "docker.io/library/busybox:latest"},
	    {"index.docker.io/library/busybox:1", "docker.io/library/busybox:1"},
	    {"user/app", "docker.io/user/app:latest"},
	    {"localhost/app", "localhost/app:latest"},
	    {"localhost:5000/app", "localhost:5000/app:latest"},
	    {"localhost:5000/a/b:V1.2_rc-3", "localhost:5000/a/b:V1.2_rc-3"},
	    {"127.0.0.1:5000/busybox:tag", "127.0.0.1:5000/busybox:tag"},
	    {"[::1]:5000/x", "[::1]:5000/x:latest"},
	    {"quay.io/org/app", "quay.io/org/app:latest"},
	    {"Registry.Example.com/app", "Registry.Example.com/app:latest"},
	    {"busybox@sha256:" HEX_A, "docker.io/library/busybox@sha256:" HEX_A},
	    {"busybox:1.36@sha256:" HEX_A, "docker.io/library/busybox:1.36@sha256:" HEX_A},
	    {"localhost:5000/app@sha256:" HEX_A, "localhost:5000/app@sha256:" HEX_A},
	};
	static const struct {
		const char *in, *msg;
	} bad[] = {
	    {"", "empty"},
	    {"Busybox", "bad repository name"},
	    {"busybox:", "bad tag"},
	    {"busybox:-x", "bad tag"},
	    {"busybox@sha256:12", "bad digest"},
	    {"a//b", "bad repository name"},
	    {HEX_A, "image id, not a repository"},
	    {"docker-image://busybox", "is a source, not an image name"},
	    {"busy box", "bad"},
	    {"busybox\n", "bad"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct kl_error *err = NULL;
		char *out = NULL;

		if (imgstore_normalize(good[i].in, &out, &err) < 0)
			fail_msg("'%s': %s", good[i].in, err->msg);
		assert_string_equal(out, good[i].out);
		free(out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kl_error *err = NULL;
		char *out = NULL;

		assert_int_equal(imgstore_normalize(bad[i].in, &out, &err), -EINVAL);
		if (!strstr(err->msg, bad[i].msg))
			fail_msg("'%s': '%s' lacks '%s'", bad[i].in, err->msg, bad[i].msg);
		kl_error_free(err);
	}
	{
		_cleanup_free_ char *lng = xasprintf("%0250d/app", 0);
		struct kl_error *err = NULL;
		char *out = NULL;

		assert_int_equal(imgstore_normalize(lng, &out, &err), -EINVAL);
		assert_non_null(strstr(err->msg, "not be more than 255"));
		kl_error_free(err);
	}
}

static void
test_names_split_into_repository_tag_and_digest(void **state)
{
	struct imgstore_name_parts p;

	(void)state;
	imgstore_name_split("docker.io/library/busybox:1.36@sha256:" HEX_A, &p);
	assert_string_equal(p.repository, "docker.io/library/busybox");
	assert_string_equal(p.tag, "1.36");
	assert_string_equal(p.digest, "sha256:" HEX_A);
	imgstore_name_parts_done(&p);
	imgstore_name_split("[::1]:5000/x@sha256:" HEX_A, &p);
	assert_string_equal(p.repository, "[::1]:5000/x");
	assert_null(p.tag);
	assert_non_null(p.digest);
	imgstore_name_parts_done(&p);
	imgstore_name_split("localhost:5000/a/b:v1", &p);
	assert_string_equal(p.repository, "localhost:5000/a/b");
	assert_string_equal(p.tag, "v1");
	assert_null(p.digest);
	imgstore_name_parts_done(&p);
}

static void
test_tag_lookup_untag(void **state)
{
	struct fx *f = *state;
	struct digest a = put_image(f, CONFIG), b = put_image(f, "{\"os\":\"linux\"}"), got;
	struct kl_error *err = NULL;

	assert_int_equal(imgstore_lookup(f->store, "busybox", &got, &err), -ENOENT);
	assert_null(err);
	assert_int_equal(imgstore_tag(f->store, "busybox", &a, NULL), 0);
	assert_int_equal(imgstore_lookup(f->store, "docker.io/library/busybox:latest", &got, NULL),
	                 0);
	assert_true(digest_equal(&got, &a));
	assert_int_equal(imgstore_lookup(f->store, "library/busybox:latest", &got, NULL), 0);
	assert_int_equal(imgstore_lookup(f->store, "busybox:1", &got, &err), -ENOENT);
	/* a new tag replaces the old one */
	assert_int_equal(imgstore_tag(f->store, "docker.io/busybox", &b, NULL), 0);
	assert_int_equal(imgstore_lookup(f->store, "busybox", &got, NULL), 0);
	assert_true(digest_equal(&got, &b));
	/* a record not in the store cannot be named */
	got = dg(HEX_A);
	assert_int_equal(imgstore_tag(f->store, "x", &got, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "image record sha256:" HEX_A " is not in the store"));
	kl_error_freep(&err);
	/* untag */
	assert_int_equal(imgstore_untag(f->store, "busybox:latest", NULL), 0);
	assert_int_equal(imgstore_lookup(f->store, "busybox", &got, &err), -ENOENT);
	assert_null(err);
	assert_int_equal(imgstore_untag(f->store, "busybox", &err), -ENOENT);
	assert_string_equal(err->msg,
	                    "no image 'docker.io/library/busybox:latest' in kiln's image index");
	kl_error_freep(&err);
	/* a bad name is refused everywhere */
	assert_int_equal(imgstore_tag(f->store, "Bad", &a, &err), -EINVAL);
	kl_error_freep(&err);
	assert_int_equal(imgstore_lookup(f->store, "Bad", &got, &err), -EINVAL);
	kl_error_freep(&err);
}

/* The only pointer file of the index: its inode. */
static ino_t
pointer_inode(struct fx *f)
{
	_cleanup_free_ char *dir = kl_path_join(f->root, "images");
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	ino_t ino = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		assert_int_equal(ino, 0);
		assert_int_equal(fstatat(dirfd(d), de->d_name, &st, 0), 0);
		ino = st.st_ino;
	}
	closedir(d);
	assert_int_not_equal(ino, 0);
	return ino;
}

/* A rebuild of an unchanged image puts and tags what is there: nothing is written again. */
static void
test_putting_and_tagging_what_is_there_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct digest a = put_image(f, CONFIG), b = put_image(f, "{\"os\":\"linux\"}"), again;
	struct store *ro = NULL;
	struct imgstore_image im;
	ino_t ino;

	assert_int_equal(imgstore_tag(f->store, "busybox", &a, NULL), 0);
	ino = pointer_inode(f);
	assert_int_equal(imgstore_tag(f->store, "docker.io/library/busybox", &a, NULL), 0);
	assert_true(pointer_inode(f) == ino);
	/* another record: the pointer is replaced */
	assert_int_equal(imgstore_tag(f->store, "busybox", &b, NULL), 0);
	assert_true(pointer_inode(f) != ino);
	/* the same image put again into a store that may not be written: found, not written */
	assert_int_equal(
	    store_open(f->root, &(struct store_options){.flags = STORE_READ_ONLY}, &ro, NULL), 0);
	make_image(f, CONFIG, &im);
	assert_int_equal(imgstore_put(ro, &im, &again, NULL), 0);
	assert_true(digest_equal(&again, &a));
	imgstore_image_done(&im);
	make_image(f, "{\"os\":\"plan9\"}", &im);
	assert_true(imgstore_put(ro, &im, &again, NULL) < 0);
	imgstore_image_done(&im);
	store_unref(ro);
}

struct listed {
	char *names[16];
	struct digest records[16];
	size_t n;
};

static int
collect(const char *name, const struct digest *record, void *userdata)
{
	struct listed *l = userdata;

	assert_true(l->n < 16);
	l->records[l->n] = *record;
	l->names[l->n++] = xstrdup(name);
	return 0;
}

static void
listed_done(struct listed *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	l->n = 0;
}

static void
test_any_name_docker_allows_is_kept_and_listed_in_order(void **state)
{
	struct fx *f = *state;
	struct digest a = put_image(f, CONFIG);
	_cleanup_free_ char *lng = NULL, *lng_norm = NULL;
	struct listed l = {0};
	const char *names[] = {
	    "[::1]:5000/x/y:TAG_x.y-z",
	    "localhost:5000/app@sha256:" HEX_A,
	    "zz.example.com/a__b/c-d:1",
	    "busybox:1.36@sha256:" HEX_B,
	    "busybox",
	};
	const char *want[] = {
	    "Zz.example.com/app:latest", /* uppercase sorts first (strcmp) */
	    "[::1]:5000/x/y:TAG_x.y-z",         "docker.io/library/busybox:1.36@sha256:" HEX_B,
	    "docker.io/library/busybox:latest", NULL, /* the long one */
	    "localhost:5000/app@sha256:" HEX_A, "zz.example.com/a__b/c-d:1",
	};

	/* longer than a file name: 200 + 128 characters */
	lng = xasprintf("example.org/%0200d:%0128d", 0, 0);
	assert_int_equal(imgstore_normalize(lng, &lng_norm, NULL), 0);
	want[4] = lng_norm;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(imgstore_tag(f->store, names[i], &a, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, lng, &a, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "Zz.example.com/app", &a, NULL), 0);
	assert_int_equal(imgstore_foreach(f->store, collect, &l, NULL), 0);
	assert_int_equal(l.n, 7);
	for (size_t i = 0; i < l.n; i++) {
		assert_string_equal(l.names[i], want[i]);
		assert_true(digest_equal(&l.records[i], &a));
	}
	listed_done(&l);
	/* and each is found again by lookup */
	for (size_t i = 0; i < 7; i++) {
		struct digest got;

		assert_int_equal(imgstore_lookup(f->store, want[i], &got, NULL), 0);
	}
}

static int
stop_at_second(const char *name, const struct digest *record, void *userdata)
{
	int *n = userdata;

	(void)name;
	(void)record;
	return ++*n == 2 ? -ECANCELED : 0;
}

static void
test_foreach_stops_when_told_and_reports_corrupt_entries(void **state)
{
	struct fx *f = *state;
	struct digest a = put_image(f, CONFIG), got;
	struct kl_error *err = NULL;
	_cleanup_free_ char *path = NULL;
	struct listed l = {0};
	char hex[DIGEST_HEX_LEN + 1];
	struct digest h;
	int n = 0, fd;

	/* an empty index: nothing listed, no error */
	assert_int_equal(imgstore_foreach(f->store, collect, &l, NULL), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(imgstore_tag(f->store, "a", &a, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "b", &a, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "c", &a, NULL), 0);
	assert_int_equal(imgstore_foreach(f->store, stop_at_second, &n, NULL), -ECANCELED);
	assert_int_equal(n, 2);
	/* a writer's temporary file is not an entry */
	path = xasprintf("%s/images/%s.tmp.abcdef", f->root, HEX_A);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, "half", 4), 0);
	close(fd);
	assert_int_equal(imgstore_foreach(f->store, collect, &l, NULL), 0);
	assert_int_equal(l.n, 3);
	listed_done(&l);
	/* a torn entry is reported naming its file */
	digest_buffer("docker.io/library/b:latest", 26, &h);
	free(path);
	path = xasprintf("%s/images/%s", f->root, digest_to_hex(&h, hex));
	assert_int_equal(truncate(path, 20), 0);
	assert_int_equal(imgstore_foreach(f->store, collect, &l, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, path));
	assert_non_null(strstr(err->msg, "corrupt"));
	kl_error_freep(&err);
	listed_done(&l);
	assert_int_equal(imgstore_lookup(f->store, "b", &got, &err), -EBADMSG);
	kl_error_freep(&err);
	/* untagging it still works */
	assert_int_equal(imgstore_untag(f->store, "b", NULL), 0);
	assert_int_equal(imgstore_foreach(f->store, collect, &l, NULL), 0);
	assert_int_equal(l.n, 2);
	listed_done(&l);
	/* an index whose names are all gone lists nothing */
	assert_int_equal(imgstore_untag(f->store, "a", NULL), 0);
	assert_int_equal(imgstore_untag(f->store, "c", NULL), 0);
	assert_int_equal(imgstore_foreach(f->store, collect, &l, NULL), 0);
	assert_int_equal(l.n, 0);
}

static void
test_find_takes_names_ids_and_prefixes(void **state)
{
	struct fx *f = *state;
	struct digest a = put_image(f, CONFIG), b = put_image(f, "{\"os\":\"linux\"}"), got;
	struct imgstore_image ia, ib;
	char ha[DIGEST_HEX_LEN + 1], hb[DIGEST_HEX_LEN + 1], full[DIGEST_STRING_SIZE];
	struct kl_error *err = NULL;
	_cleanup_free_ char *prefix = NULL;
	char **names;
	size_t n;

	assert_int_equal(imgstore_get(f->store, &a, &ia, NULL), 0);
	assert_int_equal(imgstore_get(f->store, &b, &ib, NULL), 0);
	digest_to_hex(&ia.id, ha);
	digest_to_hex(&ib.id, hb);
	assert_int_equal(imgstore_tag(f->store, "one", &a, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "two:1", &a, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "three", &b, NULL), 0);
	assert_int_equal(imgstore_find(f->store, "two:1", &got, NULL), 0);
	assert_true(digest_equal(&got, &a));
	assert_int_equal(imgstore_find(f->store, digest_to_string(&ib.id, full), &got, NULL), 0);
	assert_true(digest_equal(&got, &b));
	assert_int_equal(imgstore_find(f->store, ha, &got, NULL), 0); /* 64 hex: no name */
	assert_true(digest_equal(&got, &a));
	prefix = xstrndup(hb, 12);
	assert_int_equal(imgstore_find(f->store, prefix, &got, NULL), 0);
	assert_true(digest_equal(&got, &b));
	assert_int_equal(imgstore_find(f->store, "nothere", &got, &err), -ENOENT);
	assert_null(err);
	assert_int_equal(imgstore_find(f->store, "abc", &got, &err), -ENOENT); /* too short */
	assert_int_equal(imgstore_names_of(f->store, &ia.id, &names, &n, NULL), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "docker.io/library/one:latest");
	assert_string_equal(names[1], "docker.io/library/two:1");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	imgstore_image_done(&ia);
	imgstore_image_done(&ib);
}

static void
test_an_id_prefix_two_images_share_is_ambiguous(void **state)
{
	struct fx *f = *state;
	struct imgstore_image ia, ib;
	struct kl_error *err = NULL;
	char ha[DIGEST_HEX_LEN + 1], hb[DIGEST_HEX_LEN + 1];
	struct digest a, b, got;
	char cfg[64];
	int i;

	/* find two configs whose ids share their first 4 hex digits */
	a = put_image(f, "{\"n\":0}");
	assert_int_equal(imgstore_get(f->store, &a, &ia, NULL), 0);
	digest_to_hex(&ia.id, ha);
	for (i = 1; i < 1 << 20; i++) {
		struct digest d;

		snprintf(cfg, sizeof(cfg), "{\"n\":%d}", i);
		digest_buffer(cfg, strlen(cfg), &d);
		if (!strncmp(digest_to_hex(&d, hb), ha, 4))
			break;
	}
	assert_true(i < 1 << 20);
	b = put_image(f, cfg);
	assert_int_equal(imgstore_get(f->store, &b, &ib, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "a", &a, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "b", &b, NULL), 0);
	ha[4] = '\0';
	assert_int_equal(imgstore_find(f->store, ha, &got, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "ambiguous"));
	kl_error_freep(&err);
	imgstore_image_done(&ia);
	imgstore_image_done(&ib);
}

/* Two writers flip one name between two records while a reader looks it up and lists the
 * index: every read sees one record or the other, whole. */
#define FLIPS 400

static void
flip(const char *root, const struct digest *rec, int n)
{
	struct store *s;

	assert_int_equal(
	    store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &s, NULL), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(imgstore_tag(s, "localhost:5000/flip:1", rec, NULL), 0);
	store_unref(s);
}

static int
count_names(const char *name, const struct digest *record, void *userdata)
{
	const struct digest *recs = userdata;

	assert_string_equal(name, "localhost:5000/flip:1");
	assert_true(digest_equal(record, &recs[0]) || digest_equal(record, &recs[1]));
	return 0;
}

static void
read_while_flipping(struct fx *f, const struct digest *recs, bool (*done)(void *), void *arg)
{
	struct kl_error *err = NULL;
	int reads = 0;

	while (!done(arg) || reads < 10) {
		struct digest got;
		int r = imgstore_lookup(f->store, "localhost:5000/flip:1", &got, &err);

		if (r < 0)
			fail_msg("lookup %d failed: %d %s", reads, r, err ? err->msg : "");
		assert_true(digest_equal(&got, &recs[0]) || digest_equal(&got, &recs[1]));
		assert_int_equal(imgstore_foreach(f->store, count_names, (void *)recs, NULL), 0);
		reads++;
	}
}

struct procs {
	pid_t pids[2];
	int left;
};

static bool
procs_done(void *arg)
{
	struct procs *p = arg;
	int status;

	for (int i = 0; i < 2; i++) {
		if (p->pids[i] > 0 && waitpid(p->pids[i], &status, WNOHANG) == p->pids[i]) {
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
			p->pids[i] = 0;
			p->left--;
		}
	}
	return p->left == 0;
}

static void
test_two_processes_tagging_never_leave_a_torn_pointer(void **state)
{
	struct fx *f = *state;
	struct digest recs[2] = {put_image(f, CONFIG), put_image(f, "{\"os\":\"linux\"}")};
	struct procs p = {.left = 2};

	assert_int_equal(imgstore_tag(f->store, "localhost:5000/flip:1", &recs[0], NULL), 0);
	for (int i = 0; i < 2; i++) {
		p.pids[i] = fork();
		assert_true(p.pids[i] >= 0);
		if (p.pids[i] == 0) {
			flip(f->root, &recs[i], FLIPS);
			_exit(0);
		}
	}
	read_while_flipping(f, recs, procs_done, &p);
}

struct flipper {
	const char *root;
	const struct digest *rec;
	pthread_t thread;
};

static void *
flip_thread(void *arg)
{
	struct flipper *fl = arg;

	flip(fl->root, fl->rec, FLIPS);
	return NULL;
}

struct threads {
	struct flipper fl[2];
	_Atomic int running;
};

static bool
threads_done(void *arg)
{
	struct threads *t = arg;

	return t->running == 0;
}

static void *
run_both(void *arg)
{
	struct threads *t = arg;

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t->fl[i].thread, NULL, flip_thread, &t->fl[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t->fl[i].thread, NULL);
	t->running = 0;
	return NULL;
}

static void
test_two_threads_tagging_never_leave_a_torn_pointer(void **state)
{
	struct fx *f = *state;
	struct digest recs[2] = {put_image(f, CONFIG), put_image(f, "{\"os\":\"linux\"}")};
	struct threads t = {.running = 1};
	_cleanup_free_ char *dir = kl_path_join(f->root, "images");
	struct dirent *de;
	pthread_t boss;
	int n = 0;
	DIR *d;

	assert_int_equal(imgstore_tag(f->store, "localhost:5000/flip:1", &recs[0], NULL), 0);
	for (int i = 0; i < 2; i++)
		t.fl[i] = (struct flipper){.root = f->root, .rec = &recs[i]};
	assert_int_equal(pthread_create(&boss, NULL, run_both, &t), 0);
	read_while_flipping(f, recs, threads_done, &t);
	pthread_join(boss, NULL);
	/* nothing is left behind but the one entry */
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	assert_int_equal(n, 1);
}

struct blobs {
	struct digest d[16];
	enum imgstore_blob_kind kind[16];
	size_t n;
};

static int
collect_blob(const struct digest *d, enum imgstore_blob_kind kind, void *userdata)
{
	struct blobs *b = userdata;

	assert_true(b->n < 16);
	b->d[b->n] = *d;
	b->kind[b->n++] = kind;
	return 0;
}

static bool
has_blob(const struct blobs *b, const struct digest *d, enum imgstore_blob_kind kind)
{
	for (size_t i = 0; i < b->n; i++)
		if (digest_equal(&b->d[i], d) && b->kind[i] == kind)
			return true;
	return false;
}

static void
test_foreach_blob_names_everything_an_image_keeps(void **state)
{
	struct fx *f = *state;
	struct imgstore_image im;
	struct blobs b = {0};
	struct digest rec, rec2, blob;
	struct kl_error *err = NULL;

	/* the first layer's blob is in the store */
	assert_int_equal(store_ingest_buffer(f->store, "compressed", 10, &blob, NULL), 0);
	make_image(f, CONFIG, &im);
	im.layers[0].blob.digest = blob;
	assert_int_equal(imgstore_put(f->store, &im, &rec, NULL), 0);
	assert_int_equal(imgstore_record_foreach_blob(f->store, &rec, collect_blob, &b, NULL), 0);
	assert_int_equal(b.n, 6);
	assert_true(has_blob(&b, &rec, IMGSTORE_BLOB_RECORD));
	assert_true(has_blob(&b, &im.id, IMGSTORE_BLOB_CONFIG));
	assert_true(has_blob(&b, &im.tree, IMGSTORE_BLOB_TREE));
	assert_true(has_blob(&b, &im.layers[0].tree, IMGSTORE_BLOB_TREE));
	assert_true(has_blob(&b, &im.layers[1].tree, IMGSTORE_BLOB_TREE));
	assert_true(has_blob(&b, &blob, IMGSTORE_BLOB_LAYER));
	/* a blob not in the store is not named */
	im.layers[0].blob.digest = dg(HEX_A);
	assert_int_equal(imgstore_put(f->store, &im, &rec2, NULL), 0);
	b.n = 0;
	assert_int_equal(imgstore_record_foreach_blob(f->store, &rec2, collect_blob, &b, NULL), 0);
	assert_int_equal(b.n, 5);
	assert_false(has_blob(&b, &im.layers[0].blob.digest, IMGSTORE_BLOB_LAYER));
	/* every named record once, names whose record is gone skipped */
	assert_int_equal(imgstore_tag(f->store, "x", &rec, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "y", &rec, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "z", &rec2, NULL), 0);
	b.n = 0;
	assert_int_equal(imgstore_foreach_blob(f->store, collect_blob, &b, NULL), 0);
	assert_int_equal(b.n, 11);
	assert_true(has_blob(&b, &rec2, IMGSTORE_BLOB_RECORD));
	{
		char hex[DIGEST_HEX_LEN + 1];
		_cleanup_free_ char *p =
		    xasprintf("%s/content/sha256/%s", f->root, digest_to_hex(&rec2, hex));

		assert_int_equal(unlink(p), 0);
	}
	b.n = 0;
	assert_int_equal(imgstore_foreach_blob(f->store, collect_blob, &b, &err), 0);
	assert_null(err);
	assert_int_equal(b.n, 6);
	imgstore_image_done(&im);
}

static void
test_created_and_size(void **state)
{
	struct fx *f = *state;
	struct imgstore_image im = {0};
	int64_t t;
	uint64_t size;
	static const struct {
		const char *cfg;
		int64_t want; /* -1: none */
	} cases[] = {
	    {"{\"created\":\"2024-01-02T03:04:05.5Z\"}", 1704164645},
	    {"{\"created\":\"2024-01-02T03:04:05Z\"}", 1704164645},
	    {"{\"created\":\"2024-01-02T05:04:05+02:00\"}", 1704164645},
	    {"{\"created\":\"1970-01-01T00:00:00Z\"}", 0},
	    {"{\"created\":\"yesterday\"}", -1},
	    {"{\"created\":5}", -1},
	    {"{}", -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		im.config = (char *)cases[i].cfg;
		im.config_len = strlen(cases[i].cfg);
		if (cases[i].want < 0) {
			assert_int_equal(imgstore_image_created(&im, &t), -ENOENT);
		} else {
			assert_int_equal(imgstore_image_created(&im, &t), 0);
			assert_int_equal(t, cases[i].want);
		}
	}
	im.tree = tree_with(f, "file", "twelve bytes");
	assert_int_equal(imgstore_image_size(f->store, &im, &size, NULL), 0);
	assert_int_equal(size, 12);
}

static void
test_pull_policies_parse(void **state)
{
	enum imgsrc_pull_policy p;
	struct kl_error *err = NULL;

	(void)state;
	assert_int_equal(imgsrc_pull_policy_parse("always", &p, NULL), 0);
	assert_int_equal(p, IMGSRC_PULL_ALWAYS);
	assert_int_equal(imgsrc_pull_policy_parse("missing", &p, NULL), 0);
	assert_int_equal(p, IMGSRC_PULL_MISSING);
	assert_int_equal(imgsrc_pull_policy_parse("never", &p, NULL), 0);
	assert_int_equal(p, IMGSRC_PULL_NEVER);
	assert_int_equal(imgsrc_pull_policy_parse("newer", &p, NULL), 0);
	assert_int_equal(p, IMGSRC_PULL_NEWER);
	assert_int_equal(imgsrc_pull_policy_parse("true", &p, NULL), 0);
	assert_int_equal(p, IMGSRC_PULL_ALWAYS);
	assert_int_equal(imgsrc_pull_policy_parse("ifmissing", &p, NULL), 0);
	assert_int_equal(p, IMGSRC_PULL_MISSING);
	assert_int_equal(imgsrc_pull_policy_parse("sometimes", &p, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "'sometimes' is none of always, missing, never, newer"));
	kl_error_free(err);
	assert_string_equal(imgsrc_pull_policy_name(IMGSRC_PULL_NEVER), "never");
	assert_string_equal(imgsrc_pull_policy_name(IMGSRC_PULL_MISSING), "missing");
}

/* 127.0.0.1 port 1 refuses connections: any pull fails at once. */
#define NOWHERE "127.0.0.1:1/app:1"

static void
test_a_name_in_the_index_resolves_with_no_network(void **state)
{
	struct fx *f = *state;
	struct digest rec = put_image(f, CONFIG), got_rec;
	struct imgstore_image im;
	struct kl_error *err = NULL;
	const struct source_options so = {.registry_timeout_ms = 2000};

	assert_int_equal(imgstore_tag(f->store, NOWHERE, &rec, NULL), 0);
	for (int p = IMGSRC_PULL_MISSING; p < _IMGSRC_PULL_MAX; p++) {
		if (p == IMGSRC_PULL_ALWAYS)
			continue;
		assert_int_equal(imgsrc_resolve_named(f->store, NOWHERE, (enum imgsrc_pull_policy)p,
		                                      &so, &im, &got_rec, NULL),
		                 0);
		assert_true(digest_equal(&got_rec, &rec));
		assert_string_equal(im.config, CONFIG);
		imgstore_image_done(&im);
	}
	/* "always" goes to the registry, which is not there */
	assert_true(
	    imgsrc_resolve_named(f->store, NOWHERE, IMGSRC_PULL_ALWAYS, &so, &im, NULL, &err) < 0);
	assert_non_null(strstr(err->msg, "docker-image://127.0.0.1:1/app:1"));
	kl_error_freep(&err);
	/* the source dispatch takes a name that is no path as an image name */
	assert_int_equal(source_classify(NOWHERE), SOURCE_IMAGE_NAME);
	assert_int_equal(source_classify("busybox"), SOURCE_IMAGE_NAME);
	assert_int_equal(source_classify("busybox@sha256:" HEX_A), SOURCE_IMAGE_NAME);
	assert_int_equal(source_classify("git@example.com:org/repo"), SOURCE_GIT);
	assert_int_equal(source_classify(f->dir), SOURCE_CONTEXT);
	assert_int_equal(source_classify("docker-image://busybox"), SOURCE_IMAGE);
	{
		struct source_options o = {.pull_policy = IMGSRC_PULL_NEVER};
		struct digest tree;

		assert_int_equal(source_resolve(f->store, NOWHERE, &o, &tree, NULL), 0);
		assert_int_equal(imgstore_get(f->store, &rec, &im, NULL), 0);
		assert_true(digest_equal(&tree, &im.tree));
		imgstore_image_done(&im);
	}
}

static void
test_never_fails_clearly_for_a_missing_name_or_platform(void **state)
{
	struct fx *f = *state;
	struct digest rec = put_image(f, CONFIG);
	struct imgstore_image im;
	struct kl_error *err = NULL;
	const struct source_options arm = {.platform = "linux/arm64"};

	assert_int_equal(
	    imgsrc_resolve_named(f->store, "busybox", IMGSRC_PULL_NEVER, NULL, &im, NULL, &err),
	    -ENOENT);
	assert_string_equal(err->msg, "image 'docker.io/library/busybox:latest' is not in kiln's "
	                              "image index, and the pull policy is 'never'");
	kl_error_freep(&err);
	assert_int_equal(imgstore_tag(f->store, "busybox", &rec, NULL), 0);
	assert_int_equal(
	    imgsrc_resolve_named(f->store, "busybox", IMGSRC_PULL_NEVER, &arm, &im, NULL, &err),
	    -ENOENT);
	assert_non_null(strstr(err->msg, "is for linux/amd64, not linux/arm64"));
	kl_error_freep(&err);
	assert_int_equal(
	    imgsrc_resolve_named(f->store, "Bad", IMGSRC_PULL_NEVER, NULL, &im, NULL, &err),
	    -EINVAL);
	kl_error_freep(&err);
}

static void
test_a_layout_is_named_as_podman_names_it(void **state)
{
	static const struct {
		const char *spec, *name;
	} cases[] = {
	    {"oci-layout:///nowhere/bb:v1", "localhost/bb:v1"},
	    {"oci-layout:///nowhere/bb/", "localhost/bb:latest"},
	    {"oci-layout://bb-dir", "localhost/bb-dir:latest"},
	    {"oci-layout:///nowhere/bb@sha256:" HEX_A, "localhost/bb@sha256:" HEX_A},
	    {"oci-layout:///nowhere/BB:v1", NULL},
	    {"oci-layout:///nowhere/bb:-bad", NULL},
	    {"docker-image://busybox", NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *name = NULL;
		int r = imgsrc_layout_name(cases[i].spec, &name);

		if (!cases[i].name) {
			assert_int_equal(r, -EINVAL);
			continue;
		}
		if (r < 0)
			fail_msg("'%s': %d", cases[i].spec, r);
		assert_string_equal(name, cases[i].name);
		free(name);
	}
}

static void
test_layer_annotations_are_copied_from_the_manifest(void **state)
{
	static const char manifest[] =
	    "{\"schemaVersion\":2,\"layers\":["
	    "{\"digest\":\"sha256:" HEX_A "\",\"size\":1,\"annotations\":{"
	    "\"z\":\"last\",\"" OCI_ANN_ZSTD_CHUNKED_SUM "\":\"sha256:" HEX_B "\","
	    "\"a\":\"first\",\"n\":5}},"
	    "{\"digest\":\"sha256:" HEX_A "\",\"size\":1}]}";
	struct imgstore_layer l[2] = {0};

	(void)state;
	imgsrc_layer_annotations(manifest, strlen(manifest), l, 2);
	assert_int_equal(l[0].n_annotations, 3); /* the number is left out */
	assert_string_equal(l[0].annotations[0].key, "a");
	assert_string_equal(l[0].annotations[1].key, OCI_ANN_ZSTD_CHUNKED_SUM);
	assert_string_equal(l[0].annotations[2].value, "last");
	assert_string_equal(l[0].blob.chunked_checksum, "sha256:" HEX_B);
	assert_int_equal(l[1].n_annotations, 0);
	imgstore_layer_done(&l[0]);
	imgstore_layer_done(&l[1]);
	/* a manifest of another shape changes nothing */
	imgsrc_layer_annotations(manifest, strlen(manifest), l, 3);
	assert_int_equal(l[0].n_annotations, 0);
}

static void
test_inspect_shows_the_config_names_and_layer_trees(void **state)
{
	struct fx *f = *state;
	struct digest rec = put_image(f, CONFIG);
	struct imgstore_image im;
	_cleanup_free_ char *text = NULL, *list = NULL;
	char tid[DIGEST_STRING_SIZE], hex[DIGEST_HEX_LEN + 1];
	json_auto_t *j = NULL, *k = NULL;
	json_t *o;
	const char *names[] = {"docker.io/library/busybox:latest"};
	const struct imgstore_listed listed = {.record = rec, .names = names, .n_names = 1};

	assert_int_equal(imgstore_get(f->store, &rec, &im, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "busybox", &rec, NULL), 0);
	assert_int_equal(imgstore_tag(f->store, "localhost:5000/bb@sha256:" HEX_A, &rec, NULL), 0);
	assert_int_equal(imgstore_inspect_json(f->store, &rec, 1, &text, NULL), 0);
	j = json_loads(text, 0, NULL);
	assert_true(json_is_array(j) && json_array_size(j) == 1);
	o = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(o, "Id")),
	                    digest_to_hex(&im.id, hex));
	assert_string_equal(json_string_value(json_object_get(o, "architecture")), "amd64");
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(json_object_get(o, "config"), "Env"), 0)),
	                    "PATH=/bin");
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(o, "Layers"), 1), "Tree")),
	                    digest_to_string(&im.layers[1].tree, tid));
	assert_string_equal(json_string_value(json_object_get(o, "Tree")),
	                    digest_to_string(&im.tree, tid));
	assert_int_equal(json_array_size(json_object_get(o, "Names")), 2);
	assert_int_equal(json_array_size(json_object_get(o, "RepoTags")), 1);
	/* the digest name, and each repository at the manifest's digest */
	assert_int_equal(json_array_size(json_object_get(o, "RepoDigests")), 3);
	assert_int_equal(json_integer_value(json_object_get(o, "Size")), strlen(CONFIG));
	assert_int_equal(imgstore_images_json(f->store, &listed, 1, &list, NULL), 0);
	k = json_loads(list, 0, NULL);
	o = json_array_get(k, 0);
	assert_int_equal(json_integer_value(json_object_get(o, "Created")), 1704164645);
	assert_string_equal(json_string_value(json_object_get(o, "CreatedAt")),
	                    "2024-01-02T03:04:05.5Z");
	assert_int_equal(json_array_size(json_object_get(o, "Names")), 1);
	assert_true(json_is_null(json_object_get(o, "Labels")));
	imgstore_image_done(&im);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_then_get_round_trips_every_field, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_putting_and_tagging_what_is_there_writes_nothing,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_the_same_image_makes_the_same_record, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_put_refuses_trees_not_in_the_store_and_bad_configs,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_says_what_is_wrong_with_a_record, setup,
	                                    teardown),
	    cmocka_unit_test(test_normalize_as_docker_does),
	    cmocka_unit_test(test_names_split_into_repository_tag_and_digest),
	    cmocka_unit_test_setup_teardown(test_tag_lookup_untag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_any_name_docker_allows_is_kept_and_listed_in_order,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_foreach_stops_when_told_and_reports_corrupt_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_find_takes_names_ids_and_prefixes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_an_id_prefix_two_images_share_is_ambiguous, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_two_processes_tagging_never_leave_a_torn_pointer,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_threads_tagging_never_leave_a_torn_pointer,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreach_blob_names_everything_an_image_keeps,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_created_and_size, setup, teardown),
	    cmocka_unit_test(test_pull_policies_parse),
	    cmocka_unit_test_setup_teardown(test_a_name_in_the_index_resolves_with_no_network,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_never_fails_clearly_for_a_missing_name_or_platform,
	                                    setup, teardown),
	    cmocka_unit_test(test_a_layout_is_named_as_podman_names_it),
	    cmocka_unit_test(test_layer_annotations_are_copied_from_the_manifest),
	    cmocka_unit_test_setup_teardown(test_inspect_shows_the_config_names_and_layer_trees,
	                                    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
