// SPDX-License-Identifier: Apache-2.0
/* A libarchive tar header as a tree entry and its xattrs. */
#include "oci/tar-entry.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "fs/tree.h"
#include "util/dl-archive.h"
#include "util/xalloc.h"

static int
entry_type(struct archive_entry *ae, enum tree_entry_type *ret)
{
	switch (kl_archive()->entry_filetype(ae)) {
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
		return -EPROTONOSUPPORT;
	}
}

int
oci_tar_entry(struct archive_entry *ae, struct tree_entry *e)
{
	const struct kl_archive *la = kl_archive();

	if (!la->entry_hardlink(ae)) {
		int r = entry_type(ae, &e->type);

		if (r < 0)
			return r;
	}
	e->mode = la->entry_perm(ae) & 07777;
	e->uid = (uint32_t)la->entry_uid(ae);
	e->gid = (uint32_t)la->entry_gid(ae);
	e->mtime_sec = la->entry_mtime(ae);
	e->mtime_nsec = (uint32_t)la->entry_mtime_nsec(ae);
	if (e->mtime_nsec >= 1000000000u)
		e->mtime_nsec = 0;
	if (e->type == TREE_CHAR || e->type == TREE_BLOCK)
		e->rdev = makedev(la->entry_rdevmajor(ae), la->entry_rdevminor(ae));
	if (e->type == TREE_SYMLINK) {
		e->link = la->entry_symlink(ae);
		e->link_len = e->link ? strlen(e->link) : 0;
	}
	return 0;
}

int
oci_tar_xattrs(struct archive_entry *ae, size_t max, struct tree_xattr **ret, size_t *ret_n)
{
	const struct kl_archive *la = kl_archive();
	struct tree_xattr *x = NULL;
	const char *name;
	const void *value;
	size_t size, n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (la->entry_xattr_reset(ae) == 0)
		return 0;
	while (la->entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
		bool seen = false;

		for (size_t i = 0; i < n && !seen; i++)
			seen = !strcmp(x[i].name, name);
		if (seen)
			continue;
		if (n >= max || size > TREE_MAX_XATTR_VALUE) {
			free(x);
			return n >= max ? -E2BIG : -EMSGSIZE;
		}
		x = xrealloc(x, (n + 1) * sizeof(*x));
		x[n++] = (struct tree_xattr){
		    .name = name, .name_len = strlen(name), .value = value, .value_len = size};
	}
	*ret = x;
	*ret_n = n;
	return 0;
}
