// SPDX-License-Identifier: Apache-2.0
/* A diff tree as a tar stream: its entries in tar order with whiteouts and opaque markers
 * (fs/tree-layer.h's walk, oci/whiteout.h's names), headers from layer-tar-header.c, contents
 * read in large pieces from the store (hashed as they are read) or fetched through the
 * providers, everything handed to a compressor and hashed into the diff id. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "exporters/compress-internal.h"
#include "exporters/compress-tarsplit-internal.h"
#include "exporters/layer-internal.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree-layer.h"
#include "fs/tree.h"
#include "fs/uring.h"
#include "oci/whiteout.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

#define READ_SIZE (1u << 20)
#define BLOCK 512u

struct tar {
	const struct tree *diff;
	struct store *store;
	struct provider_set *ps;
	struct uring *ring; /* for the providers, made on first use */
	const struct layer_tar_options *o;
	const struct compress_ops *ops;
	void *c;
	struct compress_out *out;
	struct kl_error **err;
	char *hdr; /* header blocks of the entry at hand */
	size_t hdr_cap, hdr_len;
	char *buf;    /* contents being read */
	uint64_t pad; /* zeros owed after the last contents, written before what comes next */
	struct digest_ctx *file_hash;
	struct store_trust_set *trust; /* the diff's, when recorded */
	size_t hashed;                 /* store blobs this export hashed */
	struct tree_xattr *xattrs;
	size_t xattrs_cap;
};

static const char zeros[1024];

static int
meta(struct tar *t, const void *buf, size_t n)
{
	compress_out_uncompressed(t->out, buf, n);
	return t->ops->meta(t->c, buf, n, t->err);
}

static int
flush_pad(struct tar *t)
{
	int r = 0;

	if (t->pad)
		r = meta(t, zeros, (size_t)t->pad);
	t->pad = 0;
	return r;
}

/* An open store blob of the entry's content (*ret_verify: hash it while reading), or the fd
 * the providers give once they fetched and verified it (its digest in *ret_digest). */
static int
open_content(struct tar *t, const struct tree_entry *e, bool *ret_verify, struct digest *ret_digest)
{
	struct provider_request req = {.path = e->path,
	                               .locator = e->locator,
	                               .locator_len = e->locator_len,
	                               .digest =
	                                   e->flags & TREE_ENTRY_HAS_DIGEST ? &e->digest : NULL,
	                               .size = e->size};
	int fd, r;

	if (req.digest) {
		fd = store_open_blob(t->store, req.digest, NULL);
		if (fd >= 0) {
			*ret_verify = true;
			*ret_digest = e->digest;
			return fd;
		}
	}
	if (!t->ps)
		return kl_error_setf(t->err, ENOENT, "content of '%s' is not in the store",
		                     e->path);
	if (!t->ring) {
		r = uring_new(64, &t->ring, t->err);
		if (r < 0)
			return r;
	}
	*ret_verify = false;
	return provider_set_open(t->ps, t->ring, &req, ret_digest, t->err);
}

static int
write_contents(struct tar *t, const struct tree_entry *e, struct compress_entry_end *end)
{
	_cleanup_close_ int fd = -1;
	char want[DIGEST_STRING_SIZE], got[DIGEST_STRING_SIZE];
	uint64_t off = 0;
	struct digest d;
	struct stat st;
	bool verify;
	int r;

	fd = open_content(t, e, &verify, &end->digest);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return kl_error_set(t->err, errno, "'%s': stat of its content", e->path);
	if ((uint64_t)st.st_size != e->size)
		return kl_error_setf(
		    t->err, EIO, "'%s': its content has %" PRIu64 " bytes, the tree says %" PRIu64,
		    e->path, (uint64_t)st.st_size, e->size);
	/* a blob whose verification record or trust set matches its stat was hashed before, as
	 * the lazy filesystem trusts it */
	if (verify && store_blob_trusted_by(t->store, t->trust, &e->digest, &st))
		verify = false;
	t->hashed += verify;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	end->crc64 = 0;
	while (off < e->size) {
		size_t want_n = e->size - off < READ_SIZE ? (size_t)(e->size - off) : READ_SIZE;
		ssize_t n = pread(fd, t->buf, want_n, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kl_error_set(t->err, errno, "reading the content of '%s'", e->path);
		if (n == 0)
			return kl_error_setf(t->err, EIO,
			                     "'%s': its content ended after %" PRIu64 " bytes",
			                     e->path, off);
		if (verify)
			digest_ctx_update(t->file_hash, t->buf, (size_t)n);
		if (t->ops->wants_crc64)
			end->crc64 = compress_crc64(end->crc64, t->buf, (size_t)n);
		compress_out_uncompressed(t->out, t->buf, (size_t)n);
		r = t->ops->data(t->c, t->buf, (size_t)n, t->err);
		if (r < 0)
			return r;
		off += (uint64_t)n;
	}
	if (verify) {
		digest_ctx_final(t->file_hash, &d);
		if (!digest_equal(&d, &e->digest)) {
			store_blob_distrust(t->store, &e->digest);
			return kl_error_setf(
			    t->err, EBADMSG,
			    "blob %s in the store is corrupt (its bytes hash to %s), "
			    "needed by '%s'",
			    digest_to_string(&e->digest, want), digest_to_string(&d, got), e->path);
		}
		store_blob_trust(t->store, &e->digest, &st);
	}
	t->pad = (BLOCK - e->size % BLOCK) % BLOCK;
	return 0;
}

static char
tar_type(enum tree_entry_type type)
{
	switch (type) {
	case TREE_DIR:
		return COMPRESS_TAR_DIR;
	case TREE_SYMLINK:
		return COMPRESS_TAR_SYMLINK;
	case TREE_HARDLINK:
		return COMPRESS_TAR_LINK;
	case TREE_CHAR:
		return COMPRESS_TAR_CHAR;
	case TREE_BLOCK:
		return COMPRESS_TAR_BLOCK;
	case TREE_FIFO:
		return COMPRESS_TAR_FIFO;
	default:
		return COMPRESS_TAR_REG;
	}
}

/* The tar name of a tree path: "./" for the root, a trailing '/' on directories. */
static char *
tar_name(const struct tree_entry *e)
{
	if (!e->path_len)
		return xstrdup("./");
	return xasprintf("%.*s%s", (int)e->path_len, e->path, e->type == TREE_DIR ? "/" : "");
}

static void
stamp(const struct tar *t, int64_t *sec, uint32_t *nsec)
{
	if (t->o->clamp && (*sec > t->o->epoch || (*sec == t->o->epoch && *nsec > 0))) {
		*sec = t->o->epoch;
		*nsec = 0;
	}
}

static int
emit(struct tar *t, const struct compress_entry *ce, const struct tree_entry *e)
{
	struct compress_entry_end end = {0};
	int r;

	t->hdr_len = 0;
	r = layer_tar_header(ce, &t->hdr, &t->hdr_cap, &t->hdr_len, t->err);
	if (r >= 0)
		r = flush_pad(t);
	if (r >= 0)
		r = meta(t, t->hdr, t->hdr_len);
	if (r >= 0)
		r = t->ops->entry(t->c, ce, t->err);
	if (r >= 0 && ce->size)
		r = write_contents(t, e, &end);
	else if (r >= 0 && ce->type == COMPRESS_TAR_REG)
		digest_buffer("", 0, &end.digest);
	if (r >= 0)
		r = t->ops->entry_end(t->c, &end, t->err);
	return r;
}

static int
walk_item(const struct tree *diff, enum tree_layer_item item, const struct tree_entry *e,
          void *userdata)
{
	struct tar *t = userdata;
	struct compress_entry ce = {.type = COMPRESS_TAR_REG};
	_cleanup_free_ char *name = NULL;

	if (item == TREE_LAYER_WHITEOUT || item == TREE_LAYER_OPAQUE) {
		name = item == TREE_LAYER_WHITEOUT ? oci_whiteout_name(e->path, e->path_len)
		                                   : oci_opaque_name(e->path, e->path_len);
		ce.mtime_sec = t->o->whiteout_mtime;
	} else {
		name = tar_name(e);
		ce.type = tar_type(e->type);
		ce.mode = e->mode & 07777;
		ce.uid = e->uid;
		ce.gid = e->gid;
		ce.mtime_sec = e->mtime_sec;
		ce.mtime_nsec = e->mtime_nsec;
		stamp(t, &ce.mtime_sec, &ce.mtime_nsec);
		if (e->type == TREE_REG)
			ce.size = e->size;
		if (e->type == TREE_SYMLINK || e->type == TREE_HARDLINK) {
			ce.link = e->link;
			ce.link_len = e->link_len;
		}
		if (e->type == TREE_CHAR || e->type == TREE_BLOCK) {
			ce.devmajor = major((dev_t)e->rdev);
			ce.devminor = minor((dev_t)e->rdev);
		}
		t->xattrs = xgrow(t->xattrs, &t->xattrs_cap, e->n_xattrs, sizeof(*t->xattrs));
		for (uint32_t i = 0; i < e->n_xattrs; i++)
			tree_entry_xattr(diff, e, i, &t->xattrs[i]);
		ce.xattrs = t->xattrs;
		ce.n_xattrs = e->n_xattrs;
	}
	ce.name = name;
	ce.name_len = strlen(name);
	return emit(t, &ce, e);
}

int
layer_tar_write(const struct tree *diff, struct store *s, struct provider_set *ps,
                const struct layer_tar_options *o, const struct compress_ops *ops, void *c,
                struct compress_out *out, struct kl_error **err)
{
	struct tar t = {.diff = diff,
	                .store = s,
	                .ps = ps,
	                .o = o,
	                .ops = ops,
	                .c = c,
	                .out = out,
	                .err = err,
	                .buf = xmalloc(READ_SIZE),
	                .file_hash = digest_ctx_new(),
	                .trust = store_trust_set_load(s, tree_id(diff))};
	char hex[DIGEST_HEX_LEN + 1];
	int r;

	r = tree_layer_walk(diff, walk_item, &t);
	if (r >= 0)
		r = flush_pad(&t);
	if (r >= 0)
		r = meta(&t, zeros, sizeof(zeros)); /* the end of the archive: two zero blocks */
	kl_debug("layer tar of tree sha256:%.12s: %zu store blobs hashed",
	         digest_to_hex(tree_id(diff), hex), t.hashed);
	/* what was hashed here need not be by the next export of this diff */
	if (r >= 0 && t.hashed)
		(void)tree_trust_save(s, diff);
	store_trust_set_free(t.trust);
	uring_free(t.ring);
	digest_ctx_free(t.file_hash);
	free(t.buf);
	free(t.hdr);
	free(t.xattrs);
	return r;
}
