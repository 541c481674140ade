// SPDX-License-Identifier: Apache-2.0
/* Scanning a directory into a tree: a sorted depth-first walk, so hardlink leaders are the
 * smallest path of their inode and the same filesystem always yields the same tree id. */
#include "fs/tree-import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree-hardlinks.h"
#include "fs/tree-xattrs.h"
#include "fs/tree.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SMALL_FILE_MAX (1u << 20) /* read whole, hash, and skip the write when already stored */

struct importer {
	struct store *store;
	const struct tree_import_options *opts;
	struct tree_builder *builder;
	struct store_batch *batch;
	char *abs_root; /* absolute path of the scanned dir, for locators */
	char *path;     /* current relative path */
	size_t path_len, path_cap;
	struct tree_hardlinks *inodes; /* leaders of regular files with st_nlink > 1 */
	char *buf;                     /* SMALL_FILE_MAX bytes */
};

static const char *
shown_path(struct importer *im)
{
	return im->path_len ? im->path : ".";
}

/* Ingests a regular file's bytes; small files are skipped when their blob already exists. */
static int
ingest_file(struct importer *im, int fd, struct digest *ret, struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *w = NULL;
	ssize_t n;
	int r;

	n = kl_io_read_full(fd, im->buf, SMALL_FILE_MAX);
	if (n < 0)
		return kl_error_set(err, (int)-n, "reading '%s'", shown_path(im));
	if ((size_t)n < SMALL_FILE_MAX) {
		digest_buffer(im->buf, (size_t)n, ret);
		if (store_has_blob(im->store, ret))
			return 0;
	}
	r = store_writer_begin(im->store, &w, err);
	if (r < 0)
		return r;
	while (n > 0) {
		r = store_writer_write(w, im->buf, (size_t)n, err);
		if (r < 0)
			return r;
		n = kl_io_read_full(fd, im->buf, SMALL_FILE_MAX);
		if (n < 0)
			return kl_error_set(err, (int)-n, "reading '%s'", shown_path(im));
	}
	return store_writer_commit_batch(TAKE_PTR(w), im->batch, /* expected= */ NULL, ret, err);
}

static int
regular_content(struct importer *im, int dir_fd, const char *name, const struct stat *st,
                struct tree_entry *e, char **ret_locator, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	struct stat now;
	int r;

	if (im->opts->mode == TREE_IMPORT_LOCATE) {
		_cleanup_free_ char *abs = xasprintf("%s/%s", im->abs_root, im->path);
		*ret_locator = tree_local_locator_format(abs, st);
		e->locator = *ret_locator;
		e->locator_len = strlen(*ret_locator);
		return 0;
	}
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s'", shown_path(im));
	r = ingest_file(im, fd, &e->digest, err);
	if (r < 0)
		return r;
	if (fstat(fd, &now) < 0)
		return kl_error_set(err, errno, "stat '%s'", shown_path(im));
	if (now.st_size != st->st_size || now.st_mtim.tv_sec != st->st_mtim.tv_sec ||
	    now.st_mtim.tv_nsec != st->st_mtim.tv_nsec)
		return kl_error_setf(err, EAGAIN, "'%s' changed while it was being imported",
		                     shown_path(im));
	e->flags |= TREE_ENTRY_HAS_DIGEST;
	return 0;
}

static int
fill_type(struct importer *im, int dir_fd, const char *name, const struct stat *st,
          struct tree_entry *e, char **ret_alloc, struct kl_error **err)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		e->type = TREE_DIR;
		return 0;
	case S_IFCHR:
	case S_IFBLK:
		e->type = S_ISCHR(st->st_mode) ? TREE_CHAR : TREE_BLOCK;
		e->rdev = st->st_rdev;
		return 0;
	case S_IFIFO:
		e->type = TREE_FIFO;
		return 0;
	case S_IFLNK: {
		char *target = xmalloc((size_t)st->st_size + 1);
		ssize_t n = readlinkat(dir_fd, name, target, (size_t)st->st_size + 1);
		if (n < 0 || n > st->st_size) {
			free(target);
			return kl_error_set(err, n < 0 ? errno : EAGAIN, "reading link '%s'",
			                    shown_path(im));
		}
		target[n] = '\0';
		e->type = TREE_SYMLINK;
		e->link = *ret_alloc = target;
		e->link_len = (size_t)n;
		e->size = (uint64_t)n;
		return 0;
	}
	case S_IFREG: {
		const char *leader =
		    st->st_nlink > 1 ? tree_hardlinks_leader(im->inodes, st, im->path, im->path_len)
		                     : NULL;
		if (leader) {
			e->type = TREE_HARDLINK;
			e->link = leader;
			e->link_len = strlen(leader);
			return 0;
		}
		e->type = TREE_REG;
		e->size = (uint64_t)st->st_size;
		return regular_content(im, dir_fd, name, st, e, ret_alloc, err);
	}
	default:
		return -EOPNOTSUPP; /* sockets: not part of an image */
	}
}

static int scan_dir(struct importer *im, int dir_fd, struct kl_error **err);

/* Records the entry at im->path (name in dir_fd) and descends into directories. */
static int
scan_entry(struct importer *im, int dir_fd, const char *name, struct kl_error **err)
{
	_cleanup_(tree_xattr_list_done) struct tree_xattr_list xl = {0};
	_cleanup_free_ char *alloc = NULL;
	struct tree_entry e = {0};
	struct stat st;
	int r;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kl_error_set(err, errno, "stat '%s'", shown_path(im));
	r = fill_type(im, dir_fd, name, &st, &e, &alloc, err);
	if (r == -EOPNOTSUPP) {
		kl_debug("tree import: skipping socket '%s'", shown_path(im));
		return 0;
	}
	if (r < 0)
		return r;
	e.path = im->path;
	e.path_len = im->path_len;
	e.mode = st.st_mode & 07777;
	e.uid = st.st_uid;
	e.gid = st.st_gid;
	e.mtime_sec = st.st_mtim.tv_sec;
	e.mtime_nsec = (uint32_t)st.st_mtim.tv_nsec;
	if (e.type != TREE_HARDLINK) {
		r = tree_xattrs_read(dir_fd, name, shown_path(im), &xl, err);
		if (r < 0)
			return r;
	}
	r = tree_builder_add(im->builder, &e, xl.xs, xl.n, err);
	if (r < 0)
		return r;
	if (e.type == TREE_DIR) {
		_cleanup_close_ int fd =
		    openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return kl_error_set(err, errno, "opening directory '%s'", shown_path(im));
		return scan_dir(im, fd, err);
	}
	return 0;
}

struct named {
	char *name;
	unsigned char type;
};

static int
compare_named(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

int
tree_import_read_names(int fd, char ***ret, unsigned char **ret_types, size_t *ret_n)
{
	int dfd = dup(fd);
	struct named *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	char **names;
	DIR *d;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		v[n++] = (struct named){xstrdup(de->d_name), de->d_type};
	}
	if (errno) {
		int saved = errno;
		closedir(d);
		for (size_t i = 0; i < n; i++)
			free(v[i].name);
		free(v);
		return -saved;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), compare_named);
	names = xmalloc((n ? n : 1) * sizeof(*names));
	if (ret_types)
		*ret_types = xmalloc(n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		names[i] = v[i].name;
		if (ret_types)
			(*ret_types)[i] = v[i].type;
	}
	free(v);
	*ret = names;
	*ret_n = n;
	return 0;
}

static int
scan_dir(struct importer *im, int dir_fd, struct kl_error **err)
{
	size_t base_len = im->path_len;
	char **names = NULL;
	size_t n = 0;
	int r;

	r = tree_import_read_names(dir_fd, &names, /* ret_types= */ NULL, &n);
	if (r < 0)
		return kl_error_set(err, -r, "reading directory '%s'", shown_path(im));
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);
		if (r >= 0) {
			im->path = xgrow(im->path, &im->path_cap, base_len + nl + 2, 1);
			im->path_len = base_len;
			if (base_len)
				im->path[im->path_len++] = '/';
			memcpy(im->path + im->path_len, names[i], nl + 1);
			im->path_len += nl;
			r = scan_entry(im, dir_fd, names[i], err);
		}
		free(names[i]);
	}
	free(names);
	im->path_len = base_len;
	im->path[base_len] = '\0';
	return r < 0 ? r : 0;
}

static void
importer_done(struct importer *im)
{
	tree_hardlinks_free(im->inodes);
	free(im->path);
	free(im->abs_root);
	free(im->buf);
	store_batch_free(im->batch);
	tree_builder_free(im->builder);
}

int
tree_import_dir(struct store *s, const char *dir, const struct tree_import_options *opts,
                struct digest *ret, struct kl_error **err)
{
	static const struct tree_import_options defaults = {.mode = TREE_IMPORT_INGEST};
	_cleanup_(importer_done) struct importer im = {
	    .store = s,
	    .opts = opts ? opts : &defaults,
	    .builder = tree_builder_new(),
	    .inodes = tree_hardlinks_new(),
	    .batch = store_batch_new(s),
	    .buf = xmalloc(SMALL_FILE_MAX),
	};
	_cleanup_close_ int fd = -1;
	int r;

	im.abs_root = realpath(dir, NULL);
	if (!im.abs_root)
		return kl_error_set(err, errno, "'%s'", dir);
	fd = open(im.abs_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "opening directory '%s'", dir);
	im.path = xgrow(NULL, &im.path_cap, 256, 1);
	im.path[0] = '\0';
	r = scan_entry(&im, fd, ".", err);
	if (r >= 0)
		r = store_batch_commit(im.batch, err);
	if (r >= 0)
		r = tree_builder_write_trusted(im.builder, s, ret, err);
	if (r < 0) {
		kl_error_prefix(err, "importing '%s'", dir);
		return r;
	}
	return 0;
}

/* Writes v in decimal at p, zero-padded to at least width digits; returns the end. */
static char *
put_decimal(char *p, uint64_t v, int width)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		tmp[n++] = '0';
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *
put_time(char *p, const struct timespec *ts)
{
	if (ts->tv_sec < 0) {
		*p++ = '-';
		p = put_decimal(p, -(uint64_t)ts->tv_sec, 1);
	} else {
		p = put_decimal(p, (uint64_t)ts->tv_sec, 1);
	}
	*p++ = '.';
	return put_decimal(p, (uint64_t)ts->tv_nsec, 9);
}

/* "local:DEV:INO:SIZE:MTIME.NSEC:CTIME.NSEC:PATH", formatted by hand: a context scan makes
 * one per file, and printf's machinery was a tenth of a rescan. */
char *
tree_local_locator_format(const char *path, const struct stat *st)
{
	size_t plen = strlen(path);
	char *out = xmalloc(6 + 5 * 22 + 2 * 10 + plen + 1), *p = out;

	memcpy(p, "local:", 6);
	p += 6;
	p = put_decimal(p, (uint64_t)st->st_dev, 1);
	*p++ = ':';
	p = put_decimal(p, (uint64_t)st->st_ino, 1);
	*p++ = ':';
	p = put_decimal(p, (uint64_t)st->st_size, 1);
	*p++ = ':';
	p = put_time(p, &st->st_mtim);
	*p++ = ':';
	p = put_time(p, &st->st_ctim);
	*p++ = ':';
	memcpy(p, path, plen + 1);
	return out;
}

int
tree_local_locator_parse(const char *loc, size_t len, struct tree_local_locator *ret)
{
	_cleanup_free_ char *s = xstrndup(loc, len);
	struct tree_local_locator l = {0};
	int path_off = -1;

	if (strlen(s) != len ||
	    sscanf(s,
	           "local:%" SCNu64 ":%" SCNu64 ":%" SCNu64 ":%" SCNd64 ".%" SCNu32 ":%" SCNd64
	           ".%" SCNu32 ":%n",
	           &l.dev, &l.ino, &l.size, &l.mtime_sec, &l.mtime_nsec, &l.ctime_sec,
	           &l.ctime_nsec, &path_off) != 7 ||
	    path_off < 0 || (size_t)path_off >= len || loc[path_off] != '/')
		return -EINVAL;
	l.path = loc + path_off;
	l.path_len = len - (size_t)path_off;
	*ret = l;
	return 0;
}

bool
tree_local_locator_matches(const struct tree_local_locator *l, const struct stat *st)
{
	return S_ISREG(st->st_mode) && (uint64_t)st->st_dev == l->dev &&
	       (uint64_t)st->st_ino == l->ino && (uint64_t)st->st_size == l->size &&
	       st->st_mtim.tv_sec == l->mtime_sec &&
	       (uint32_t)st->st_mtim.tv_nsec == l->mtime_nsec &&
	       st->st_ctim.tv_sec == l->ctime_sec && (uint32_t)st->st_ctim.tv_nsec == l->ctime_nsec;
}
