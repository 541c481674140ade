// SPDX-License-Identifier: Apache-2.0
/* OCI layouts (tar or directory) and Docker archives of an exported image, with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporters/export-internal.h"
#include "fs/store.h"
#include "oci/image.h"
#include "util/cleanup.h"
#include "util/dl-archive.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

#define ANN_IMAGE_NAME "io.containerd.image.name"
#define COPY_CHUNK (1u << 20)
#define LAYOUT_VERSION "{\"imageLayoutVersion\":\"1.0.0\"}"

static int
error_from_archive(struct archive *a, struct kl_error **err, const char *what)
{
	int e = kl_archive()->errno_code(a);

	return kl_error_setf(err, e > 0 ? e : EIO, "writing the archive: %s: %s", what,
	                     kl_archive()->error_string(a) ? kl_archive()->error_string(a)
	                                                   : "failed");
}

static const struct export_blob *
root_blob(const struct export_ctx *c)
{
	return &c->img.blobs[c->img.n_blobs - 1];
}

/* The tag of a normalized name for org.opencontainers.image.ref.name, as containerd writes it:
 * the tag when there is one, else the whole name. */
static const char *
ref_name(const char *name)
{
	const char *slash = strrchr(name, '/'), *colon = strrchr(name, ':');

	if (strchr(name, '@'))
		return name;
	return colon && (!slash || colon > slash) ? colon + 1 : name;
}

/* The layout's index.json entry (one per name; one without a name when there is none). */
static json_t *
index_entry(const struct export_ctx *c, const char *name)
{
	const struct export_blob *root = root_blob(c);
	char id[DIGEST_STRING_SIZE];
	json_t *d = json_pack("{s:s, s:s, s:I}", "mediaType", root->media_type, "digest",
	                      digest_to_string(&root->digest, id), "size", (json_int_t)root->size);
	json_t *a = json_object();

	if (name) {
		json_object_set_new(a, ANN_IMAGE_NAME, json_string(name));
		json_object_set_new(a, OCI_ANN_REF_NAME, json_string(ref_name(name)));
	}
	for (size_t i = 0; i < c->o->n_annotations; i++)
		if (c->o->annotations[i].target == EXPORT_ANN_INDEX_DESCRIPTOR)
			json_object_set_new(a, c->o->annotations[i].key,
			                    json_string(c->o->annotations[i].value));
	if (json_object_size(a))
		json_object_set_new(d, "annotations", a);
	else
		json_decref(a);
	if (!c->img.has_index) {
		json_t *p = json_pack("{s:s, s:s}", "architecture", c->img.arch, "os", c->img.os);

		if (c->img.variant)
			json_object_set_new(p, "variant", json_string(c->img.variant));
		json_object_set_new(d, "platform", p);
	}
	return d;
}

static json_t *
layout_index(const struct export_ctx *c, json_t *manifests)
{
	if (c->n_names == 0)
		json_array_append_new(manifests, index_entry(c, NULL));
	for (size_t i = 0; i < c->n_names; i++)
		json_array_append_new(manifests, index_entry(c, c->names[i]));
	return json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", OCI_MT_INDEX,
	                 "manifests", manifests);
}

/* docker load's manifest.json: the config, the layers in order and the tags. */
static json_t *
docker_manifest(const struct export_ctx *c)
{
	char hex[DIGEST_HEX_LEN + 1];
	json_t *layers = json_array(), *tags = json_array();

	for (size_t i = 0; i < c->img.n_blobs; i++)
		if (c->img.blobs[i].kind == EXPORT_BLOB_LAYER)
			json_array_append_new(
			    layers, json_sprintf("blobs/sha256/%s",
			                         digest_to_hex(&c->img.blobs[i].digest, hex)));
	for (size_t i = 0; i < c->n_names; i++) {
		_cleanup_free_ char *tag = NULL;

		if (strchr(c->names[i], '@'))
			continue; /* RepoTags hold tags only */
		tag = export_familiar_name(c->names[i]);
		json_array_append_new(tags, json_string(tag));
	}
	return json_pack("[{s:s+, s:o, s:o}]", "Config", "blobs/sha256/",
	                 digest_to_hex(&c->img.blobs[c->img.config].digest, hex), "RepoTags", tags,
	                 "Layers", layers);
}

static int
cmp_blobs(const void *a, const void *b)
{
	const struct export_blob *const *x = a, *const *y = b;

	return memcmp((*x)->digest.bytes, (*y)->digest.bytes, DIGEST_SIZE);
}

/* The image's distinct blobs sorted by digest; caller frees the array. */
static const struct export_blob **
sorted_blobs(const struct export_ctx *c, size_t *ret_n)
{
	const struct export_blob **v = xcalloc(c->img.n_blobs + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < c->img.n_blobs; i++)
		v[n++] = &c->img.blobs[i];
	qsort(v, n, sizeof(*v), cmp_blobs);
	for (size_t i = 1, j = 1; i <= n; i++) {
		if (i == n) {
			n = j;
			break;
		}
		if (digest_equal(&v[i]->digest, &v[j - 1]->digest))
			continue;
		v[j++] = v[i];
	}
	*ret_n = n;
	return v;
}

struct tar {
	struct archive *a;
	struct archive_entry *e;
	int64_t mtime;
};

static int
tar_header(struct tar *t, const char *path, bool dir, uint64_t size, struct kl_error **err)
{
	kl_archive()->entry_clear(t->e);
	kl_archive()->entry_set_pathname(t->e, path);
	kl_archive()->entry_set_filetype(t->e, dir ? AE_IFDIR : AE_IFREG);
	kl_archive()->entry_set_perm(t->e, dir ? 0755 : 0644);
	kl_archive()->entry_set_size(t->e, dir ? 0 : (la_int64_t)size);
	kl_archive()->entry_set_mtime(t->e, t->mtime, 0);
	kl_archive()->entry_set_uid(t->e, 0);
	kl_archive()->entry_set_gid(t->e, 0);
	if (kl_archive()->write_header(t->a, t->e) != ARCHIVE_OK)
		return error_from_archive(t->a, err, path);
	return 0;
}

static int
tar_data(struct tar *t, const char *path, const void *buf, size_t n, struct kl_error **err)
{
	const char *p = buf;

	while (n) {
		la_ssize_t w = kl_archive()->write_data(t->a, p, n);

		if (w <= 0)
			return error_from_archive(t->a, err, path);
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
tar_text(struct tar *t, const char *path, const char *text, struct kl_error **err)
{
	int r = tar_header(t, path, false, strlen(text), err);

	return r < 0 ? r : tar_data(t, path, text, strlen(text), err);
}

/* Copies size bytes of fd into the current entry; the source must have exactly that many. */
static int
tar_copy(struct tar *t, const char *path, int fd, uint64_t size, struct kl_error **err)
{
	_cleanup_free_ char *buf = xmalloc(COPY_CHUNK);
	uint64_t left = size;
	ssize_t n;
	int r;

	while (left) {
		n = kl_io_read_full(fd, buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
		if (n < 0)
			return kl_error_set(err, (int)-n, "reading %s", path);
		if (n == 0)
			return kl_error_setf(
			    err, EIO, "%s: blob shorter than its %" PRIu64 " bytes", path, size);
		r = tar_data(t, path, buf, (size_t)n, err);
		if (r < 0)
			return r;
		left -= (uint64_t)n;
	}
	return 0;
}

static int
tar_blobs(struct export_ctx *c, struct tar *t, struct kl_error **err)
{
	_cleanup_free_ const struct export_blob **v = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	size_t n;
	int r;

	r = tar_header(t, "blobs/", true, 0, err);
	if (r >= 0)
		r = tar_header(t, "blobs/sha256/", true, 0, err);
	v = sorted_blobs(c, &n);
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *path =
		    xasprintf("blobs/sha256/%s", digest_to_hex(&v[i]->digest, hex));
		_cleanup_close_ int fd = -1;

		r = tar_header(t, path, false, v[i]->size, err);
		if (r < 0)
			break;
		if (v[i]->data) {
			r = tar_data(t, path, v[i]->data, v[i]->size, err);
			continue;
		}
		fd = export_blob_open(c, v[i], err);
		r = fd < 0 ? fd : tar_copy(t, path, fd, v[i]->size, err);
	}
	return r;
}

static char *
dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (!s)
		abort();
	return s;
}

int
export_archive_write(struct export_ctx *c, enum export_archive_kind kind, int fd,
                     struct kl_error **err)
{
	_cleanup_free_ char *index = NULL, *manifest = NULL;
	struct tar t = {.mtime = c->o->has_epoch ? c->o->epoch : 0};
	int r;

	r = kl_archive_load(err);
	if (r < 0)
		return r;
	t.a = kl_archive()->write_new();
	t.e = kl_archive()->entry_new();
	if (!t.a || !t.e)
		abort();
	/* ustar unless a name or size needs pax: what every tar reader knows */
	if (kl_archive()->write_set_format_pax_restricted(t.a) != ARCHIVE_OK ||
	    kl_archive()->write_set_bytes_in_last_block(t.a, 1) != ARCHIVE_OK ||
	    kl_archive()->write_open_fd(t.a, fd) != ARCHIVE_OK) {
		r = error_from_archive(t.a, err, "opening");
		goto out;
	}
	r = tar_blobs(c, &t, err);
	if (r >= 0)
		r = tar_text(&t, "oci-layout", LAYOUT_VERSION, err);
	index = dump(layout_index(c, json_array()));
	if (r >= 0)
		r = tar_text(&t, "index.json", index, err);
	if (r >= 0 && kind == EXPORT_ARCHIVE_DOCKER) {
		manifest = dump(docker_manifest(c));
		r = tar_text(&t, "manifest.json", manifest, err);
	}
	if (r >= 0 && kl_archive()->write_close(t.a) != ARCHIVE_OK)
		r = error_from_archive(t.a, err, "closing");
out:
	kl_archive()->entry_free(t.e);
	kl_archive()->write_free(t.a);
	return r;
}

int
export_archive_tmpfile(struct export_ctx *c, enum export_archive_kind kind, struct kl_error **err)
{
	_cleanup_free_ char *dir = kl_path_join(store_root(c->s), "ingest");
	_cleanup_close_ int fd = -1;
	int r;

	(void)kl_path_mkdir_p(dir, 0700);
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return kl_error_set(err, errno, "creating a temporary file in '%s'", dir);
	r = export_archive_write(c, kind, fd, err);
	if (r < 0)
		return r;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return kl_error_set(err, errno, "rewinding the archive");
	return TAKE_FD(fd);
}

/* Writes a new file at dir/name atomically (a temporary name, then rename). */
static int
write_file_atomic(int dir_fd, const char *dir, const char *name, const char *text,
                  struct kl_error **err)
{
	_cleanup_free_ char *tmp = xasprintf(".%s.tmp.%d", name, (int)getpid());
	_cleanup_close_ int fd =
	    openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r;

	if (fd < 0)
		return kl_error_set(err, errno, "creating '%s/%s'", dir, tmp);
	r = kl_io_write_all(fd, text, strlen(text));
	if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlinkat(dir_fd, tmp, 0);
		return kl_error_set(err, -r, "writing '%s/%s'", dir, name);
	}
	return 0;
}

static int
copy_fd(int in, int out, uint64_t size, const char *path, struct kl_error **err)
{
	_cleanup_free_ char *buf = NULL;
	uint64_t left = size;
	ssize_t n;
	int r;

	while (left) {
		n = copy_file_range(in, NULL, out, NULL, left, 0);
		if (n < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
			break;
		if (n < 0)
			return kl_error_set(err, errno, "writing '%s'", path);
		if (n == 0)
			return kl_error_setf(err, EIO, "'%s': source blob is short", path);
		left -= (uint64_t)n;
	}
	if (left)
		buf = xmalloc(COPY_CHUNK);
	while (left) {
		n = kl_io_read_full(in, buf, left < COPY_CHUNK ? (size_t)left : COPY_CHUNK);
		if (n <= 0)
			return kl_error_set(err, n < 0 ? (int)-n : EIO, "copying into '%s'", path);
		r = kl_io_write_all(out, buf, (size_t)n);
		if (r < 0)
			return kl_error_set(err, -r, "writing '%s'", path);
		left -= (uint64_t)n;
	}
	return 0;
}

/* Writes blob b as dir/blobs/sha256/<hex>, unless the layout has it already. */
static int
layout_blob(struct export_ctx *c, int blobs_fd, const char *dir, const struct export_blob *b,
            struct kl_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	_cleanup_free_ char *tmp = NULL, *path = NULL;
	_cleanup_close_ int in = -1, out = -1;
	struct stat st;
	int r;

	digest_to_hex(&b->digest, hex);
	if (fstatat(blobs_fd, hex, &st, 0) == 0 && (uint64_t)st.st_size == b->size)
		return 0;
	path = xasprintf("%s/blobs/sha256/%s", dir, hex);
	tmp = xasprintf(".%s.tmp.%d", hex, (int)getpid());
	out = openat(blobs_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return kl_error_set(err, errno, "creating a blob in '%s/blobs/sha256'", dir);
	if (b->data) {
		r = kl_io_write_all(out, b->data, b->size);
		if (r < 0)
			r = kl_error_set(err, -r, "writing '%s'", path);
	} else {
		in = export_blob_open(c, b, err);
		r = in < 0 ? in : copy_fd(in, out, b->size, path, err);
	}
	if (r >= 0 && renameat(blobs_fd, tmp, blobs_fd, hex) < 0)
		r = kl_error_set(err, errno, "renaming into '%s'", path);
	if (r < 0)
		(void)unlinkat(blobs_fd, tmp, 0);
	return r;
}

/* Entries of an existing index.json that name none of ours are kept. */
static json_t *
kept_entries(const struct export_ctx *c, int dir_fd, const char *dir, struct kl_error **err)
{
	_cleanup_close_ int fd = openat(dir_fd, "index.json", O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	json_t *idx, *m, *out = json_array(), *e;
	size_t len, i;

	if (fd < 0)
		return out;
	if (kl_io_read_all(fd, OCI_MAX_MANIFEST_SIZE, &buf, &len) < 0 ||
	    !(idx = json_loadb(buf, len, 0, NULL))) {
		json_decref(out);
		kl_error_setf(err, EBADMSG, "'%s/index.json' exists and is not a JSON index", dir);
		return NULL;
	}
	m = json_object_get(idx, "manifests");
	json_array_foreach(m, i, e)
	{
		const char *name = json_string_value(
		    json_object_get(json_object_get(e, "annotations"), ANN_IMAGE_NAME));
		bool ours = false;

		for (size_t k = 0; name && k < c->n_names; k++)
			ours = ours || !strcmp(name, c->names[k]);
		if (!ours)
			json_array_append(out, e);
	}
	json_decref(idx);
	return out;
}

int
export_layout_write(struct export_ctx *c, const char *dir, struct kl_error **err)
{
	_cleanup_close_ int dir_fd = -1, blobs_fd = -1;
	_cleanup_free_ char *blobs = kl_path_join(dir, "blobs/sha256");
	_cleanup_free_ char *index = NULL;
	json_t *kept;
	int r;

	r = kl_path_mkdir_p(blobs, 0755);
	if (r < 0)
		return kl_error_set(err, -r, "creating '%s'", blobs);
	dir_fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	blobs_fd = open(blobs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dir_fd < 0 || blobs_fd < 0)
		return kl_error_set(err, errno, "opening '%s'", dir);
	for (size_t i = 0; i < c->img.n_blobs; i++) {
		r = layout_blob(c, blobs_fd, dir, &c->img.blobs[i], err);
		if (r < 0)
			return r;
	}
	r = write_file_atomic(dir_fd, dir, "oci-layout", LAYOUT_VERSION, err);
	if (r < 0)
		return r;
	kept = kept_entries(c, dir_fd, dir, err);
	if (!kept)
		return -EBADMSG;
	index = dump(layout_index(c, kept));
	return write_file_atomic(dir_fd, dir, "index.json", index, err);
}
