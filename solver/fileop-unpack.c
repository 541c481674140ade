// SPDX-License-Identifier: Apache-2.0
/* ADD of a local archive, as BuildKit's unpack (Docker's archive.Untar) does it: a tar, plain
 * or compressed with gzip, bzip2, xz or zstd, told by its content, read with libarchive; its
 * entries applied with the layer collector's tar extraction rules (fs/tree-layer.h), whose
 * ".wh." names are plain files here, then merged into the destination directory. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree-layer.h"
#include "fs/tree.h"
#include "oci/tar-entry.h"
#include "oci/whiteout.h"
#include "solver/fileop-internal.h"
#include "solver/fileop.h"
#include "solver/graph.h"
#include "util/dl-archive.h"
#include "util/error.h"
#include "util/xalloc.h"

#define READ_CHUNK (256u << 10)
#define MAX_ENTRIES (1u << 22)
#define MAX_XATTRS 64u

struct unpacker {
	struct fileop_action_ctx *x;
	const char *name; /* the archive, for messages */
	struct archive *a;
	struct tree_layer *layer;
	struct store_batch *batch;
	char *data;
	size_t n;
};

/* libarchive's error state, translated once into ours. */
static int
error_from_archive(struct unpacker *u, struct kl_error **err, const char *what)
{
	int code = kl_archive()->errno_code(u->a);
	const char *msg = kl_archive()->error_string(u->a);

	return kl_error_setf(err, code > 0 ? code : EBADMSG, "archive '/%s': %s: %s", u->name, what,
	                     msg ? msg : "corrupt or truncated");
}

/* The formats archive.DecompressStream and tar.Reader take. */
static struct archive *
new_reader(void)
{
	struct archive *a = kl_archive()->read_new();

	if (!a)
		abort();
	kl_archive()->read_support_filter_none(a);
	kl_archive()->read_support_filter_gzip(a);
	kl_archive()->read_support_filter_bzip2(a);
	kl_archive()->read_support_filter_xz(a);
	kl_archive()->read_support_filter_zstd(a);
	kl_archive()->read_support_format_tar(a);
	return a;
}

/* Streams the current entry's data into the store; its digest goes to e. */
static int
ingest(struct unpacker *u, const char *name, struct tree_entry *e, struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *w = NULL;
	uint64_t got = 0;
	la_ssize_t n;
	int r;

	r = store_writer_begin(u->x->env->store, &w, err);
	if (r < 0)
		return r;
	while ((n = kl_archive()->read_data(u->a, u->data, READ_CHUNK)) > 0) {
		got += (uint64_t)n;
		if (got > e->size)
			break;
		r = store_writer_write(w, u->data, (size_t)n, err);
		if (r < 0)
			return r;
	}
	if (n < 0)
		return error_from_archive(u, err, name);
	if (got != e->size)
		return kl_error_setf(err, EBADMSG,
		                     "archive '/%s': '%s' holds %" PRIu64
		                     " bytes, its header says %" PRIu64,
		                     u->name, name, got, e->size);
	r = store_writer_commit_batch(TAKE_PTR(w), u->batch, NULL, &e->digest, err);
	if (r < 0)
		return r;
	e->flags |= TREE_ENTRY_HAS_DIGEST;
	return 0;
}

static int
read_entry(struct unpacker *u, struct archive_entry *ae, struct kl_error **err)
{
	const char *name = kl_archive()->entry_pathname(ae), *hl = kl_archive()->entry_hardlink(ae);
	_cleanup_free_ char *path = NULL, *link = NULL;
	_cleanup_free_ struct tree_xattr *x = NULL;
	struct tree_entry e = {0};
	la_int64_t size = kl_archive()->entry_size(ae);
	size_t n_x;
	int r;

	if (!name)
		return kl_error_setf(err, EBADMSG, "archive '/%s': an entry without a name",
		                     u->name);
	if (++u->n > MAX_ENTRIES)
		return kl_error_setf(err, EBADMSG, "archive '/%s': more than %u entries", u->name,
		                     MAX_ENTRIES);
	path = oci_clean_name(name);
	if (hl)
		link = oci_clean_name(hl);
	if (!path || (hl && (!link || !*link)))
		return kl_error_setf(err, EBADMSG, "archive '/%s': '%s' points outside the archive",
		                     u->name, hl ? hl : name);
	e.path = path;
	e.path_len = strlen(path);
	if (hl) {
		e.type = TREE_HARDLINK;
		e.link = link;
		e.link_len = strlen(link);
	}
	if (oci_tar_entry(ae, &e) < 0)
		return kl_error_setf(err, EBADMSG,
		                     "archive '/%s': '%s' has an unsupported type 0%o", u->name,
		                     name, (unsigned)kl_archive()->entry_filetype(ae));
	if (e.type == TREE_SYMLINK) {
		if (!e.link_len)
			return kl_error_setf(err, EBADMSG,
			                     "archive '/%s': symlink '%s' has no target", u->name,
			                     name);
		e.size = e.link_len;
	}
	r = oci_tar_xattrs(ae, MAX_XATTRS, &x, &n_x);
	if (r < 0)
		return kl_error_setf(err, EBADMSG,
		                     "archive '/%s': '%s' has too many or too large xattrs",
		                     u->name, name);
	if (e.type == TREE_REG && size > 0) {
		e.size = (uint64_t)size;
		r = ingest(u, name, &e, err);
		if (r < 0)
			return r;
	}
	return tree_layer_add(u->layer, &e, x, n_x, err);
}

/* Reads the archive on fd into the collector: 1, or 0 when it is no archive at all. */
static int
read_archive(struct unpacker *u, int fd, struct kl_error **err)
{
	struct archive_entry *ae;
	int r;

	if (kl_archive()->read_open_fd(u->a, fd, READ_CHUNK) != ARCHIVE_OK)
		return 0;
	r = kl_archive()->read_next_header(u->a, &ae);
	/* tar.Reader's first Next fails, or meets the end: Docker copies the file as it is */
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return 0;
	for (;;) {
		r = read_entry(u, ae, err);
		if (r < 0)
			return r;
		r = kl_archive()->read_next_header(u->a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return error_from_archive(u, err, "reading");
	}
	r = store_batch_commit(u->batch, err);
	return r < 0 ? r : 1;
}

/* The archive's entries below dest: its root's metadata on dest itself when it lists one, the
 * owner of a --chown on every entry (archive.Untar's ChownOpts); directories it only implies
 * keep what dest holds there. */
static void
put_rebased(struct fileop_action_ctx *x, const struct tree *diff, const char *dest, size_t dest_len,
            const struct fileop_owner *owner)
{
	for (uint32_t i = 0; i < tree_count(diff); i++) {
		_cleanup_free_ char *path = NULL, *link = NULL;
		struct tree_entry e;

		tree_entry_at(diff, i, &e);
		if (i == TREE_ROOT && (e.flags & TREE_ENTRY_IMPLICIT))
			continue; /* dest stays as made for the copy */
		path = fileop_path_join(dest, dest_len, e.path, e.path_len);
		e.path = path;
		e.path_len = strlen(path);
		if (e.type == TREE_HARDLINK) {
			link = fileop_path_join(dest, dest_len, e.link, e.link_len);
			e.link = link;
			e.link_len = strlen(link);
		}
		if (owner->set && !(e.flags & TREE_ENTRY_IMPLICIT)) {
			e.uid = owner->uid;
			e.gid = owner->gid;
		}
		/* An opaque directory (one that replaced a file of the archive) stays opaque: what
		 * dest held there was removed by that file. */
		fileop_changes_put_view(x->c, diff, &e);
	}
}

static void
release_buf(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static int
collect(struct unpacker *u, struct tree **ret, struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = NULL;
	char *buf;
	size_t len;
	int r;

	r = tree_layer_finish(u->layer, &b, err);
	if (r >= 0)
		r = tree_builder_serialize(b, &buf, &len, err);
	if (r < 0)
		return r;
	r = tree_parse(buf, len, release_buf, ret, err);
	if (r < 0)
		free(buf);
	return r;
}

int
fileop_unpack(struct fileop_action_ctx *x, uint32_t src_idx, const char *dest, size_t dest_len,
              const struct fileop_owner *owner, struct kl_error **err)
{
	struct provider_request req;
	struct unpacker u = {.x = x};
	_cleanup_(tree_unrefp) struct tree *diff = NULL;
	_cleanup_close_ int fd = -1;
	struct tree_entry e;
	struct uring *ring;
	struct digest d;
	int r;

	tree_entry_at(x->src, src_idx, &e);
	if (e.size == 0)
		return 0; /* an empty file is no archive */
	if (!x->env->providers)
		return kl_error_setf(err, ENOTSUP, "reading '/%s': no content providers", e.path);
	r = kl_archive_load(err);
	if (r < 0)
		return r;
	r = fileop_ring(x, &ring, err);
	if (r < 0)
		return r;
	req = (struct provider_request){
	    .path = e.path,
	    .locator = e.locator,
	    .locator_len = e.locator_len,
	    .digest = (e.flags & TREE_ENTRY_HAS_DIGEST) ? &e.digest : NULL,
	    .size = e.size,
	};
	fd = provider_set_open(x->env->providers, ring, &req, &d, err);
	if (fd < 0)
		return fd;
	u.name = e.path;
	u.a = new_reader();
	u.layer = tree_layer_new(e.path);
	u.batch = store_batch_new(x->env->store);
	u.data = xmalloc(READ_CHUNK);
	r = read_archive(&u, fd, err);
	if (r > 0)
		r = collect(&u, &diff, err);
	/* as copy.MkdirAll(dest, 0755, chown, timestamp) before archive.Untar */
	if (r >= 0 && diff)
		r = fileop_changes_mkdir_all(x->c, dest, dest_len, 0755, owner,
		                             x->a->has_timestamp ? x->a->timestamp : 0, "unpack",
		                             err);
	if (r >= 0 && diff) {
		put_rebased(x, diff, dest, dest_len, owner);
		r = 1;
	}
	kl_archive()->read_free(u.a);
	tree_layer_free(u.layer);
	store_batch_free(u.batch);
	free(u.data);
	return r;
}
