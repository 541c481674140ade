// SPDX-License-Identifier: Apache-2.0
/* The content key of what a copy selects: the same walk the copy makes, hashed. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "solver/fileop-internal.h"
#include "solver/fileop.h"
#include "solver/graph.h"
#include "util/error.h"

#define KEY_MAGIC "kiln fileop selection 1"

static void
put_bytes(struct digest_ctx *d, char tag, const void *s, size_t n)
{
	uint32_t len = htole32((uint32_t)n);

	digest_ctx_update(d, &tag, 1);
	digest_ctx_update(d, &len, sizeof(len));
	digest_ctx_update(d, s, n);
}

static void
put_u64(struct digest_ctx *d, uint64_t v)
{
	v = htole64(v);
	digest_ctx_update(d, &v, sizeof(v));
}

struct hasher {
	struct digest_ctx *d;
	const struct tree *src;
};

/* An item as the copy writes it: path, type, mode, owner, what it holds; never its mtime, an
 * inode number or (when there is a digest) where its bytes are. */
static int
hash_item(void *userdata, const struct fileop_item *it, struct kl_error **err)
{
	struct hasher *h = userdata;
	struct tree_entry e;

	(void)err;
	put_bytes(h->d, 'E', it->rel, it->rel_len);
	if (it->link_rel) { /* the same inode as an earlier item: its content is hashed there */
		put_bytes(h->d, 'L', it->link_rel, it->link_rel_len);
		return 0;
	}
	tree_entry_at(h->src, it->idx, &e);
	put_u64(h->d, (uint64_t)e.type << 32 | e.mode);
	put_u64(h->d, (uint64_t)e.uid << 32 | e.gid);
	put_u64(h->d, e.rdev);
	if (e.type == TREE_REG) {
		put_u64(h->d, e.size);
		/* Only content without a digest (a git blob) is named by its locator. */
		if (e.flags & TREE_ENTRY_HAS_DIGEST)
			put_bytes(h->d, 'D', e.digest.bytes, DIGEST_SIZE);
		else
			put_bytes(h->d, 'O', e.locator, e.locator_len);
	}
	if (e.type == TREE_SYMLINK)
		put_bytes(h->d, 'S', e.link, e.link_len);
	put_u64(h->d, e.n_xattrs);
	for (uint32_t k = 0; k < e.n_xattrs; k++) {
		struct tree_xattr x;

		tree_entry_xattr(h->src, &e, k, &x);
		put_bytes(h->d, 'N', x.name, x.name_len);
		put_bytes(h->d, 'V', x.value, x.value_len);
	}
	return 0;
}

int
fileop_selection_key(const struct graph_file_action *a, const struct tree *src, struct digest *ret,
                     struct kl_error **err)
{
	_cleanup_(fileop_selector_freep) struct fileop_selector *sel = NULL;
	struct hasher h = {.src = src};
	struct fileop_matches m = {0};
	struct digest key;
	int r;

	if (a->kind != GRAPH_FILE_COPY)
		return kl_error_setf(err, EINVAL, "a selection key is for copy actions");
	r = fileop_copy_sources(a, src, &m, err);
	if (r >= 0 && m.n == 0 && !a->allow_empty_wildcard)
		r = kl_error_setf(err, ENOENT, "copy '%s': no source files were specified",
		                  a->src ? a->src : "");
	if (r >= 0)
		r = fileop_selector_new(a, &sel, err);
	if (r < 0) {
		fileop_matches_done(&m);
		return r;
	}
	h.d = digest_ctx_new();
	digest_ctx_update(h.d, KEY_MAGIC, sizeof(KEY_MAGIC));
	for (size_t i = 0; r >= 0 && i < m.n; i++) {
		const char *slash = strrchr(m.v[i], '/');
		const char *name = slash ? slash + 1 : m.v[i];
		uint32_t idx;

		r = fileop_copy_source_entry(a, src, m.v[i], &idx, err);
		if (r < 0)
			break;
		put_bytes(h.d, 'M', name, strlen(name)); /* the name a match has in a directory */
		r = fileop_select(sel, src, idx, hash_item, &h, err);
	}
	digest_ctx_final(h.d, &key);
	digest_ctx_free(h.d);
	fileop_matches_done(&m);
	if (r < 0) {
		kl_error_prefix(err, "copy '%s'", a->src ? a->src : "");
		return r;
	}
	*ret = key;
	return 0;
}
