// SPDX-License-Identifier: Apache-2.0
/* A map from (dev, inode) to the first path of that inode, for hardlink detection in walks. */
#include "fs/tree-hardlinks.h"

#include <search.h>
#include <stdlib.h>

#include "util/xalloc.h"

struct inode_key {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct tree_hardlinks {
	void *root; /* tsearch tree of struct inode_key */
};

struct tree_hardlinks *
tree_hardlinks_new(void)
{
	return xcalloc(1, sizeof(struct tree_hardlinks));
}

static void
free_inode_key(void *p)
{
	struct inode_key *k = p;

	free(k->path);
	free(k);
}

struct tree_hardlinks *
tree_hardlinks_free(struct tree_hardlinks *h)
{
	if (h) {
		tdestroy(h->root, free_inode_key);
		free(h);
	}
	return NULL;
}

static int
compare_inodes(const void *a, const void *b)
{
	const struct inode_key *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

const char *
tree_hardlinks_leader(struct tree_hardlinks *h, const struct stat *st, const char *path, size_t len)
{
	struct inode_key probe = {st->st_dev, st->st_ino, NULL}, *k;
	struct inode_key **found;

	found = tfind(&probe, &h->root, compare_inodes);
	if (found)
		return (*found)->path;
	k = xmalloc(sizeof(*k));
	*k = (struct inode_key){st->st_dev, st->st_ino, xstrndup(path, len)};
	if (!tsearch(k, &h->root, compare_inodes))
		abort();
	return NULL;
}
