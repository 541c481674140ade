// SPDX-License-Identifier: Apache-2.0
/* --output specs (image ones parsed by the exporters), and the target's filesystem written as a
 * directory or a tar. */
#include "builder/build-output.h"

#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree-import.h"
#include "fs/tree.h"
#include "fs/uring.h"
#include "util/cleanup.h"
#include "util/csv.h"
#include "util/dl-archive.h"
#include "util/error.h"
#include "util/xalloc.h"

#define FETCH_BATCH 256u

struct build_output *
build_output_free(struct build_output *o)
{
	if (!o)
		return NULL;
	if (o->type == BUILD_OUTPUT_IMAGE)
		export_options_done(&o->image);
	free(o->dest);
	free(o);
	return NULL;
}

static void
freep(struct build_output **o)
{
	build_output_free(*o);
}

bool
build_output_to_stdout(const struct build_output *o)
{
	const char *dest = o->type == BUILD_OUTPUT_IMAGE ? o->image.dest : o->dest;

	return dest && !strcmp(dest, "-");
}

/* *ret: the value of spec's (last) type= field, or NULL when it has none. */
static int
spec_type(const char *spec, char **ret, struct kl_error **err)
{
	const char *p = spec;

	*ret = NULL;
	while (*p) {
		char *f = NULL;

		if (kl_csv_next(&p, &f) < 0) {
			free(*ret);
			*ret = NULL; /* the caller's to free no more */
			return kl_error_setf(err, EINVAL, "output '%s': unterminated quote", spec);
		}
		if (!strncmp(f, "type=", 5)) {
			free(*ret);
			*ret = xstrdup(f + 5);
		}
		free(f);
	}
	return 0;
}

/* A field of a local or tar output: only dest (buildctl: output) is one. */
static int
set_file_field(struct build_output *o, const char *key, const char *value, struct kl_error **err)
{
	const char *type = o->type == BUILD_OUTPUT_TAR ? "tar" : "local";

	if (strcmp(key, "dest") && strcmp(key, "output"))
		return kl_error_setf(err, EINVAL, "output type=%s: unknown field '%s'", type, key);
	if (o->dest)
		return kl_error_setf(err, EINVAL, "output type=%s: dest given twice", type);
	o->dest = xstrdup(value);
	return 0;
}

static int
check_file(const struct build_output *o, struct kl_error **err)
{
	if (!o->dest || !*o->dest)
		return kl_error_setf(err, EINVAL, "output type=%s needs dest=%s",
		                     o->type == BUILD_OUTPUT_TAR ? "tar" : "local",
		                     o->type == BUILD_OUTPUT_TAR ? "FILE or dest=-" : "DIR");
	return 0;
}

static int
file_type(const char *type, enum build_output_type *ret)
{
	if (!strcmp(type, "local"))
		*ret = BUILD_OUTPUT_LOCAL;
	else if (!strcmp(type, "tar"))
		*ret = BUILD_OUTPUT_TAR;
	else
		return -ENOENT;
	return 0;
}

int
build_output_parse(const char *spec, struct build_output **ret, struct kl_error **err)
{
	_cleanup_(freep) struct build_output *o = xcalloc(1, sizeof(*o));
	_cleanup_free_ char *type = NULL;
	const char *p = spec;
	int r;

	if (!strchr(spec, '=')) {
		/* docker build -o DIR, -o - */
		o->type = strcmp(spec, "-") ? BUILD_OUTPUT_LOCAL : BUILD_OUTPUT_TAR;
		o->dest = xstrdup(spec);
		*ret = TAKE_PTR(o);
		return 0;
	}
	r = spec_type(spec, &type, err);
	if (r < 0)
		return r;
	if (!type)
		return kl_error_setf(err, EINVAL, "output '%s': no type= field", spec);
	if (file_type(type, &o->type) < 0) {
		r = export_options_parse(spec, &o->image, err);
		if (r < 0)
			return r;
		o->type = BUILD_OUTPUT_IMAGE;
		r = export_options_check(&o->image, err);
		if (r < 0)
			return r;
		*ret = TAKE_PTR(o);
		return 0;
	}
	while (*p) {
		_cleanup_free_ char *f = NULL;
		char *eq;

		(void)kl_csv_next(&p, &f); /* quotes were checked above */
		eq = strchr(f, '=');
		if (!*f || !strncmp(f, "type=", 5))
			continue;
		if (!eq)
			return kl_error_setf(err, EINVAL, "output field '%s' is not KEY=VALUE", f);
		*eq = '\0';
		r = set_file_field(o, f, eq + 1, err);
		if (r < 0)
			return r;
	}
	r = check_file(o, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}

int
build_output_from_exporter(const char *type, char *const *opts, size_t n, struct build_output **ret,
                           struct kl_error **err)
{
	_cleanup_(freep) struct build_output *o = xcalloc(1, sizeof(*o));
	bool image = file_type(type, &o->type) < 0;
	int r = 0;

	if (image) {
		enum export_type t;

		r = export_type_parse(type, &t, err);
		if (r < 0)
			return r;
		o->type = BUILD_OUTPUT_IMAGE;
		export_options_init(&o->image, t);
		r = export_options_set(&o->image, "type", type, err); /* registry: push */
	}
	for (size_t i = 0; r >= 0 && i < n; i++) {
		_cleanup_free_ char *kv = xstrdup(opts[i]);
		char *eq = strchr(kv, '=');

		if (!eq)
			return kl_error_setf(err, EINVAL, "--exporter-opt '%s' is not KEY=VALUE",
			                     kv);
		*eq = '\0';
		r = image ? export_options_set(&o->image, kv, eq + 1, err)
		          : set_file_field(o, kv, eq + 1, err);
	}
	if (r >= 0)
		r = image ? export_options_check(&o->image, err) : check_file(o, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}

int
build_output_write(struct store *s, struct provider_set *ps, const struct build_output *o,
                   const struct digest *tree, struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	int fd, r;

	assert(o->type != BUILD_OUTPUT_IMAGE);
	r = tree_load(s, tree, &t, err);
	if (r < 0)
		return r;
	if (o->type == BUILD_OUTPUT_LOCAL)
		return build_output_local(s, ps, t, o->dest, err);
	fd = strcmp(o->dest, "-") ? open(o->dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
	                          : STDOUT_FILENO;
	if (fd < 0)
		return kl_error_set(err, errno, "creating the output '%s'", o->dest);
	r = build_output_tar(s, ps, t, fd, err);
	if (fd != STDOUT_FILENO && close(fd) < 0 && r >= 0)
		r = kl_error_set(err, errno, "writing the output '%s'", o->dest);
	if (r < 0 && fd != STDOUT_FILENO)
		(void)unlink(o->dest);
	return r;
}

static void
release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

/* Every regular file's content in the store; the tree with digests where some lacked one. */
static int
fetch_all(struct store *s, struct provider_set *ps, const struct tree *t, struct tree **ret,
          struct kl_error **err)
{
	_cleanup_(uring_freep) struct uring *u = NULL;
	_cleanup_free_ struct provider_request *reqs = xcalloc(FETCH_BATCH, sizeof(*reqs));
	_cleanup_free_ struct digest *digests = xcalloc(FETCH_BATCH, sizeof(*digests));
	_cleanup_free_ uint32_t *which = xcalloc(FETCH_BATCH, sizeof(*which));
	_cleanup_free_ struct digest *found = NULL;
	_cleanup_free_ bool *has = NULL;
	_cleanup_(tree_builder_freep) struct tree_builder *b = NULL;
	int results[FETCH_BATCH];
	uint32_t n = tree_count(t);
	bool rebuild = false;
	size_t k = 0;
	int r;

	r = uring_new(64, &u, err);
	if (r < 0)
		return r;
	found = xcalloc(n + 1, sizeof(*found));
	has = xcalloc(n + 1, sizeof(*has));
	for (uint32_t i = 0; i <= n; i++) {
		struct tree_entry e;

		if (i < n) {
			tree_entry_at(t, i, &e);
			if (e.type != TREE_REG || e.size == 0)
				continue;
			if ((e.flags & TREE_ENTRY_HAS_DIGEST) && store_has_blob(s, &e.digest) == 1)
				continue;
			if (!(e.flags & TREE_ENTRY_HAS_DIGEST))
				rebuild = true;
			reqs[k] = (struct provider_request){
			    .path = e.path,
			    .locator = e.locator,
			    .locator_len = e.locator_len,
			    .size = e.size,
			};
			if (e.flags & TREE_ENTRY_HAS_DIGEST) {
				found[i] = e.digest;
				reqs[k].digest = &found[i];
			}
			which[k++] = i;
		}
		if (k && (k == FETCH_BATCH || i == n)) {
			r = provider_set_fetch_batch(ps, u, reqs, k, results, digests, err);
			if (r < 0)
				return r;
			for (size_t j = 0; j < k; j++) {
				found[which[j]] = digests[j];
				has[which[j]] = true;
			}
			k = 0;
		}
	}
	if (!rebuild) {
		*ret = tree_ref((struct tree *)t);
		return 0;
	}
	b = tree_builder_new();
	for (uint32_t i = 0; i < n; i++) {
		struct tree_xattr xs[64];
		struct tree_entry e;

		tree_entry_at(t, i, &e);
		if (e.n_xattrs > 64)
			return kl_error_setf(err, E2BIG, "'%s' has more than 64 xattrs", e.path);
		for (uint32_t x = 0; x < e.n_xattrs; x++)
			tree_entry_xattr(t, &e, x, &xs[x]);
		if (has[i]) {
			e.digest = found[i];
			e.flags |= TREE_ENTRY_HAS_DIGEST;
		}
		r = tree_builder_add(b, &e, xs, e.n_xattrs, err);
		if (r < 0)
			return r;
	}
	{
		char *buf = NULL;
		size_t len = 0;

		r = tree_builder_serialize(b, &buf, &len, err);
		if (r < 0)
			return r;
		r = tree_parse(buf, len, release, ret, err);
		if (r < 0)
			free(buf);
		return r;
	}
}

int
build_output_local(struct store *s, struct provider_set *ps, const struct tree *t, const char *dir,
                   struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *full = NULL;
	int r;

	r = fetch_all(s, ps, t, &full, err);
	if (r < 0)
		return r;
	r = tree_export_dir(s, full, dir, err);
	if (r < 0)
		kl_error_prefix(err, "writing the output directory '%s'", dir);
	return r;
}

static int
tar_error(struct archive *a, struct kl_error **err, const char *what)
{
	int code = kl_archive()->errno_code(a);

	return kl_error_setf(err, code > 0 ? code : EIO, "writing the tar: %s: %s", what,
	                     kl_archive()->error_string(a) ? kl_archive()->error_string(a)
	                                                   : "failed");
}

static int
tar_entry(struct archive *a, struct provider_set *ps, struct uring *u, const struct tree *t,
          const struct tree_entry *e, struct kl_error **err)
{
	_cleanup_free_ char *name = NULL;
	struct archive_entry *ae = kl_archive()->entry_new();
	char buf[1 << 16];
	int fd = -1, r = 0;

	name = e->type == TREE_DIR ? xasprintf("%s/", e->path) : xstrdup(e->path);
	kl_archive()->entry_set_pathname(ae, name);
	kl_archive()->entry_set_uid(ae, e->uid);
	kl_archive()->entry_set_gid(ae, e->gid);
	kl_archive()->entry_set_mtime(ae, e->mtime_sec, e->mtime_nsec);
	kl_archive()->entry_set_perm(ae, e->mode & 07777);
	switch (e->type) {
	case TREE_DIR:
		kl_archive()->entry_set_filetype(ae, AE_IFDIR);
		break;
	case TREE_SYMLINK:
		kl_archive()->entry_set_filetype(ae, AE_IFLNK);
		kl_archive()->entry_set_symlink(ae, e->link);
		break;
	case TREE_HARDLINK:
		kl_archive()->entry_set_filetype(ae, AE_IFREG);
		kl_archive()->entry_set_hardlink(ae, e->link);
		break;
	case TREE_CHAR:
	case TREE_BLOCK:
		kl_archive()->entry_set_filetype(ae, e->type == TREE_CHAR ? AE_IFCHR : AE_IFBLK);
		kl_archive()->entry_set_rdevmajor(ae, major(e->rdev));
		kl_archive()->entry_set_rdevminor(ae, minor(e->rdev));
		break;
	case TREE_FIFO:
		kl_archive()->entry_set_filetype(ae, AE_IFIFO);
		break;
	case TREE_REG:
		kl_archive()->entry_set_filetype(ae, AE_IFREG);
		kl_archive()->entry_set_size(ae, (la_int64_t)e->size);
		break;
	default:
		kl_archive()->entry_free(ae);
		return 0; /* a merged tree has no whiteouts */
	}
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		struct tree_xattr x;

		tree_entry_xattr(t, e, i, &x);
		kl_archive()->entry_xattr_add_entry(ae, x.name, x.value, x.value_len);
	}
	if (e->type == TREE_REG && e->size) {
		struct provider_request req = {
		    .path = e->path,
		    .locator = e->locator,
		    .locator_len = e->locator_len,
		    .digest = (e->flags & TREE_ENTRY_HAS_DIGEST) ? &e->digest : NULL,
		    .size = e->size,
		};
		struct digest d;

		fd = provider_set_open(ps, u, &req, &d, err);
		if (fd < 0) {
			kl_archive()->entry_free(ae);
			return fd;
		}
	}
	/* ARCHIVE_WARN: a name that is not UTF-8, written as its bytes (hdrcharset=BINARY) */
	if (kl_archive()->write_header(a, ae) < ARCHIVE_WARN)
		r = tar_error(a, err, e->path);
	kl_archive()->entry_free(ae);
	for (uint64_t left = e->type == TREE_REG ? e->size : 0; r >= 0 && fd >= 0 && left;) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n <= 0) {
			r = kl_error_set(err, n < 0 ? errno : EIO, "reading the content of '%s'",
			                 e->path);
			break;
		}
		if (kl_archive()->write_data(a, buf, (size_t)n) != n)
			r = tar_error(a, err, e->path);
		left -= (uint64_t)n;
	}
	if (fd >= 0)
		close(fd);
	return r;
}

int
build_output_tar(struct store *s, struct provider_set *ps, const struct tree *t, int fd,
                 struct kl_error **err)
{
	_cleanup_(uring_freep) struct uring *u = NULL;
	struct archive *a;
	int r;

	(void)s;
	r = kl_archive_load(err);
	if (r < 0)
		return r;
	a = kl_archive()->write_new();
	r = uring_new(16, &u, err);
	if (r < 0) {
		kl_archive()->write_free(a);
		return r;
	}
	kl_archive()->write_set_format_pax(a);
	/* xattrs as GNU tar reads them, not also as LIBARCHIVE.xattr.* records it warns about */
	kl_archive()->write_set_format_option(a, "pax", "xattrheader", "SCHILY");
	kl_archive()->write_set_bytes_per_block(a, 10240);
	if (kl_archive()->write_open_fd(a, fd) != ARCHIVE_OK) {
		r = tar_error(a, err, "opening");
		kl_archive()->write_free(a);
		return r;
	}
	for (uint32_t i = 1; r >= 0 && i < tree_count(t); i++) {
		struct tree_entry e;

		tree_entry_at(t, i, &e);
		r = tar_entry(a, ps, u, t, &e, err);
	}
	if (r >= 0 && kl_archive()->write_close(a) != ARCHIVE_OK)
		r = tar_error(a, err, "closing");
	kl_archive()->write_free(a);
	return r;
}
