// SPDX-License-Identifier: Apache-2.0
/* Files of a local directory, read from the path they were scanned at, only while unchanged. */
#include "fs/provider.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/tree-import.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

struct local_data {
	char *root; /* NULL: any absolute path */
	size_t root_len;
};

void *
provider_local_data_new(const char *root)
{
	struct local_data *d = xcalloc(1, sizeof(*d));

	if (root) {
		d->root = xstrdup(root);
		d->root_len = strlen(root);
		while (d->root_len > 1 && d->root[d->root_len - 1] == '/')
			d->root[--d->root_len] = '\0';
	}
	return d;
}

static void
local_free(void *data)
{
	struct local_data *d = data;

	if (d)
		free(d->root);
	free(d);
}

static bool
allowed(const struct local_data *d, const struct tree_local_locator *l)
{
	if (!d || !d->root)
		return true;
	if (d->root_len == 1) /* "/" */
		return true;
	return l->path_len >= d->root_len && memcmp(l->path, d->root, d->root_len) == 0 &&
	       (l->path_len == d->root_len || l->path[d->root_len] == '/');
}

static int
parse(const struct provider_request *req, struct tree_local_locator *l, struct kl_error **err)
{
	if (tree_local_locator_parse(req->locator, req->locator_len, l) < 0)
		return kl_error_setf(err, EINVAL, "malformed local locator for '%s'",
		                     req->path ? req->path : "(unnamed)");
	return 0;
}

static int
local_open(void *data, struct store *s, const struct provider_request *req,
           struct provider_source *ret, struct kl_error **err)
{
	struct tree_local_locator l;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	(void)s;
	r = parse(req, &l, err);
	if (r < 0)
		return r;
	path = xstrndup(l.path, l.path_len);
	if (strlen(path) != l.path_len || !allowed(data, &l))
		return kl_error_setf(err, EPERM, "'%s' is outside the directory this mount serves",
		                     path);
	/* O_NONBLOCK: a path that became a fifo must not hang the reader. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return kl_error_set(err, errno == ENOENT || errno == ELOOP ? EIO : errno,
		                    "'%s' changed since it was scanned: opening it", path);
	if (fstat(fd, &st) < 0)
		return kl_error_set(err, errno, "stat of '%s'", path);
	if (!tree_local_locator_matches(&l, &st))
		return kl_error_setf(err, EIO, "'%s' changed since it was scanned", path);
	ret->fd = TAKE_FD(fd);
	ret->size = (uint64_t)st.st_size;
	ret->in_store = false;
	return 0;
}

static int
local_check(void *data, const struct provider_request *req, const struct provider_source *src,
            struct kl_error **err)
{
	struct tree_local_locator l;
	struct stat st;
	int r;

	(void)data;
	r = parse(req, &l, err);
	if (r < 0)
		return r;
	if (fstat(src->fd, &st) < 0)
		return kl_error_set(err, errno, "stat of '%.*s'", (int)l.path_len, l.path);
	if (!tree_local_locator_matches(&l, &st))
		return kl_error_setf(err, EIO, "'%.*s' changed while it was being read",
		                     (int)l.path_len, l.path);
	return 0;
}

const struct provider_ops provider_local_ops = {
    .scheme = "local",
    .open = local_open,
    .check = local_check,
    .free = local_free,
};
