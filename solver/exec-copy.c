// SPDX-License-Identifier: Apache-2.0
/* Copying a file or directory tree with its metadata (the lazy view of an input into a new
 * cache dir, or a writable copy of one bound file): contents through copy_file_range, links,
 * devices, fifos, hardlinks, modes, owners, xattrs and times. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/tree-hardlinks.h"
#include "fs/tree-import.h"
#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

struct copier {
	struct tree_hardlinks *links;
	int dst_root;
	char *path; /* relative to both roots */
	size_t len, cap;
	char *buf;
};

static const char *
shown(const struct copier *c)
{
	return c->len ? c->path : ".";
}

static int
copy_bytes(struct copier *c, int in, int out, struct kl_error **err)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);

		if (n > 0)
			continue;
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS)
			return kl_error_set(err, errno, "copying '%s'", shown(c));
		break;
	}
	for (;;) {
		ssize_t n = read(in, c->buf, 1 << 20);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kl_error_set(err, errno, "reading '%s'", shown(c));
		if (n == 0)
			return 0;
		r = kl_io_write_all(out, c->buf, (size_t)n);
		if (r < 0)
			return kl_error_set(err, -r, "writing '%s'", shown(c));
	}
}

static void
copy_xattrs(int src_dir, int dst_dir, const char *name)
{
	_cleanup_free_ char *names = NULL, *value = NULL;
	_cleanup_free_ char *src = xasprintf("/proc/self/fd/%d/%s", src_dir, name);
	_cleanup_free_ char *dst = xasprintf("/proc/self/fd/%d/%s", dst_dir, name);
	ssize_t n = llistxattr(src, NULL, 0);

	if (n <= 0)
		return;
	names = xmalloc((size_t)n);
	n = llistxattr(src, names, (size_t)n);
	for (char *p = names; n > 0 && p < names + n; p += strlen(p) + 1) {
		ssize_t vl = lgetxattr(src, p, NULL, 0);

		if (vl < 0)
			continue;
		value = xrealloc(value, (size_t)vl + 1);
		vl = lgetxattr(src, p, value, (size_t)vl);
		if (vl >= 0)
			(void)lsetxattr(dst, p, value, (size_t)vl, 0);
	}
}

static int copy_dir(struct copier *c, int src_dir, int dst_dir, struct kl_error **err);

/* Copies name from src_dir to dst_name in dst_dir. */
static int
copy_entry(struct copier *c, int src_dir, const char *name, int dst_dir, const char *dst_name,
           struct kl_error **err)
{
	struct timespec ts[2];
	struct stat st;
	int r = 0;

	if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kl_error_set(err, errno, "stat '%s'", shown(c));
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		const char *leader = tree_hardlinks_leader(c->links, &st, c->path, c->len);

		if (leader) {
			if (linkat(c->dst_root, leader, dst_dir, dst_name, 0) < 0)
				return kl_error_set(err, errno, "linking '%s'", shown(c));
			return 0;
		}
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR: {
		_cleanup_close_ int sfd = -1, dfd = -1;

		if (mkdirat(dst_dir, dst_name, 0700) < 0 && errno != EEXIST)
			return kl_error_set(err, errno, "making '%s'", shown(c));
		sfd = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		dfd = openat(dst_dir, dst_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || dfd < 0)
			return kl_error_set(err, errno, "opening '%s'", shown(c));
		if (c->dst_root < 0) /* the top: hardlinks below are relative to it */
			c->dst_root = dup(dfd);
		r = copy_dir(c, sfd, dfd, err);
		break;
	}
	case S_IFREG: {
		_cleanup_close_ int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int out = -1;

		if (in < 0)
			return kl_error_set(err, errno, "opening '%s'", shown(c));
		out = openat(dst_dir, dst_name,
		             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return kl_error_set(err, errno, "creating '%s'", shown(c));
		r = copy_bytes(c, in, out, err);
		break;
	}
	case S_IFLNK: {
		_cleanup_free_ char *target = xmalloc((size_t)st.st_size + 1);
		ssize_t n = readlinkat(src_dir, name, target, (size_t)st.st_size + 1);

		if (n < 0 || n > st.st_size)
			return kl_error_set(err, n < 0 ? errno : EAGAIN, "reading link '%s'",
			                    shown(c));
		target[n] = '\0';
		if (symlinkat(target, dst_dir, dst_name) < 0)
			return kl_error_set(err, errno, "making link '%s'", shown(c));
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
		if (mknodat(dst_dir, dst_name, st.st_mode & S_IFMT, st.st_rdev) < 0)
			return kl_error_set(err, errno, "making '%s'", shown(c));
		break;
	default:
		return 0; /* sockets */
	}
	if (r < 0)
		return r;
	if (fchownat(dst_dir, dst_name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return kl_error_set(err, errno, "chown of '%s'", shown(c));
	if (!S_ISLNK(st.st_mode)) {
		copy_xattrs(src_dir, dst_dir, name);
		if (fchmodat(dst_dir, dst_name, st.st_mode & 07777, 0) < 0)
			return kl_error_set(err, errno, "chmod of '%s'", shown(c));
	}
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (utimensat(dst_dir, dst_name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return kl_error_set(err, errno, "setting the times of '%s'", shown(c));
	return 0;
}

static int
copy_dir(struct copier *c, int src_dir, int dst_dir, struct kl_error **err)
{
	size_t base = c->len;
	char **names = NULL;
	size_t n = 0;
	int r;

	r = tree_import_read_names(src_dir, &names, /* ret_types= */ NULL, &n);
	if (r < 0)
		return kl_error_set(err, -r, "reading directory '%s'", shown(c));
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);

		if (r >= 0) {
			c->path = xgrow(c->path, &c->cap, base + nl + 2, 1);
			c->len = base;
			if (base)
				c->path[c->len++] = '/';
			memcpy(c->path + c->len, names[i], nl + 1);
			c->len += nl;
			r = copy_entry(c, src_dir, names[i], dst_dir, names[i], err);
		}
		free(names[i]);
	}
	free(names);
	c->len = base;
	c->path[base] = '\0';
	return r;
}

int
exec_copy_tree(const char *src, const char *dst, struct kl_error **err)
{
	_cleanup_free_ char *sdir = xstrdup(src), *ddir = xstrdup(dst);
	char *sname = strrchr(sdir, '/'), *dname = strrchr(ddir, '/');
	_cleanup_close_ int sfd = -1, dfd = -1;
	struct copier c = {.links = tree_hardlinks_new(), .dst_root = -1, .buf = xmalloc(1 << 20)};
	int r;

	if (!sname || !dname)
		return kl_error_setf(err, EINVAL, "copying '%s': not an absolute path", src);
	*sname++ = '\0';
	*dname++ = '\0';
	sfd = open(*sdir ? sdir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dfd = open(*ddir ? ddir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || dfd < 0)
		return kl_error_set(err, errno, "copying '%s' to '%s'", src, dst);
	c.path = xgrow(NULL, &c.cap, 256, 1);
	c.path[0] = '\0';
	r = copy_entry(&c, sfd, sname, dfd, dname, err);
	if (r < 0)
		kl_error_prefix(err, "copying '%s'", src);
	if (c.dst_root >= 0)
		close(c.dst_root);
	tree_hardlinks_free(c.links);
	free(c.path);
	free(c.buf);
	return r;
}
