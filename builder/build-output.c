// SPDX-License-Identifier: Apache-2.0
/* --output specs, and the target's filesystem written as a directory or a tar. */
#include "builder/build-output.h"

#include <archive.h>
#include <archive_entry.h>
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
#include "util/error.h"
#include "util/xalloc.h"

#define FETCH_BATCH 256u
#define MAX_FIELDS 256u

static const char *const image_types[] = {"oci", "docker", "image", "registry"};

struct build_output *
build_output_free(struct build_output *o)
{
	if (!o)
		return NULL;
	for (size_t i = 0; i < o->n; i++) {
		free(o->keys[i]);
		free(o->values[i]);
	}
	free(o->keys);
	free(o->values);
	free(o->type_name);
	free(o->dest);
	free(o);
	return NULL;
}

static void
freep(struct build_output **o)
{
	build_output_free(*o);
}

const char *
build_output_get(const struct build_output *o, const char *key)
{
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return o->values[i];
	return NULL;
}

/* One CSV field from *p (double quotes group, "" is a quote); *p moves past its comma. */
static char *
csv_field(const char **p)
{
	const char *s = *p;
	char *out = xmalloc(strlen(s) + 1), *w = out;
	bool quoted = false;

	for (; *s; s++) {
		if (*s == '"') {
			if (quoted && s[1] == '"') {
				*w++ = '"';
				s++;
				continue;
			}
			quoted = !quoted;
			continue;
		}
		if (*s == ',' && !quoted)
			break;
		*w++ = *s;
	}
	*w = '\0';
	*p = *s ? s + 1 : s;
	return out;
}

static int
set_type(struct build_output *o, const char *type, struct kl_error **err)
{
	o->type_name = xstrdup(type);
	if (!strcmp(type, "local"))
		o->type = BUILD_OUTPUT_LOCAL;
	else if (!strcmp(type, "tar"))
		o->type = BUILD_OUTPUT_TAR;
	else {
		for (size_t i = 0; i < sizeof(image_types) / sizeof(image_types[0]); i++)
			if (!strcmp(type, image_types[i])) {
				o->type = BUILD_OUTPUT_IMAGE;
				return 0;
			}
		return kl_error_setf(
		    err, EINVAL,
		    "output type '%s' is not one of local, tar, oci, docker, image, "
		    "registry",
		    type);
	}
	return 0;
}

static int
add_pair(struct build_output *o, const char *key, const char *value, struct kl_error **err)
{
	if (!*key)
		return kl_error_setf(err, EINVAL, "an output field has no key");
	if (!strcmp(key, "dest") || (!strcmp(key, "output") && o->type != BUILD_OUTPUT_IMAGE)) {
		if (o->dest)
			return kl_error_setf(err, EINVAL, "output: dest given twice");
		o->dest = xstrdup(value);
		if (o->type == BUILD_OUTPUT_IMAGE) /* the exporters read it too */
			goto keep;
		return 0;
	}
	if (o->type != BUILD_OUTPUT_IMAGE)
		return kl_error_setf(err, EINVAL, "output type=%s: unknown field '%s'",
		                     o->type_name, key);
keep:
	if (o->n >= MAX_FIELDS)
		return kl_error_setf(err, EINVAL, "output: more than %u fields", MAX_FIELDS);
	o->keys = xrealloc(o->keys, (o->n + 1) * sizeof(*o->keys));
	o->values = xrealloc(o->values, (o->n + 1) * sizeof(*o->values));
	o->keys[o->n] = xstrdup(key);
	o->values[o->n++] = xstrdup(value);
	return 0;
}

static int
check(const struct build_output *o, struct kl_error **err)
{
	if (o->type != BUILD_OUTPUT_IMAGE && (!o->dest || !*o->dest))
		return kl_error_setf(err, EINVAL, "output type=%s needs dest=%s", o->type_name,
		                     o->type == BUILD_OUTPUT_TAR ? "FILE or dest=-" : "DIR");
	return 0;
}

int
build_output_parse(const char *spec, struct build_output **ret, struct kl_error **err)
{
	_cleanup_(freep) struct build_output *o = xcalloc(1, sizeof(*o));
	const char *p = spec;
	char *type = NULL;
	int r;

	if (!strchr(spec, '=')) {
		/* docker build -o DIR, -o - */
		r = set_type(o, strcmp(spec, "-") ? "local" : "tar", err);
		if (r < 0)
			return r;
		o->dest = xstrdup(spec);
		*ret = TAKE_PTR(o);
		return 0;
	}
	/* the type first, wherever it stands */
	while (*p) {
		_cleanup_free_ char *f = csv_field(&p);

		if (!strncmp(f, "type=", 5)) {
			free(type);
			type = xstrdup(f + 5);
		}
	}
	if (!type)
		return kl_error_setf(err, EINVAL, "output '%s': no type= field", spec);
	r = set_type(o, type, err);
	free(type);
	if (r < 0)
		return r;
	for (p = spec; *p;) {
		_cleanup_free_ char *f = csv_field(&p);
		char *eq = strchr(f, '=');

		if (!strncmp(f, "type=", 5))
			continue;
		if (!eq)
			return kl_error_setf(err, EINVAL, "output field '%s' is not KEY=VALUE", f);
		*eq = '\0';
		r = add_pair(o, f, eq + 1, err);
		if (r < 0)
			return r;
	}
	r = check(o, err);
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
	int r;

	r = set_type(o, type, err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		_cleanup_free_ char *kv = xstrdup(opts[i]);
		char *eq = strchr(kv, '=');

		if (!eq)
			return kl_error_setf(err, EINVAL, "--exporter-opt '%s' is not KEY=VALUE",
			                     kv);
		*eq = '\0';
		r = add_pair(o, kv, eq + 1, err);
	}
	if (r >= 0)
		r = check(o, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
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
	int code = archive_errno(a);

	return kl_error_setf(err, code > 0 ? code : EIO, "writing the tar: %s: %s", what,
	                     archive_error_string(a) ? archive_error_string(a) : "failed");
}

static int
tar_entry(struct archive *a, struct provider_set *ps, struct uring *u, const struct tree *t,
          const struct tree_entry *e, struct kl_error **err)
{
	_cleanup_free_ char *name = NULL;
	struct archive_entry *ae = archive_entry_new();
	char buf[1 << 16];
	int fd = -1, r = 0;

	name = e->type == TREE_DIR ? xasprintf("%s/", e->path) : xstrdup(e->path);
	archive_entry_set_pathname(ae, name);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_mtime(ae, e->mtime_sec, e->mtime_nsec);
	archive_entry_set_perm(ae, e->mode & 07777);
	switch (e->type) {
	case TREE_DIR:
		archive_entry_set_filetype(ae, AE_IFDIR);
		break;
	case TREE_SYMLINK:
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_symlink(ae, e->link);
		break;
	case TREE_HARDLINK:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_hardlink(ae, e->link);
		break;
	case TREE_CHAR:
	case TREE_BLOCK:
		archive_entry_set_filetype(ae, e->type == TREE_CHAR ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_rdevmajor(ae, major(e->rdev));
		archive_entry_set_rdevminor(ae, minor(e->rdev));
		break;
	case TREE_FIFO:
		archive_entry_set_filetype(ae, AE_IFIFO);
		break;
	case TREE_REG:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_size(ae, (la_int64_t)e->size);
		break;
	default:
		archive_entry_free(ae);
		return 0; /* a merged tree has no whiteouts */
	}
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		struct tree_xattr x;

		tree_entry_xattr(t, e, i, &x);
		archive_entry_xattr_add_entry(ae, x.name, x.value, x.value_len);
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
			archive_entry_free(ae);
			return fd;
		}
	}
	if (archive_write_header(a, ae) != ARCHIVE_OK)
		r = tar_error(a, err, e->path);
	archive_entry_free(ae);
	for (uint64_t left = e->type == TREE_REG ? e->size : 0; r >= 0 && fd >= 0 && left;) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n <= 0) {
			r = kl_error_set(err, n < 0 ? errno : EIO, "reading the content of '%s'",
			                 e->path);
			break;
		}
		if (archive_write_data(a, buf, (size_t)n) != n)
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
	struct archive *a = archive_write_new();
	int r;

	(void)s;
	r = uring_new(16, &u, err);
	if (r < 0) {
		archive_write_free(a);
		return r;
	}
	archive_write_set_format_pax(a);
	archive_write_set_bytes_per_block(a, 10240);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		r = tar_error(a, err, "opening");
		archive_write_free(a);
		return r;
	}
	for (uint32_t i = 1; r >= 0 && i < tree_count(t); i++) {
		struct tree_entry e;

		tree_entry_at(t, i, &e);
		r = tar_entry(a, ps, u, t, &e, err);
	}
	if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
		r = tar_error(a, err, "closing");
	archive_write_free(a);
	return r;
}
