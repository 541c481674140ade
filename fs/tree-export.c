// SPDX-License-Identifier: Apache-2.0
/* Writing a tree out as real files: entries in tree order (parents first), directory modes
 * and times last and deepest first, so creating children never disturbs them. */
#include "fs/tree-import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

#define COPY_CHUNK (1u << 20)
#define HOLE_BLOCK 4096u

/* Open directory fds along the path of the entry being written. */
struct dir_stack {
	uint32_t *idx;
	int *fd;
	size_t n, cap_idx, cap_fd;
};

struct exporter {
	struct store *store;
	const struct tree *tree;
	int root_fd;
	struct dir_stack dirs;
	char *buf;
};

static void
dir_stack_push(struct dir_stack *d, uint32_t idx, int fd)
{
	d->idx = xgrow(d->idx, &d->cap_idx, d->n + 1, sizeof(*d->idx));
	d->fd = xgrow(d->fd, &d->cap_fd, d->n + 1, sizeof(*d->fd));
	d->idx[d->n] = idx;
	d->fd[d->n] = fd;
	d->n++;
}

/* Pops until the top is parent and returns its fd (the tree is in depth-first order). */
static int
dir_stack_fd_of(struct dir_stack *d, uint32_t parent)
{
	while (d->n > 0 && d->idx[d->n - 1] != parent) {
		d->n--;
		if (d->n > 0) /* the bottom is the export root, owned by the caller */
			close(d->fd[d->n]);
	}
	return d->n > 0 ? d->fd[d->n - 1] : -1;
}

static bool
all_zero(const char *p, size_t n)
{
	return n > 0 && p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* Copies a blob, leaving holes where whole blocks are zero so sparse files stay sparse. */
static int
copy_content(struct exporter *ex, int in, int out, const char *path, struct kl_error **err)
{
	off_t off = 0;
	bool hole_at_end = false;

	for (;;) {
		ssize_t n = kl_io_pread_full(in, ex->buf, COPY_CHUNK, off);
		if (n < 0)
			return kl_error_set(err, (int)-n, "reading content of '%s'", path);
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i += HOLE_BLOCK) {
			size_t len = (size_t)(n - i) < HOLE_BLOCK ? (size_t)(n - i) : HOLE_BLOCK;
			int r;
			hole_at_end = all_zero(ex->buf + i, len);
			if (hole_at_end)
				continue;
			r = kl_io_pwrite_all(out, ex->buf + i, len, off + i);
			if (r < 0)
				return kl_error_set(err, -r, "writing '%s'", path);
		}
		off += n;
	}
	if (hole_at_end && ftruncate(out, off) < 0)
		return kl_error_set(err, errno, "writing '%s'", path);
	return 0;
}

static int
write_regular(struct exporter *ex, int dir_fd, const struct tree_entry *e, struct kl_error **err)
{
	_cleanup_close_ int out = -1, in = -1;
	char id[DIGEST_STRING_SIZE];
	int r;

	out = openat(dir_fd, e->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return kl_error_set(err, errno, "creating '%s'", e->path);
	if (!(e->flags & TREE_ENTRY_HAS_DIGEST)) {
		if (e->size == 0 && !e->locator)
			return 0;
		return kl_error_setf(err, ENOTSUP,
		                     "'%s' has no content in the store (locator '%.*s')", e->path,
		                     (int)e->locator_len, e->locator ? e->locator : "");
	}
	in = store_open_blob_verified(ex->store, &e->digest, err);
	if (in == -ENOENT)
		return kl_error_setf(err, ENOENT, "content %s of '%s' is missing from the store",
		                     digest_to_string(&e->digest, id), e->path);
	if (in < 0) {
		kl_error_prefix(err, "'%s'", e->path);
		return in;
	}
	r = copy_content(ex, in, out, e->path, err);
	if (r < 0)
		return r;
	return 0;
}

static int
create_entry(struct exporter *ex, int dir_fd, const struct tree_entry *e, struct kl_error **err)
{
	switch (e->type) {
	case TREE_REG:
		return write_regular(ex, dir_fd, e, err);
	case TREE_DIR:
		if (mkdirat(dir_fd, e->name, 0700) < 0)
			return kl_error_set(err, errno, "creating directory '%s'", e->path);
		return 0;
	case TREE_SYMLINK:
		if (symlinkat(e->link, dir_fd, e->name) < 0)
			return kl_error_set(err, errno, "creating symlink '%s'", e->path);
		return 0;
	case TREE_HARDLINK:
		if (linkat(ex->root_fd, e->link, dir_fd, e->name, 0) < 0)
			return kl_error_set(err, errno, "linking '%s' to '%s'", e->path, e->link);
		return 0;
	case TREE_CHAR:
	case TREE_BLOCK:
	case TREE_FIFO: {
		mode_t type = e->type == TREE_CHAR    ? S_IFCHR
		              : e->type == TREE_BLOCK ? S_IFBLK
		                                      : S_IFIFO;
		if (mknodat(dir_fd, e->name, type | 0600, (dev_t)e->rdev) < 0)
			return kl_error_set(err, errno, "creating node '%s'", e->path);
		return 0;
	}
	default:
		return kl_error_setf(err, EINVAL,
		                     "'%s' is a whiteout: a diff tree cannot be exported", e->path);
	}
}

static int
set_xattrs(struct exporter *ex, int dir_fd, const struct tree_entry *e, struct kl_error **err)
{
	_cleanup_free_ char *p = NULL;

	if (e->n_xattrs == 0)
		return 0;
	if (e->path_len)
		p = xasprintf("/proc/self/fd/%d/%s", dir_fd, e->name);
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		struct tree_xattr x;
		int r;

		tree_entry_xattr(ex->tree, e, i, &x);
		r = p ? lsetxattr(p, x.name, x.value, x.value_len, 0)
		      : fsetxattr(dir_fd, x.name, x.value, x.value_len, 0);
		if (r < 0)
			return kl_error_set(err, errno, "setting xattr '%s' on '%s'", x.name,
			                    e->path_len ? e->path : ".");
	}
	return 0;
}

/* Ownership, then mode (chown clears setuid), then xattrs (chown clears capabilities), then
 * times. dir_fd/name name the entry; the root is dir_fd itself with name "". */
static int
set_metadata(struct exporter *ex, int dir_fd, const struct tree_entry *e, struct kl_error **err)
{
	const char *name = e->path_len ? e->name : "";
	int flags = AT_SYMLINK_NOFOLLOW | (e->path_len ? 0 : AT_EMPTY_PATH);
	const char *shown = e->path_len ? e->path : ".";
	struct timespec times[2] = {{.tv_nsec = UTIME_OMIT},
	                            {.tv_sec = e->mtime_sec, .tv_nsec = e->mtime_nsec}};
	int r;

	if (fchownat(dir_fd, name, e->uid, e->gid, flags) < 0)
		return kl_error_set(err, errno, "setting owner of '%s'", shown);
	if (e->type != TREE_SYMLINK && fchmodat(dir_fd, e->path_len ? name : ".", e->mode, 0) < 0)
		return kl_error_set(err, errno, "setting mode of '%s'", shown);
	r = set_xattrs(ex, dir_fd, e, err);
	if (r < 0)
		return r;
	if (utimensat(dir_fd, e->path_len ? name : ".", times, AT_SYMLINK_NOFOLLOW) < 0)
		return kl_error_set(err, errno, "setting times of '%s'", shown);
	return 0;
}

static int
write_entries(struct exporter *ex, struct kl_error **err)
{
	uint32_t n = tree_count(ex->tree);
	int r;

	dir_stack_push(&ex->dirs, TREE_ROOT, ex->root_fd);
	for (uint32_t i = 1; i < n; i++) {
		struct tree_entry e;
		int dir_fd;

		tree_entry_at(ex->tree, i, &e);
		dir_fd = dir_stack_fd_of(&ex->dirs, tree_parent(ex->tree, i));
		if (dir_fd < 0)
			return kl_error_setf(err, EINVAL, "'%s' is outside the tree", e.path);
		r = create_entry(ex, dir_fd, &e, err);
		if (r < 0)
			return r;
		if (e.type == TREE_DIR) {
			int fd =
			    openat(dir_fd, e.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return kl_error_set(err, errno, "opening '%s'", e.path);
			dir_stack_push(&ex->dirs, i, fd);
		} else if (e.type != TREE_HARDLINK) {
			r = set_metadata(ex, dir_fd, &e, err);
			if (r < 0)
				return r;
		}
	}
	(void)dir_stack_fd_of(&ex->dirs, TREE_NONE);
	return 0;
}

/* Directory metadata last, children before parents: a read-only directory or a changed mtime
 * must not be disturbed by writing inside it. */
static int
finish_directories(struct exporter *ex, struct kl_error **err)
{
	for (uint32_t i = tree_count(ex->tree); i-- > 0;) {
		_cleanup_close_ int parent_fd = -1;
		struct tree_entry e;
		_cleanup_free_ char *parent = NULL;
		int r;

		tree_entry_at(ex->tree, i, &e);
		if (e.type != TREE_DIR)
			continue;
		if (i == TREE_ROOT)
			return set_metadata(ex, ex->root_fd, &e, err);
		parent = xstrndup(e.path, (size_t)(e.name - e.path));
		parent_fd = openat(ex->root_fd, *parent ? parent : ".",
		                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (parent_fd < 0)
			return kl_error_set(err, errno, "opening '%s'", *parent ? parent : ".");
		r = set_metadata(ex, parent_fd, &e, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
open_empty_dir(const char *dir, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	struct dirent *de;
	bool empty = true;
	DIR *d;
	int r, dfd;

	r = kl_path_mkdir_p(dir, 0755);
	if (r < 0)
		return kl_error_set(err, -r, "creating '%s'", dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s'", dir);
	dfd = dup(fd);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return kl_error_set(err, errno, "reading '%s'", dir);
	}
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	if (!empty)
		return kl_error_setf(err, ENOTEMPTY, "'%s' is not empty", dir);
	return TAKE_FD(fd);
}

int
tree_export_dir(struct store *s, const struct tree *t, const char *dir, struct kl_error **err)
{
	_cleanup_close_ int root_fd = -1;
	struct exporter ex = {.store = s, .tree = t};
	int r;

	root_fd = open_empty_dir(dir, err);
	if (root_fd < 0)
		return root_fd;
	ex.root_fd = root_fd;
	ex.buf = xmalloc(COPY_CHUNK);
	r = write_entries(&ex, err);
	if (r >= 0)
		r = finish_directories(&ex, err);
	(void)dir_stack_fd_of(&ex.dirs, TREE_NONE);
	free(ex.dirs.idx);
	free(ex.dirs.fd);
	free(ex.buf);
	if (r < 0) {
		kl_error_prefix(err, "exporting to '%s'", dir);
		return r;
	}
	return 0;
}
