// SPDX-License-Identifier: Apache-2.0
/* A step's overlay upper dir as a diff tree: whiteouts (0/0 character devices) and opaque dirs
 * (trusted.overlay.opaque=y) become tree whiteouts and opaque dirs, files are hashed through
 * io_uring and moved into the store, and what the runtime made only to mount something on
 * (an empty file or dir, and the parents it made for it) is left out. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree-hardlinks.h"
#include "fs/tree-import.h"
#include "fs/tree-xattrs.h"
#include "fs/tree.h"
#include "fs/uring.h"
#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define OVERLAY_XATTR_PREFIX "trusted.overlay."
#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"
#define HASH_BATCH 128 /* files open at once while hashing */

struct upper_entry {
	struct tree_entry e; /* path and link point at the strings below */
	char *path;
	char *link;
	struct tree_xattr_list xl;
	size_t file; /* regular files: index in files */
};

struct upper_file {
	size_t entry;
	uint64_t size;
	struct digest digest;
};

struct mountpoint {
	char *path; /* resolved in the input tree, relative */
	bool existed;
};

struct walker {
	struct exec_step *st;
	int upper_fd;
	struct mountpoint *mps;
	size_t n_mps;
	struct upper_entry *entries;
	size_t n_entries, cap_entries;
	struct upper_file *files;
	size_t n_files, cap_files;
	struct tree_hardlinks *links;
	char *path;
	size_t len, cap;
};

static const char *
shown(const struct walker *w)
{
	return w->len ? w->path : ".";
}

/* Drops trusted.overlay.* (overlayfs's own bookkeeping) from l; says whether the dir is opaque. */
static bool
filter_overlay_xattrs(struct tree_xattr_list *l)
{
	bool opaque = false;
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct tree_xattr *x = &l->xs[i];

		if (strncmp(x->name, OVERLAY_XATTR_PREFIX, strlen(OVERLAY_XATTR_PREFIX)) != 0) {
			l->xs[n++] = *x;
			continue;
		}
		if (!strcmp(x->name, OVERLAY_OPAQUE_XATTR) && x->value_len == 1 &&
		    *(const char *)x->value == 'y')
			opaque = true;
	}
	l->n = n;
	return opaque;
}

/* The mount point at the walker's path, or NULL. A path that is a proper parent of one is a
 * mount point too (existed from the tree): the runtime may have made it. */
static const struct mountpoint *
mountpoint_at(const struct walker *w, bool *ret_target, bool *ret_existed)
{
	const struct mountpoint *found = NULL;

	for (size_t i = 0; i < w->n_mps; i++) {
		const char *p = w->mps[i].path;
		size_t pl = strlen(p);

		if (pl == w->len && memcmp(p, w->path, pl) == 0) {
			*ret_target = true;
			*ret_existed = w->mps[i].existed;
			return &w->mps[i];
		}
		if (pl > w->len && memcmp(p, w->path, w->len) == 0 && p[w->len] == '/')
			found = &w->mps[i];
	}
	if (found) {
		uint32_t idx;

		*ret_target = false;
		*ret_existed = w->st->root && tree_lookup(w->st->root, w->path, w->len, &idx) == 0;
	}
	return found;
}

/* True when the input tree has a directory at the walker's path with st's mode and owner and
 * the xattrs l: the upper only holds it because something was made inside it. */
static bool
same_dir_as_input(const struct walker *w, const struct stat *st, const struct tree_xattr_list *l)
{
	const struct tree *t = w->st->root;
	struct tree_entry e;
	uint32_t idx;

	if (!t || tree_lookup(t, w->path, w->len, &idx) < 0)
		return false;
	tree_entry_at(t, idx, &e);
	if (e.type != TREE_DIR || e.mode != (st->st_mode & 07777) || e.uid != st->st_uid ||
	    e.gid != st->st_gid || e.n_xattrs != l->n)
		return false;
	for (uint32_t i = 0; i < e.n_xattrs; i++) {
		struct tree_xattr x;
		bool match = false;

		tree_entry_xattr(t, &e, i, &x);
		for (size_t j = 0; j < l->n && !match; j++)
			match = !strcmp(l->xs[j].name, x.name) &&
			        l->xs[j].value_len == x.value_len &&
			        !memcmp(l->xs[j].value, x.value, x.value_len);
		if (!match)
			return false;
	}
	return true;
}

static struct upper_entry *
add_entry(struct walker *w, const struct stat *st, enum tree_entry_type type)
{
	struct upper_entry *u;

	w->entries = xgrow(w->entries, &w->cap_entries, w->n_entries + 1, sizeof(*w->entries));
	u = &w->entries[w->n_entries++];
	*u = (struct upper_entry){.path = xstrndup(w->path, w->len), .file = SIZE_MAX};
	u->e.path = u->path;
	u->e.path_len = w->len;
	u->e.type = type;
	if (type != TREE_WHITEOUT) {
		u->e.mode = st->st_mode & 07777;
		u->e.uid = st->st_uid;
		u->e.gid = st->st_gid;
		u->e.mtime_sec = st->st_mtim.tv_sec;
		u->e.mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	}
	return u;
}

static int walk_dir(struct walker *w, int dir_fd, struct kl_error **err);

/* Fills a non-directory's type-specific fields; -EOPNOTSUPP for a socket. */
static int
fill_leaf(struct walker *w, int dir_fd, const char *name, const struct stat *st,
          struct upper_entry *u, struct kl_error **err)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG: {
		const char *leader =
		    st->st_nlink > 1 ? tree_hardlinks_leader(w->links, st, w->path, w->len) : NULL;

		if (leader) {
			u->e.type = TREE_HARDLINK;
			u->link = xstrdup(leader);
			u->e.link = u->link;
			u->e.link_len = strlen(leader);
			return 0;
		}
		u->e.type = TREE_REG;
		u->e.size = (uint64_t)st->st_size;
		w->files = xgrow(w->files, &w->cap_files, w->n_files + 1, sizeof(*w->files));
		w->files[w->n_files] = (struct upper_file){.entry = (size_t)(u - w->entries),
		                                           .size = (uint64_t)st->st_size};
		u->file = w->n_files++;
		return 0;
	}
	case S_IFLNK: {
		char *target = xmalloc((size_t)st->st_size + 1);
		ssize_t n = readlinkat(dir_fd, name, target, (size_t)st->st_size + 1);

		if (n < 0 || n > st->st_size) {
			free(target);
			return kl_error_set(err, n < 0 ? errno : EAGAIN, "reading link '%s'",
			                    shown(w));
		}
		target[n] = '\0';
		u->e.type = TREE_SYMLINK;
		u->link = target;
		u->e.link = target;
		u->e.link_len = (size_t)n;
		u->e.size = (uint64_t)n;
		return 0;
	}
	case S_IFCHR:
	case S_IFBLK:
		u->e.type = S_ISCHR(st->st_mode) ? TREE_CHAR : TREE_BLOCK;
		u->e.rdev = st->st_rdev;
		return 0;
	case S_IFIFO:
		u->e.type = TREE_FIFO;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/* Records the entry at the walker's path (name in dir_fd); returns 1 when it is part of the
 * diff, 0 when it was left out. */
static int
walk_entry(struct walker *w, int dir_fd, const char *name, struct kl_error **err)
{
	_cleanup_(tree_xattr_list_done) struct tree_xattr_list xl = {0};
	bool opaque, target = false, existed = false;
	const struct mountpoint *mp = mountpoint_at(w, &target, &existed);
	struct upper_entry *u;
	struct stat st;
	int r, kept = 0;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kl_error_set(err, errno, "stat '%s'", shown(w));
	if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
		add_entry(w, &st, TREE_WHITEOUT);
		return 1;
	}
	if (S_ISSOCK(st.st_mode))
		return 0; /* not part of an image */
	/* an empty file the runtime made to bind a file on */
	if (mp && target && !existed && S_ISREG(st.st_mode) && st.st_size == 0 && st.st_nlink == 1)
		return 0;
	r = tree_xattrs_read(dir_fd, name, shown(w), &xl, err);
	if (r < 0)
		return r;
	opaque = filter_overlay_xattrs(&xl);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int fd =
		    openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0)
			return kl_error_set(err, errno, "opening directory '%s'", shown(w));
		kept = walk_dir(w, fd, err);
		if (kept < 0)
			return kept;
		/* a dir the runtime made for a mount point (or that only holds one) */
		if (mp && kept == 0 && !opaque && (!existed || same_dir_as_input(w, &st, &xl)))
			return 0;
		u = add_entry(w, &st, TREE_DIR);
		if (opaque)
			u->e.flags |= TREE_ENTRY_OPAQUE;
	} else {
		u = add_entry(w, &st, TREE_REG);
		r = fill_leaf(w, dir_fd, name, &st, u, err);
		if (r == -EOPNOTSUPP) { /* a kind of file no image holds */
			free(u->path);
			w->n_entries--;
			return 0;
		}
		if (r < 0)
			return r;
	}
	if (u->e.type != TREE_HARDLINK) {
		u->xl = xl;
		xl = (struct tree_xattr_list){0};
	}
	return 1;
}

static int
walk_dir(struct walker *w, int dir_fd, struct kl_error **err)
{
	size_t base = w->len;
	char **names = NULL;
	size_t n = 0;
	int r, kept = 0;

	r = tree_import_read_names(dir_fd, &names, /* ret_types= */ NULL, &n);
	if (r < 0)
		return kl_error_set(err, -r, "reading directory '%s'", shown(w));
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);

		if (r >= 0) {
			w->path = xgrow(w->path, &w->cap, base + nl + 2, 1);
			w->len = base;
			if (base)
				w->path[w->len++] = '/';
			memcpy(w->path + w->len, names[i], nl + 1);
			w->len += nl;
			r = walk_entry(w, dir_fd, names[i], err);
			if (r > 0)
				kept += r;
		}
		free(names[i]);
	}
	free(names);
	w->len = base;
	w->path[base] = '\0';
	return r < 0 ? r : kept;
}

static int
hash_chunk(void *userdata, const void *buf, size_t n)
{
	digest_ctx_update(userdata, buf, n);
	return 0;
}

/* Hashes files[first..first+n) through one io_uring run. */
static int
hash_batch(struct walker *w, struct uring *u, size_t first, size_t n, struct kl_error **err)
{
	struct uring_job jobs[HASH_BATCH];
	struct digest_ctx *ctx[HASH_BATCH] = {0};
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		const struct upper_file *f = &w->files[first + i];

		jobs[i] = (struct uring_job){.src_fd = -1, .dst_fd = -1, .size = f->size};
		ctx[i] = digest_ctx_new();
		jobs[i].fn = hash_chunk;
		jobs[i].userdata = ctx[i];
		jobs[i].src_fd = openat(w->upper_fd, w->entries[f->entry].path,
		                        O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (jobs[i].src_fd < 0 && r == 0)
			r = kl_error_set(err, errno, "opening '%s'", w->entries[f->entry].path);
	}
	if (r == 0) {
		r = uring_run(u, jobs, n);
		if (r < 0)
			r = kl_error_set(err, -r, "reading the step's files");
	}
	for (size_t i = 0; i < n; i++) {
		if (r == 0 && jobs[i].result < 0)
			r = kl_error_set(err, -jobs[i].result, "reading '%s'",
			                 w->entries[w->files[first + i].entry].path);
		if (r == 0)
			digest_ctx_final(ctx[i], &w->files[first + i].digest);
		digest_ctx_free(ctx[i]);
		if (jobs[i].src_fd >= 0)
			close(jobs[i].src_fd);
	}
	return r;
}

/* Hashes every file, then moves each into the store (one sync for all). */
static int
adopt_files(struct walker *w, struct kl_error **err)
{
	_cleanup_(uring_freep) struct uring *u = NULL;
	_cleanup_(store_batch_freep) struct store_batch *b = NULL;
	struct store *s = w->st->env->store;
	int r;

	if (w->n_files == 0)
		return 0;
	r = uring_new(64, &u, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < w->n_files; i += HASH_BATCH) {
		size_t n = w->n_files - i < HASH_BATCH ? w->n_files - i : HASH_BATCH;

		r = hash_batch(w, u, i, n, err);
		if (r < 0)
			return r;
	}
	b = store_batch_new(s);
	for (size_t i = 0; i < w->n_files; i++) {
		struct upper_entry *e = &w->entries[w->files[i].entry];

		r = store_adopt_file(s, b, w->upper_fd, e->path, &w->files[i].digest, err);
		if (r < 0)
			return r;
		e->e.digest = w->files[i].digest;
		e->e.flags |= TREE_ENTRY_HAS_DIGEST;
	}
	return store_batch_commit(b, err);
}

/* The upper dir itself is the rootfs's root: part of the diff when it differs from the
 * input's root in more than its mtime. */
static int
add_root(struct walker *w, bool *added, struct kl_error **err)
{
	_cleanup_(tree_xattr_list_done) struct tree_xattr_list xl = {0};
	struct upper_entry *u;
	struct stat st;
	int r;

	*added = false;
	if (fstat(w->upper_fd, &st) < 0)
		return kl_error_set(err, errno, "stat of the upper dir");
	r = tree_xattrs_read(w->upper_fd, ".", ".", &xl, err);
	if (r < 0)
		return r;
	(void)filter_overlay_xattrs(&xl);
	w->len = 0;
	w->path[0] = '\0';
	if (w->st->root
	        ? same_dir_as_input(w, &st, &xl)
	        : (st.st_mode & 07777) == 0755 && st.st_uid == 0 && st.st_gid == 0 && xl.n == 0)
		return 0;
	u = add_entry(w, &st, TREE_DIR);
	u->xl = xl;
	xl = (struct tree_xattr_list){0};
	*added = true;
	return 0;
}

static void
walker_done(struct walker *w)
{
	for (size_t i = 0; i < w->n_entries; i++) {
		free(w->entries[i].path);
		free(w->entries[i].link);
		tree_xattr_list_done(&w->entries[i].xl);
	}
	free(w->entries);
	free(w->files);
	for (size_t i = 0; i < w->n_mps; i++)
		free(w->mps[i].path);
	free(w->mps);
	free(w->path);
	tree_hardlinks_free(w->links);
	if (w->upper_fd >= 0)
		close(w->upper_fd);
}

/* tree_builder_write, without the ingest (and its sync) when the tree is in the store. */
static int
exec_write_tree(struct store *s, struct tree_builder *b, struct digest *ret, struct kl_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = tree_builder_serialize(b, &buf, &len, err);
	if (r < 0)
		return r;
	digest_buffer(buf, len, ret);
	/* written before: no ingest, no sync */
	if (store_has_blob(s, ret) != 1)
		r = store_ingest_buffer(s, buf, len, ret, err);
	/* the adopted files were hashed here: an export of the diff need not hash them again */
	if (r >= 0)
		(void)tree_trust_save_serialized(s, buf, len);
	return r;
}

int
exec_upper_diff(struct exec_step *st, char *const *targets, size_t n_targets, struct digest *ret,
                bool *ret_empty, struct kl_error **err)
{
	_cleanup_(walker_done) struct walker w = {.st = st, .upper_fd = -1};
	_cleanup_(tree_builder_freep) struct tree_builder *b = tree_builder_new();
	bool root_added;
	int r;

	w.links = tree_hardlinks_new();
	w.mps = xcalloc(n_targets ? n_targets : 1, sizeof(*w.mps));
	for (size_t i = 0; i < n_targets; i++) {
		bool existed;
		char *p;

		if (exec_tree_resolve(st->root, targets[i], &p, &existed) < 0)
			continue; /* a loop: the runtime could not mount there either */
		if (!*p) {
			free(p);
			continue;
		}
		w.mps[w.n_mps++] = (struct mountpoint){p, existed};
	}
	w.upper_fd = open(st->upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w.upper_fd < 0)
		return kl_error_set(err, errno, "opening the upper dir '%s'", st->upper);
	w.path = xgrow(NULL, &w.cap, 256, 1);
	w.path[0] = '\0';
	r = walk_dir(&w, w.upper_fd, err);
	if (r >= 0)
		r = add_root(&w, &root_added, err);
	if (r >= 0)
		r = adopt_files(&w, err);
	for (size_t i = 0; r >= 0 && i < w.n_entries; i++)
		r = tree_builder_add(b, &w.entries[i].e, w.entries[i].xl.xs, w.entries[i].xl.n,
		                     err);
	if (r >= 0)
		r = exec_write_tree(st->env->store, b, ret, err);
	if (r < 0) {
		kl_error_prefix(err, "reading what the step wrote");
		return r;
	}
	*ret_empty = w.n_entries == 0;
	return 0;
}
