// SPDX-License-Identifier: Apache-2.0
/* Layer → diff tree: the entry collector every layer format shares, and tar layers (plain, gzip
 * or zstd) read in one streaming pass with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/digest.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "sources/imgsrc-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define READ_CHUNK (256u << 10)

/* One tar entry, kept until the whole layer was read (opaque markers and hardlinks may refer
 * to entries before or after them). */
struct pending {
	struct tree_entry e; /* path, link, locator point into the strings below */
	char *path, *link, *locator;
	struct tree_xattr *xattrs;
	size_t n_xattrs;
	bool hardlink; /* link is a hardlink target still to resolve */
};

struct imgsrc_diff {
	struct store *store;
	char *source;
	struct pending *p;
	size_t n, cap;
	char **opaque; /* dirs holding .wh..wh..opq */
	size_t n_opaque, cap_opaque;
	uint64_t total;
	struct store_batch *batch;
};

struct layer {
	struct imgsrc_diff *d;
	const char *source;
	int fd;
	struct digest_ctx *hash;
	uint64_t compressed;
	char *buf;  /* what libarchive reads from: it keeps pointers into it */
	char *data; /* where entry contents are decompressed to */
};

/* Cleans a tar name the way Docker does: leading "/" and "./" dropped, "." and empty
 * components removed, ".." resolved lexically; NULL when ".." escapes the root. */
char *
imgsrc_clean_name(const char *name)
{
	size_t n = strlen(name), o = 0;
	char *out = xmalloc(n + 1);
	const char *p = name;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (o == 0) {
				free(out);
				return NULL;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else if (len && !(len == 1 && p[0] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p += len + (slash ? 1 : 0);
	}
	out[o] = '\0';
	return out;
}

static void
pending_free(struct pending *p)
{
	free(p->path);
	free(p->link);
	free(p->locator);
	for (size_t i = 0; i < p->n_xattrs; i++) {
		free((void *)p->xattrs[i].name);
		free((void *)p->xattrs[i].value);
	}
	free(p->xattrs);
}

struct imgsrc_diff *
imgsrc_diff_new(struct store *s, const char *source)
{
	struct imgsrc_diff *d = xcalloc(1, sizeof(*d));

	d->store = s;
	d->source = xstrdup(source);
	d->batch = store_batch_new(s);
	return d;
}

struct imgsrc_diff *
imgsrc_diff_free(struct imgsrc_diff *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		pending_free(&d->p[i]);
	free(d->p);
	for (size_t i = 0; i < d->n_opaque; i++)
		free(d->opaque[i]);
	free(d->opaque);
	store_batch_free(d->batch);
	free(d->source);
	free(d);
	return NULL;
}

struct store_batch *
imgsrc_diff_batch(struct imgsrc_diff *d)
{
	return d->batch;
}

/* Handles ".wh.*" names: 1 for a marker that is no entry (recorded), 2 for a whiteout, else 0. */
static int
whiteout(struct imgsrc_diff *d, char *path, struct tree_entry *e)
{
	char *base = strrchr(path, '/');
	size_t dir_len = base ? (size_t)(base - path) : 0;

	base = base ? base + 1 : path;
	if (strncmp(base, ".wh.", 4))
		return 0;
	if (!strcmp(base, ".wh..wh..opq")) {
		d->opaque = xgrow(d->opaque, &d->cap_opaque, d->n_opaque + 1, sizeof(*d->opaque));
		d->opaque[d->n_opaque++] = xstrndup(path, dir_len);
		return 1;
	}
	if (!strncmp(base, ".wh..wh.", 8))
		return 1; /* aufs bookkeeping (.wh..wh.plnk…): not part of the filesystem */
	memmove(base, base + 4, strlen(base + 4) + 1);
	if (!strcmp(base, "") || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	*e = (struct tree_entry){.type = TREE_WHITEOUT};
	return 2;
}

static int
check_xattrs(struct imgsrc_diff *d, const char *path, const struct tree_xattr *x, size_t n,
             struct kl_error **err)
{
	if (n > IMGSRC_MAX_XATTRS)
		return kl_error_setf(err, EBADMSG, "layer %s: '%s' has more than %u xattrs",
		                     d->source, path, IMGSRC_MAX_XATTRS);
	for (size_t i = 0; i < n; i++)
		if (x[i].value_len > TREE_MAX_XATTR_VALUE)
			return kl_error_setf(err, EBADMSG,
			                     "layer %s: '%s': xattr '%s' larger than "
			                     "%u bytes",
			                     d->source, path, x[i].name, TREE_MAX_XATTR_VALUE);
	return 0;
}

int
imgsrc_diff_add(struct imgsrc_diff *d, const char *name, const char *hardlink,
                const struct tree_entry *e, const struct tree_xattr *x, size_t n_x,
                struct tree_entry **ret, struct kl_error **err)
{
	struct pending p = {.e = *e};
	int r, wh;

	*ret = NULL;
	if (d->n >= IMGSRC_MAX_LAYER_ENTRIES)
		return kl_error_setf(err, EBADMSG, "layer %s: more than %u entries", d->source,
		                     IMGSRC_MAX_LAYER_ENTRIES);
	p.path = imgsrc_clean_name(name);
	if (!p.path)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: entry '%s' escapes the root with '..'", d->source,
		                     name);
	wh = whiteout(d, p.path, &p.e);
	if (wh < 0) {
		pending_free(&p);
		return kl_error_setf(err, EBADMSG, "layer %s: bad whiteout '%s'", d->source, name);
	}
	if (wh == 1) {
		pending_free(&p);
		return 0;
	}
	if (wh == 0 && hardlink) {
		p.link = imgsrc_clean_name(hardlink);
		if (!p.link || !*p.link) {
			r = kl_error_setf(err, EBADMSG,
			                  "layer %s: hardlink '%s' to '%s' points outside "
			                  "the layer",
			                  d->source, p.path, hardlink);
			pending_free(&p);
			return r;
		}
		p.hardlink = true;
		p.e.type = TREE_HARDLINK;
		p.e.size = 0;
		p.e.flags &= ~(uint32_t)TREE_ENTRY_HAS_DIGEST;
		p.e.locator = NULL;
		p.e.locator_len = 0;
	} else if (wh == 0 && e->type == TREE_SYMLINK) {
		if (!e->link || !e->link_len) {
			r = kl_error_setf(err, EBADMSG, "layer %s: symlink '%s' has no target",
			                  d->source, p.path);
			pending_free(&p);
			return r;
		}
		p.link = xstrndup(e->link, e->link_len);
		p.e.size = e->link_len;
	}
	if (wh == 0 && p.e.type == TREE_REG) {
		if (p.e.size > IMGSRC_MAX_FILE_SIZE ||
		    d->total + p.e.size > IMGSRC_MAX_LAYER_SIZE) {
			r = kl_error_setf(err, EFBIG, "layer %s: '%s' has an absurd size %" PRIu64,
			                  d->source, p.path, p.e.size);
			pending_free(&p);
			return r;
		}
		d->total += p.e.size;
	}
	if (p.e.locator_len)
		p.e.locator = p.locator = xstrndup(e->locator, e->locator_len);
	if (wh == 0 && n_x) {
		r = check_xattrs(d, p.path, x, n_x, err);
		if (r < 0) {
			pending_free(&p);
			return r;
		}
		p.xattrs = xcalloc(n_x, sizeof(*p.xattrs));
		for (size_t i = 0; i < n_x; i++, p.n_xattrs++)
			p.xattrs[i] = (struct tree_xattr){
			    .name = xstrndup(x[i].name, x[i].name_len),
			    .name_len = x[i].name_len,
			    .value = x[i].value_len ? memcpy(xmalloc(x[i].value_len), x[i].value,
			                                     x[i].value_len)
			                            : NULL,
			    .value_len = x[i].value_len};
	}
	d->p = xgrow(d->p, &d->cap, d->n + 1, sizeof(*d->p));
	d->p[d->n] = p;
	*ret = &d->p[d->n++].e;
	return 0;
}

static int
cmp_pending(const void *a, const void *b)
{
	return strcmp(((const struct pending *)a)->path, ((const struct pending *)b)->path);
}

static struct pending *
find(struct imgsrc_diff *d, const char *path)
{
	struct pending key = {.path = (char *)path};

	return bsearch(&key, d->p, d->n, sizeof(*d->p), cmp_pending);
}

/* Hardlinks name a regular file of this layer; one to a symlink or device becomes a copy. */
static int
resolve_hardlink(struct imgsrc_diff *d, struct pending *p, struct kl_error **err)
{
	struct pending *t = find(d, p->link);

	for (unsigned hops = 0; t && t != p && t->hardlink && hops < 64; hops++)
		t = find(d, t->link);
	if (!t || t == p || t->hardlink || t->e.type == TREE_DIR || t->e.type == TREE_WHITEOUT)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: hardlink '%s' to '%s', which is not a "
		                     "file of this layer",
		                     d->source, p->path, p->link);
	free(p->link);
	p->link = t->link ? xstrdup(t->link) : NULL;
	if (t->e.type == TREE_REG) {
		free(p->link);
		p->link = xstrdup(t->path);
		return 0;
	}
	p->e.type = t->e.type;
	p->e.size = t->e.size;
	p->e.rdev = t->e.rdev;
	p->hardlink = false;
	return 0;
}

static int
add_opaque(struct imgsrc_diff *d, struct tree_builder *b, const char *dir, struct kl_error **err)
{
	struct pending *p = find(d, dir);
	struct tree_entry e = {.path = dir,
	                       .path_len = strlen(dir),
	                       .type = TREE_DIR,
	                       .mode = 0755,
	                       .flags = TREE_ENTRY_OPAQUE};
	int r;

	if (p && p->e.type != TREE_DIR)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: opaque marker in '%s', which is not a "
		                     "directory",
		                     d->source, dir);
	if (p) {
		p->e.flags |= TREE_ENTRY_OPAQUE;
		return 0;
	}
	r = tree_builder_add(b, &e, NULL, 0, err);
	return r == -EEXIST ? 0 : r; /* two markers in one dir */
}

int
imgsrc_diff_finish(struct imgsrc_diff *d, struct digest *ret, struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = tree_builder_new();
	int r;

	qsort(d->p, d->n, sizeof(*d->p), cmp_pending);
	for (size_t i = 1; i < d->n; i++)
		if (!strcmp(d->p[i - 1].path, d->p[i].path))
			return kl_error_setf(err, EBADMSG, "layer %s: duplicate entry '%s'",
			                     d->source, d->p[i].path);
	for (size_t i = 0; i < d->n; i++) {
		if (!d->p[i].hardlink)
			continue;
		r = resolve_hardlink(d, &d->p[i], err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < d->n_opaque; i++) {
		r = add_opaque(d, b, d->opaque[i], err);
		if (r < 0) {
			kl_error_prefix(err, "layer %s", d->source);
			return r;
		}
	}
	for (size_t i = 0; i < d->n; i++) {
		struct pending *p = &d->p[i];

		p->e.path = p->path;
		p->e.path_len = strlen(p->path);
		p->e.link = p->link;
		p->e.link_len = p->link ? strlen(p->link) : 0;
		if (p->e.type != TREE_SYMLINK && p->e.type != TREE_HARDLINK)
			p->e.link_len = 0;
		r = tree_builder_add(b, &p->e, p->xattrs, p->n_xattrs, err);
		if (r < 0) {
			kl_error_prefix(err, "layer %s", d->source);
			return r;
		}
	}
	r = store_batch_commit(d->batch, err);
	if (r < 0)
		return r;
	r = tree_builder_write(b, d->store, ret, err);
	if (r < 0) {
		kl_error_prefix(err, "layer %s", d->source);
		return r;
	}
	return 0;
}

/* Tar layers. */

static ssize_t
on_read(struct archive *a, void *userdata, const void **ret)
{
	struct layer *l = userdata;
	ssize_t n;

	do
		n = read(l->fd, l->buf, READ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "reading the layer blob");
		return -1;
	}
	digest_ctx_update(l->hash, l->buf, (size_t)n);
	l->compressed += (uint64_t)n;
	*ret = l->buf;
	return n;
}

/* libarchive's error state, translated once into ours. */
static int
error_from_archive(struct archive *a, struct kl_error **err, const char *source, const char *what)
{
	int code = archive_errno(a);
	const char *msg = archive_error_string(a);

	return kl_error_setf(err, code > 0 ? code : EBADMSG, "layer %s: %s: %s", source, what,
	                     msg ? msg : "corrupt or truncated");
}

static int
read_xattrs(struct layer *l, struct archive_entry *ae, const char *path, struct tree_xattr **ret,
            size_t *ret_n, struct kl_error **err)
{
	const char *name;
	const void *value;
	size_t size, n = 0;
	struct tree_xattr *x = NULL;

	*ret = NULL;
	*ret_n = 0;
	if (archive_entry_xattr_reset(ae) == 0)
		return 0;
	while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
		bool seen = false;

		/* pax archives may carry one xattr twice (LIBARCHIVE.xattr. and SCHILY.xattr.). */
		for (size_t i = 0; i < n && !seen; i++)
			seen = !strcmp(x[i].name, name);
		if (seen)
			continue;
		if (n >= IMGSRC_MAX_XATTRS) {
			free(x);
			return kl_error_setf(err, EBADMSG, "layer %s: '%s' has more than %u xattrs",
			                     l->source, path, IMGSRC_MAX_XATTRS);
		}
		x = xrealloc(x, (n + 1) * sizeof(*x));
		x[n++] = (struct tree_xattr){
		    .name = name, .name_len = strlen(name), .value = value, .value_len = size};
	}
	*ret = x;
	*ret_n = n;
	return 0;
}

/* Streams the current entry's data into the store; its digest goes to e. */
static int
ingest(struct layer *l, struct archive *a, const char *path, struct tree_entry *e,
       struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *w = NULL;
	uint64_t got = 0;
	la_ssize_t n;
	int r;

	r = store_writer_begin(l->d->store, &w, err);
	if (r < 0)
		return r;
	while ((n = archive_read_data(a, l->data, READ_CHUNK)) > 0) {
		got += (uint64_t)n;
		if (got > e->size)
			break;
		r = store_writer_write(w, l->data, (size_t)n, err);
		if (r < 0)
			return r;
	}
	if (n < 0)
		return error_from_archive(a, err, l->source, path);
	if (got != e->size)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: '%s' holds %" PRIu64 " bytes, its "
		                     "header says %" PRIu64,
		                     l->source, path, got, e->size);
	r = store_writer_commit_batch(TAKE_PTR(w), l->d->batch, NULL, &e->digest, err);
	if (r < 0)
		return r;
	e->flags |= TREE_ENTRY_HAS_DIGEST;
	return 0;
}

static int
entry_type(struct layer *l, struct archive_entry *ae, const char *path, enum tree_entry_type *ret,
           struct kl_error **err)
{
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		*ret = TREE_REG;
		return 0;
	case AE_IFDIR:
		*ret = TREE_DIR;
		return 0;
	case AE_IFLNK:
		*ret = TREE_SYMLINK;
		return 0;
	case AE_IFCHR:
		*ret = TREE_CHAR;
		return 0;
	case AE_IFBLK:
		*ret = TREE_BLOCK;
		return 0;
	case AE_IFIFO:
		*ret = TREE_FIFO;
		return 0;
	default:
		return kl_error_setf(err, EBADMSG, "layer %s: '%s' has an unsupported type 0%o",
		                     l->source, path, (unsigned)archive_entry_filetype(ae));
	}
}

static int
read_entry(struct layer *l, struct archive *a, struct archive_entry *ae, struct kl_error **err)
{
	const char *name = archive_entry_pathname(ae), *hl = archive_entry_hardlink(ae);
	_cleanup_free_ struct tree_xattr *x = NULL;
	struct tree_entry e = {0}, *added;
	la_int64_t size = archive_entry_size(ae);
	size_t n_x;
	int r;

	if (!name)
		return kl_error_setf(err, EBADMSG, "layer %s: an entry without a name", l->source);
	if (!hl) {
		r = entry_type(l, ae, name, &e.type, err);
		if (r < 0)
			return r;
	}
	e.mode = archive_entry_perm(ae) & 07777;
	e.uid = (uint32_t)archive_entry_uid(ae);
	e.gid = (uint32_t)archive_entry_gid(ae);
	e.mtime_sec = archive_entry_mtime(ae);
	e.mtime_nsec = (uint32_t)archive_entry_mtime_nsec(ae);
	if (e.mtime_nsec >= 1000000000u)
		e.mtime_nsec = 0;
	if (e.type == TREE_CHAR || e.type == TREE_BLOCK)
		e.rdev = makedev(archive_entry_rdevmajor(ae), archive_entry_rdevminor(ae));
	if (e.type == TREE_SYMLINK) {
		e.link = archive_entry_symlink(ae);
		e.link_len = e.link ? strlen(e.link) : 0;
	}
	if (e.type == TREE_REG) {
		if (size < 0 || (uint64_t)size > IMGSRC_MAX_FILE_SIZE)
			return kl_error_setf(err, EFBIG,
			                     "layer %s: '%s' has an absurd size %" PRId64,
			                     l->source, name, (int64_t)size);
		e.size = (uint64_t)size;
	}
	r = read_xattrs(l, ae, name, &x, &n_x, err);
	if (r < 0)
		return r;
	r = imgsrc_diff_add(l->d, name, hl, &e, x, n_x, &added, err);
	if (r < 0 || !added || added->type != TREE_REG || added->size == 0)
		return r;
	return ingest(l, a, name, added, err);
}

/* Hashes what libarchive left unread (tar padding, compressed trailers). */
static int
drain(struct layer *l, struct kl_error **err)
{
	ssize_t n;

	while ((n = read(l->fd, l->buf, READ_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kl_error_set(err, errno, "layer %s: reading", l->source);
		digest_ctx_update(l->hash, l->buf, (size_t)n);
		l->compressed += (uint64_t)n;
	}
	return 0;
}

static int
read_all(struct layer *l, struct archive *a, struct kl_error **err)
{
	struct archive_entry *ae;
	int r;

	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_none(a);
	archive_read_support_format_tar(a);
	if (archive_read_open(a, l, NULL, on_read, NULL) != ARCHIVE_OK)
		return error_from_archive(a, err, l->source, "not a tar archive");
	for (;;) {
		r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return error_from_archive(a, err, l->source, "reading");
		r = read_entry(l, a, ae, err);
		if (r < 0)
			return r;
	}
}

int
imgsrc_layer_from_tar(struct store *s, int fd, const struct digest *blob, const char *source,
                      struct digest *ret, struct kl_error **err)
{
	struct layer l = {.source = source,
	                  .fd = fd,
	                  .hash = digest_ctx_new(),
	                  .buf = xmalloc(READ_CHUNK),
	                  .data = xmalloc(READ_CHUNK),
	                  .d = imgsrc_diff_new(s, source)};
	struct archive *a = archive_read_new();
	char id[DIGEST_STRING_SIZE];
	struct digest got;
	int r;

	if (!a)
		abort();
	r = read_all(&l, a, err);
	archive_read_free(a);
	if (r >= 0)
		r = drain(&l, err);
	if (r >= 0 && blob) {
		digest_ctx_final(l.hash, &got);
		if (!digest_equal(&got, blob))
			r = kl_error_setf(err, EBADMSG,
			                  "layer %s: blob does not match its digest %s", source,
			                  digest_to_string(blob, id));
	}
	if (r >= 0)
		r = imgsrc_diff_finish(l.d, ret, err);
	imgsrc_diff_free(l.d);
	digest_ctx_free(l.hash);
	free(l.buf);
	free(l.data);
	return r;
}
