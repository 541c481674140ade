// SPDX-License-Identifier: Apache-2.0
/* Local build contexts: a sorted walk applying .dockerignore and followpaths, with digests from
 * the stat cache or hashed over io_uring, many files at a time. */
#include "sources/ctxsrc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree-import.h"
#include "fs/tree-hardlinks.h"
#include "fs/tree-xattrs.h"
#include "fs/tree.h"
#include "fs/uring.h"
#include "sources/ctxsrc-fingerprint.h"
#include "sources/ctxsrc-statcache.h"
#include "sources/dockerignore.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "fs/tree-statbatch.h"
#include "util/xalloc.h"

#define HASH_BATCH 128u /* files open at once while hashing */
#define SYNC_CHUNK (256u << 10)
#define MAX_SYMLINK_HOPS 40
#define STAT_RUN 1024u /* names statted at once, at most */

/* A directory on the walk's path from the root to the current entry. */
struct frame {
	size_t path_len; /* its path is the first path_len bytes of scanner.path */
	struct stat st;
	bool emitted;  /* in the tree: included, or the parent of something included */
	bool selected; /* followpaths: inside a selected path */
	uint8_t *info; /* its ignore match info, for its children; NULL without patterns */
	uint8_t *incl; /* its include match info, for its children; NULL without includes */
	int fd;        /* borrowed: open while the directory is walked */
};

/* A file waiting for its content to be hashed. */
struct hash_item {
	char *path; /* in the context */
	char *abs;
	size_t abs_len;
	char *locator;
	struct stat st;
	struct tree_xattr_list xattrs;
	int fd;
};

struct scanner {
	struct store *store;
	const struct ctxsrc_options *opts;
	struct ctxsrc_stats stats;
	struct dockerignore *ignore;
	struct dockerignore *include; /* include_patterns; NULL: everything */
	struct ctxsrc_statcache *cache;
	struct tree_builder *builder;
	struct uring *uring;
	bool no_uring; /* io_uring unavailable here: hash with plain reads */
	char *abs_root;
	size_t abs_root_len;
	char *path; /* the current entry's path in the context */
	size_t path_len, path_cap;
	char *abs; /* its absolute path */
	size_t abs_len, abs_cap;
	struct frame *frames;
	size_t depth, frames_cap;
	char **follow; /* cleaned followpaths; n_follow == 0: the whole directory */
	size_t n_follow, follow_cap;
	struct tree_hardlinks *inodes;     /* leaders of regular files with st_nlink > 1 */
	struct tree_statbatch *stats_pool; /* stats a directory's names at once, on several cores */
	struct hash_item items[HASH_BATCH];
	struct uring_job jobs[HASH_BATCH];
	struct digest_ctx *ctxs[HASH_BATCH];
	size_t n_items;
	struct timespec racy_from;     /* files changed since may change again unseen: not cached */
	struct ctxsrc_fingerprint *fp; /* what the walk put in the tree */
	bool check; /* a walk that only checks the fingerprint: nothing is added or hashed */
	bool racy;  /* an entry changed in the tick the scan began: keep no fingerprint */
};

static const char *
shown(const char *path)
{
	return *path ? path : ".";
}

/* Followpaths. */

/* Spells p the way the walk does: no leading '/' or "./", no "." components, ".." resolved
 * (and stopped at the root); "" is the whole context. */
static char *
clean_path(const char *p, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t w = 0, i = 0;

	while (i < n) {
		size_t start, len;

		while (i < n && p[i] == '/')
			i++;
		start = i;
		while (i < n && p[i] != '/')
			i++;
		len = i - start;
		if (len == 0 || (len == 1 && p[start] == '.'))
			continue;
		if (len == 2 && p[start] == '.' && p[start + 1] == '.') {
			while (w > 0 && out[w - 1] != '/')
				w--;
			if (w > 0)
				w--;
			continue;
		}
		if (w)
			out[w++] = '/';
		memcpy(out + w, p + start, len);
		w += len;
	}
	out[w] = '\0';
	return out;
}

/* Takes ownership of p. */
static void
add_follow(struct scanner *sc, char *p)
{
	for (size_t i = 0; i < sc->n_follow; i++) {
		if (!strcmp(sc->follow[i], p)) {
			free(p);
			return;
		}
	}
	sc->follow = xgrow(sc->follow, &sc->follow_cap, sc->n_follow + 1, sizeof(*sc->follow));
	sc->follow[sc->n_follow++] = p;
}

/* If a component of cur is a symlink, returns the path it leads to (with the rest of cur) and
 * adds the link itself to the followpaths; NULL when no component is a link, or one is absent. */
static char *
resolve_one_link(struct scanner *sc, int root_fd, const char *cur)
{
	for (size_t end = 0; cur[end];) {
		_cleanup_free_ char *prefix = NULL, *target = NULL, *joined = NULL;
		size_t dir_len;
		struct stat st;
		ssize_t n;

		while (cur[end] && cur[end] != '/')
			end++;
		prefix = xstrndup(cur, end);
		if (fstatat(root_fd, prefix, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return NULL;
		if (!S_ISLNK(st.st_mode)) {
			if (cur[end])
				end++;
			continue;
		}
		target = xmalloc((size_t)st.st_size + 1);
		n = readlinkat(root_fd, prefix, target, (size_t)st.st_size + 1);
		if (n < 0 || n > st.st_size)
			return NULL;
		target[n] = '\0';
		dir_len = strrchr(prefix, '/') ? (size_t)(strrchr(prefix, '/') - prefix) : 0;
		/* an absolute target means the context's root, as for a build's sources */
		joined = xasprintf("%.*s/%s/%s", target[0] == '/' ? 0 : (int)dir_len, prefix,
		                   target, cur + end);
		add_follow(sc, TAKE_PTR(prefix));
		return clean_path(joined, strlen(joined));
	}
	return NULL;
}

static void
setup_follow(struct scanner *sc, int root_fd)
{
	for (size_t i = 0; i < sc->opts->n_followpaths; i++) {
		const char *fp = sc->opts->followpaths[i];
		char *cur = clean_path(fp, strlen(fp)), *next;

		if (!*cur) { /* the whole context */
			free(cur);
			for (size_t k = 0; k < sc->n_follow; k++)
				free(sc->follow[k]);
			sc->n_follow = 0;
			return;
		}
		for (int hops = 0; hops < MAX_SYMLINK_HOPS; hops++) {
			next = resolve_one_link(sc, root_fd, cur);
			if (!next)
				break;
			free(cur);
			cur = next;
			if (!*cur)
				break;
		}
		if (*cur)
			add_follow(sc, cur);
		else
			free(cur);
	}
}

enum follow_state { FOLLOW_NONE, FOLLOW_ANCESTOR, FOLLOW_SELECTED };

static enum follow_state
follow_state(const struct scanner *sc)
{
	enum follow_state s = FOLLOW_NONE;
	const char *p = sc->path;
	size_t n = sc->path_len;

	for (size_t i = 0; i < sc->n_follow; i++) {
		const char *f = sc->follow[i];
		size_t fl = strlen(f);

		if (n >= fl && !memcmp(p, f, fl) && (n == fl || p[fl] == '/'))
			return FOLLOW_SELECTED;
		if (fl > n && !memcmp(p, f, n) && f[n] == '/')
			s = FOLLOW_ANCESTOR;
	}
	return s;
}

/* Hashing. */

static int
hash_chunk(void *userdata, const void *buf, size_t n)
{
	digest_ctx_update(userdata, buf, n);
	return 0;
}

/* The same stream as a uring job, with plain reads. */
static int
hash_sync(struct uring_job *j, char *buf)
{
	uint64_t off = 0;

	while (off < j->size) {
		size_t want = j->size - off < SYNC_CHUNK ? (size_t)(j->size - off) : SYNC_CHUNK;
		ssize_t n = kl_io_pread_full(j->src_fd, buf, want, (off_t)off);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ENODATA;
		hash_chunk(j->userdata, buf, (size_t)n);
		off += (uint64_t)n;
	}
	return 0;
}

static int
run_jobs(struct scanner *sc, size_t n)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	if (!sc->uring && !sc->no_uring) {
		r = uring_new(0, &sc->uring, NULL);
		if (r < 0)
			kl_debug("context: no io_uring (%s), hashing with plain reads",
			         strerror(-r));
		sc->no_uring = r < 0;
	}
	if (sc->uring)
		return uring_run(sc->uring, sc->jobs, n);
	buf = xmalloc(SYNC_CHUNK);
	for (size_t i = 0; i < n; i++)
		sc->jobs[i].result = hash_sync(&sc->jobs[i], buf);
	return 0;
}

static bool
ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Every entry the tree gets goes into the fingerprint too, in walk order. */
static void
fp_add(struct scanner *sc, const char *path, size_t len, const struct stat *st)
{
	ctxsrc_fingerprint_add(sc->fp, path, len, st);
	if (!ts_before(&st->st_mtim, &sc->racy_from) || !ts_before(&st->st_ctim, &sc->racy_from))
		sc->racy = true;
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void
entry_from_stat(const char *path, size_t len, const struct stat *st, struct tree_entry *e)
{
	*e = (struct tree_entry){
	    .path = path,
	    .path_len = len,
	    .mode = st->st_mode & 07777,
	    .uid = st->st_uid,
	    .gid = st->st_gid,
	    .mtime_sec = st->st_mtim.tv_sec,
	    .mtime_nsec = (uint32_t)st->st_mtim.tv_nsec,
	};
}

static void
items_clear(struct scanner *sc)
{
	for (size_t i = 0; i < sc->n_items; i++) {
		struct hash_item *it = &sc->items[i];

		close(it->fd);
		free(it->path);
		free(it->abs);
		free(it->locator);
		tree_xattr_list_done(&it->xattrs);
	}
	sc->n_items = 0;
}

/* Records one hashed file: its entry, and its digest in the stat cache unless it is racy. */
static int
finish_item(struct scanner *sc, size_t i, struct kl_error **err)
{
	struct hash_item *it = &sc->items[i];
	struct tree_entry e;
	struct stat now;
	int res = sc->jobs[i].result;

	entry_from_stat(it->path, strlen(it->path), &it->st, &e);
	digest_ctx_final(sc->ctxs[i], &e.digest);
	if (res == -ENODATA)
		return kl_error_setf(err, EAGAIN, "'%s' changed while the context was scanned",
		                     it->path);
	if (res < 0)
		return kl_error_set(err, -res, "reading '%s'", it->path);
	if (fstat(it->fd, &now) < 0)
		return kl_error_set(err, errno, "stat '%s'", it->path);
	if (!same_file(&now, &it->st))
		return kl_error_setf(err, EAGAIN, "'%s' changed while the context was scanned",
		                     it->path);
	e.type = TREE_REG;
	e.size = (uint64_t)it->st.st_size;
	e.flags = TREE_ENTRY_HAS_DIGEST;
	e.locator = it->locator;
	e.locator_len = strlen(it->locator);
	sc->stats.hashed_files++;
	sc->stats.hashed_bytes += e.size;
	if (sc->cache && ts_before(&it->st.st_mtim, &sc->racy_from) &&
	    ts_before(&it->st.st_ctim, &sc->racy_from)) {
		_cleanup_free_ char *xattrs = NULL;
		size_t xattrs_len = 0;

		if (it->xattrs.n)
			tree_xattrs_encode(it->xattrs.xs, it->xattrs.n, &xattrs, &xattrs_len);
		ctxsrc_statcache_put(sc->cache, it->abs, it->abs_len, &it->st, &e.digest, xattrs,
		                     xattrs_len);
	}
	return tree_builder_add(sc->builder, &e, it->xattrs.xs, it->xattrs.n, err);
}

static int
flush_hashes(struct scanner *sc, struct kl_error **err)
{
	size_t n = sc->n_items;
	int r = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!sc->ctxs[i])
			sc->ctxs[i] = digest_ctx_new();
		sc->jobs[i] = (struct uring_job){
		    .src_fd = sc->items[i].fd,
		    .dst_fd = -1,
		    .size = (uint64_t)sc->items[i].st.st_size,
		    .fn = hash_chunk,
		    .userdata = sc->ctxs[i],
		};
	}
	r = run_jobs(sc, n);
	if (r < 0)
		r = kl_error_set(err, -r, "reading '%s'", sc->items[0].path);
	/* Every context is finalized, used or not: that resets it for the next batch. */
	for (size_t i = 0; i < n; i++) {
		if (r >= 0)
			r = finish_item(sc, i, err);
		else
			digest_ctx_final(sc->ctxs[i], &(struct digest){{0}});
	}
	items_clear(sc);
	return r < 0 ? r : 0;
}

/* Entries. */

static void
set_abs(struct scanner *sc)
{
	size_t root = sc->abs_root_len == 1 ? 0 : sc->abs_root_len; /* "/" */

	sc->abs = xgrow(sc->abs, &sc->abs_cap, root + sc->path_len + 2, 1);
	memcpy(sc->abs, sc->abs_root, root);
	sc->abs[root] = '/';
	memcpy(sc->abs + root + 1, sc->path, sc->path_len + 1);
	sc->abs_len = root + 1 + sc->path_len;
}

/* Adds a regular file, now or once hashed. A stat cache hit brings its digest and xattrs. */
static int
add_file(struct scanner *sc, int dir_fd, const char *name, const struct stat *st,
         struct tree_entry *e, struct kl_error **err)
{
	_cleanup_(tree_xattr_list_done) struct tree_xattr_list xl = {0};
	_cleanup_free_ char *locator = NULL;
	struct hash_item *it;
	const void *cached_xattrs;
	size_t cached_xattrs_len;
	int fd, r;

	sc->stats.files++;
	set_abs(sc);
	locator = tree_local_locator_format(sc->abs, st);
	e->type = TREE_REG;
	e->size = (uint64_t)st->st_size;
	e->locator = locator;
	e->locator_len = strlen(locator);
	if (!sc->opts->locate_only && st->st_size > 0 && sc->cache &&
	    ctxsrc_statcache_lookup(sc->cache, sc->abs, sc->abs_len, st, &e->digest, &cached_xattrs,
	                            &cached_xattrs_len) &&
	    tree_xattrs_decode(cached_xattrs, cached_xattrs_len, &xl) == 0) {
		sc->stats.cached_files++;
		e->flags |= TREE_ENTRY_HAS_DIGEST;
		return tree_builder_add(sc->builder, e, xl.xs, xl.n, err);
	}
	r = tree_xattrs_read(dir_fd, name, shown(sc->path), &xl, err);
	if (r < 0)
		return r;
	if (sc->opts->locate_only)
		return tree_builder_add(sc->builder, e, xl.xs, xl.n, err);
	if (st->st_size == 0) {
		digest_buffer("", 0, &e->digest);
		e->flags |= TREE_ENTRY_HAS_DIGEST;
		return tree_builder_add(sc->builder, e, xl.xs, xl.n, err);
	}
	/* O_NONBLOCK: a file replaced by a fifo since the stat must not hang the scan. */
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s'", sc->path);
	it = &sc->items[sc->n_items++];
	*it = (struct hash_item){
	    .path = xstrndup(sc->path, sc->path_len),
	    .abs = xstrndup(sc->abs, sc->abs_len),
	    .abs_len = sc->abs_len,
	    .locator = TAKE_PTR(locator),
	    .st = *st,
	    .xattrs = xl,
	    .fd = fd,
	};
	xl = (struct tree_xattr_list){0};
	return sc->n_items == HASH_BATCH ? flush_hashes(sc, err) : 0;
}

/* Adds the entry at sc->path (name in dir_fd). */
static int
emit(struct scanner *sc, int dir_fd, const char *name, const struct stat *st, struct kl_error **err)
{
	_cleanup_(tree_xattr_list_done) struct tree_xattr_list xl = {0};
	_cleanup_free_ char *target = NULL;
	const char *leader;
	struct tree_entry e;
	ssize_t n;
	int r;

	entry_from_stat(sc->path, sc->path_len, st, &e);
	sc->stats.entries++;
	fp_add(sc, sc->path, sc->path_len, st);
	if (sc->check) { /* counted as the full scan would: hardlinks aside */
		if (S_ISREG(st->st_mode) &&
		    (st->st_nlink == 1 ||
		     !tree_hardlinks_leader(sc->inodes, st, sc->path, sc->path_len))) {
			sc->stats.files++;
			sc->stats.cached_files++;
		}
		return 0;
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		e.type = TREE_DIR;
		break;
	case S_IFCHR:
	case S_IFBLK:
		e.type = S_ISCHR(st->st_mode) ? TREE_CHAR : TREE_BLOCK;
		e.rdev = st->st_rdev;
		break;
	case S_IFIFO:
		e.type = TREE_FIFO;
		break;
	case S_IFLNK:
		target = xmalloc((size_t)st->st_size + 1);
		n = readlinkat(dir_fd, name, target, (size_t)st->st_size + 1);
		if (n < 0 || n > st->st_size)
			return kl_error_set(err, n < 0 ? errno : EAGAIN, "reading link '%s'",
			                    sc->path);
		target[n] = '\0';
		e.type = TREE_SYMLINK;
		e.link = target;
		e.link_len = (size_t)n;
		e.size = (uint64_t)n;
		break;
	case S_IFREG:
		leader = st->st_nlink > 1
		             ? tree_hardlinks_leader(sc->inodes, st, sc->path, sc->path_len)
		             : NULL;
		if (leader) { /* shares the leader's xattrs */
			e.type = TREE_HARDLINK;
			e.link = leader;
			e.link_len = strlen(leader);
			return tree_builder_add(sc->builder, &e, NULL, 0, err);
		}
		return add_file(sc, dir_fd, name, st, &e, err);
	default:
		return 0; /* sockets: never asked for */
	}
	r = tree_xattrs_read(dir_fd, name, shown(sc->path), &xl, err);
	if (r < 0)
		return r;
	return tree_builder_add(sc->builder, &e, xl.xs, xl.n, err);
}

/* Adds the directories above the current entry that were walked without being included. */
static int
emit_parents(struct scanner *sc, struct kl_error **err)
{
	for (size_t i = 1; i < sc->depth; i++) {
		struct frame *f = &sc->frames[i];
		_cleanup_(tree_xattr_list_done) struct tree_xattr_list xl = {0};
		_cleanup_free_ char *p = NULL;
		struct tree_entry e;
		int r;

		if (f->emitted)
			continue;
		fp_add(sc, sc->path, f->path_len, &f->st);
		if (sc->check) {
			sc->stats.entries++;
			f->emitted = true;
			continue;
		}
		p = xstrndup(sc->path, f->path_len);
		r = tree_xattrs_read(f->fd, ".", shown(p), &xl, err);
		if (r < 0)
			return r;
		entry_from_stat(p, f->path_len, &f->st, &e);
		e.type = TREE_DIR;
		r = tree_builder_add(sc->builder, &e, xl.xs, xl.n, err);
		if (r < 0)
			return r;
		sc->stats.entries++;
		f->emitted = true;
	}
	return 0;
}

static int scan_dir(struct scanner *sc, int dir_fd, struct kl_error **err);

static int
descend(struct scanner *sc, int dir_fd, const char *name, const struct stat *st, bool emitted,
        bool selected, uint8_t **info, uint8_t **incl, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	struct frame *f;
	int r;

	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "opening directory '%s'", sc->path);
	sc->frames = xgrow(sc->frames, &sc->frames_cap, sc->depth + 1, sizeof(*sc->frames));
	f = &sc->frames[sc->depth++];
	*f = (struct frame){sc->path_len,    *st, emitted, selected, TAKE_PTR(*info),
	                    TAKE_PTR(*incl), fd};
	r = scan_dir(sc, fd, err);
	free(sc->frames[--sc->depth].info);
	free(sc->frames[sc->depth].incl);
	return r;
}

/* Decides about the entry at sc->path (name in dir_fd): included, walked for what may be
 * included below it, or left out. pre is its stat when the directory's names were statted
 * at once (pre_errno: that stat's errno), else NULL. */
static int
scan_entry(struct scanner *sc, int dir_fd, const char *name, const struct stat *pre, int pre_errno,
           struct kl_error **err)
{
	const struct frame *parent = &sc->frames[sc->depth - 1];
	_cleanup_free_ uint8_t *info = NULL, *incl = NULL;
	bool selected = parent->selected, excluded = false, matched = true, included;
	struct stat st;
	int r;

	if (!selected) {
		enum follow_state fs = follow_state(sc);
		if (fs == FOLLOW_NONE)
			return 0;
		selected = fs == FOLLOW_SELECTED;
	}
	if (pre && pre_errno)
		return kl_error_set(err, pre_errno, "stat '%s'", sc->path);
	if (pre)
		st = *pre;
	else if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kl_error_set(err, errno, "stat '%s'", sc->path);
	if (S_ISSOCK(st.st_mode)) {
		kl_debug("context: skipping socket '%s'", sc->path);
		return 0;
	}
	if (sc->ignore) {
		if (S_ISDIR(st.st_mode))
			info = xmalloc(dockerignore_count(sc->ignore) + 1);
		excluded =
		    dockerignore_match(sc->ignore, sc->path, sc->path_len, parent->info, info);
	}
	if (sc->include) {
		if (S_ISDIR(st.st_mode))
			incl = xmalloc(dockerignore_count(sc->include) + 1);
		/* an include pattern "excludes" in the matcher's words: it matched */
		matched =
		    dockerignore_match(sc->include, sc->path, sc->path_len, parent->incl, incl);
	}
	included = selected && !excluded && matched;
	if (included) {
		r = emit_parents(sc, err);
		if (r >= 0)
			r = emit(sc, dir_fd, name, &st, err);
		if (r < 0)
			return r;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (excluded && !dockerignore_walk_excluded_dir(sc->ignore, sc->path, sc->path_len))
		return 0;
	/* a directory no include pattern matched is walked too: one may match below it */
	return descend(sc, dir_fd, name, &st, included, selected, &info, &incl, err);
}

/* Stats a run of names from first on, all at once on several cores: up to and including the
 * next one that may be a directory, so that no stat waits while a subtree is scanned (a file
 * changed meanwhile would look changed during the scan). Returns the run's end. */
static size_t
stat_run(struct scanner *sc, int dir_fd, char **names, const unsigned char *types, size_t n,
         size_t first, struct stat *sts, int *errs)
{
	size_t end = first;

	while (end < n && end - first < STAT_RUN) {
		unsigned char t = types[end++];

		if (t == DT_DIR || t == DT_UNKNOWN)
			break;
	}
	tree_statbatch_run(sc->stats_pool, dir_fd, names + first, end - first, sts, errs);
	return end;
}

static int
scan_dir(struct scanner *sc, int dir_fd, struct kl_error **err)
{
	size_t base_len = sc->path_len, run_start = 0, run_end = 0;
	/* every name of a selected directory is statted: in runs, not one at a time */
	bool batched = sc->frames[sc->depth - 1].selected;
	_cleanup_free_ unsigned char *types = NULL;
	_cleanup_free_ struct stat *sts = NULL;
	_cleanup_free_ int *errs = NULL;
	char **names = NULL;
	size_t n = 0;
	int r;

	r = tree_import_read_names(dir_fd, &names, &types, &n);
	if (r < 0)
		return kl_error_set(err, -r, "reading directory '%s'", shown(sc->path));
	if (batched) {
		sts = xmalloc(STAT_RUN * sizeof(*sts));
		errs = xmalloc(STAT_RUN * sizeof(*errs));
	}
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]);

		if (r >= 0 && batched && i >= run_end) {
			run_start = i;
			run_end = stat_run(sc, dir_fd, names, types, n, i, sts, errs);
		}
		if (r >= 0) {
			sc->path = xgrow(sc->path, &sc->path_cap, base_len + nl + 2, 1);
			sc->path_len = base_len;
			if (base_len)
				sc->path[sc->path_len++] = '/';
			memcpy(sc->path + sc->path_len, names[i], nl + 1);
			sc->path_len += nl;
			r = scan_entry(sc, dir_fd, names[i], batched ? &sts[i - run_start] : NULL,
			               batched ? errs[i - run_start] : 0, err);
		}
		free(names[i]);
	}
	free(names);
	sc->path_len = base_len;
	sc->path[base_len] = '\0';
	return r < 0 ? r : 0;
}

/* Patterns given one a string, as the text of an ignore file (one a line, '\n'-terminated). */
static char *
patterns_text(const char *const *v, size_t n)
{
	size_t len = 0, w = 0;
	char *text;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	text = xmalloc(len + 1);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]);

		memcpy(text + w, v[i], l);
		w += l;
		text[w++] = '\n';
	}
	text[w] = '\0';
	return text;
}

/* Parses the ignore text with the exclude patterns after it, checking those on their own
 * first so their errors name them. */
static int
parse_ignore(struct scanner *sc, const char *text, size_t len, const char *path,
             struct kl_error **err)
{
	_cleanup_(dockerignore_freep) struct dockerignore *check = NULL;
	_cleanup_free_ char *excl = NULL, *all = NULL;
	size_t excl_len;
	int r;

	if (!sc->opts->n_exclude_patterns)
		return text ? dockerignore_parse(text, len, path, &sc->ignore, err) : 0;
	excl = patterns_text(sc->opts->exclude_patterns, sc->opts->n_exclude_patterns);
	excl_len = strlen(excl);
	r = dockerignore_parse(excl, excl_len, "exclude patterns", &check, err);
	if (r < 0)
		return r;
	if (!text)
		return dockerignore_parse(excl, excl_len, "exclude patterns", &sc->ignore, err);
	all = xmalloc(len + 1 + excl_len + 1);
	memcpy(all, text, len);
	all[len] = '\n';
	memcpy(all + len + 1, excl, excl_len + 1);
	return dockerignore_parse(all, len + 1 + excl_len, path, &sc->ignore, err);
}

static int
load_include(struct scanner *sc, struct kl_error **err)
{
	_cleanup_free_ char *text = NULL;

	if (!sc->opts->n_include_patterns)
		return 0;
	text = patterns_text(sc->opts->include_patterns, sc->opts->n_include_patterns);
	return dockerignore_parse(text, strlen(text), "include patterns", &sc->include, err);
}

/* The ignore file: the one given, else <dir>/.dockerignore when there is one. */
static int
load_ignore(struct scanner *sc, const char *dir, struct kl_error **err)
{
	_cleanup_free_ char *def = NULL, *text = NULL;
	const char *path = sc->opts->ignore_file;
	_cleanup_close_ int fd = -1;
	struct stat st;
	size_t len;
	int r;

	r = load_include(sc, err);
	if (r < 0)
		return r;
	if (!path)
		path = def = xasprintf("%s/.dockerignore", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT && !sc->opts->ignore_file)
		return parse_ignore(sc, NULL, 0, path, err);
	if (fd < 0)
		return kl_error_set(err, errno, "opening ignore file '%s'", path);
	if (fstat(fd, &st) < 0)
		return kl_error_set(err, errno, "stat of ignore file '%s'", path);
	if (!S_ISREG(st.st_mode))
		return kl_error_setf(err, EINVAL, "ignore file '%s' is not a regular file", path);
	r = kl_io_read_all(fd, DOCKERIGNORE_MAX_SIZE, &text, &len);
	if (r == -EFBIG)
		return kl_error_setf(err, EFBIG, "ignore file '%s' is larger than %u bytes", path,
		                     DOCKERIGNORE_MAX_SIZE);
	if (r < 0)
		return kl_error_set(err, -r, "reading ignore file '%s'", path);
	return parse_ignore(sc, text, len, path, err);
}

static void
scanner_done(struct scanner *sc)
{
	items_clear(sc);
	for (size_t i = 0; i < HASH_BATCH; i++)
		digest_ctx_free(sc->ctxs[i]);
	for (size_t i = 0; i < sc->depth; i++) {
		free(sc->frames[i].info);
		free(sc->frames[i].incl);
	}
	free(sc->frames);
	for (size_t i = 0; i < sc->n_follow; i++)
		free(sc->follow[i]);
	free(sc->follow);
	tree_hardlinks_free(sc->inodes);
	tree_statbatch_free(sc->stats_pool);
	uring_free(sc->uring);
	tree_builder_free(sc->builder);
	ctxsrc_statcache_free(sc->cache);
	dockerignore_free(sc->ignore);
	dockerignore_free(sc->include);
	ctxsrc_fingerprint_free(sc->fp);
	free(sc->abs_root);
	free(sc->path);
	free(sc->abs);
}

static void
release_buf(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

/* Writes the tree unless the store has it already: an unchanged context costs no write. The
 * parsed tree (its id hashed once) goes to the caller when asked for. */
static int
write_tree(struct scanner *sc, struct digest *ret, struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	char *buf = NULL;
	size_t len;
	int r;

	r = tree_builder_serialize(sc->builder, &buf, &len, err);
	if (r < 0)
		return r;
	r = tree_parse(buf, len, release_buf, &t, err);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = *tree_id(t);
	if (store_has_blob(sc->store, ret) != 1) {
		r = store_ingest_buffer(sc->store, buf, len, ret, err);
		if (r < 0)
			return r;
	}
	if (sc->opts->ret_tree)
		*sc->opts->ret_tree = TAKE_PTR(t);
	return 0;
}

/* The walk from the root: fills the builder, or only the fingerprint when checking. */
static int
walk(struct scanner *sc, int fd, const struct stat *st, struct kl_error **err)
{
	_cleanup_(tree_xattr_list_done) struct tree_xattr_list xl = {0};
	struct tree_entry e;
	int r;

	for (size_t i = 0; i < sc->depth; i++) {
		free(sc->frames[i].info);
		free(sc->frames[i].incl);
	}
	sc->depth = 0;
	sc->path_len = 0;
	sc->path[0] = '\0';
	/* a second walk (after a check that failed) reads the root's names from the start */
	if (lseek(fd, 0, SEEK_SET) < 0)
		return kl_error_set(err, errno, "rewinding the context's root");
	fp_add(sc, "", 0, st);
	if (!sc->check) {
		r = tree_xattrs_read(fd, ".", shown(""), &xl, err);
		if (r < 0)
			return r;
		entry_from_stat("", 0, st, &e);
		e.type = TREE_DIR;
		r = tree_builder_add(sc->builder, &e, xl.xs, xl.n, err);
		if (r < 0)
			return r;
	}
	sc->stats.entries++;
	sc->frames = xgrow(sc->frames, &sc->frames_cap, 16, sizeof(*sc->frames));
	sc->frames[sc->depth++] = (struct frame){0, *st, true, sc->n_follow == 0, NULL, NULL, fd};
	return scan_dir(sc, fd, err);
}

/* What names this scan's fingerprint record: the directory and every option. */
static void
options_key(const struct scanner *sc, struct digest *ret)
{
	const struct ctxsrc_options *o = sc->opts;
	struct digest_ctx *c = digest_ctx_new();
	const char *ignore = o->ignore_file ? o->ignore_file : "";

	digest_ctx_update(c, sc->abs_root, sc->abs_root_len + 1);
	digest_ctx_update(c, ignore, strlen(ignore) + 1);
	digest_ctx_update(c, o->locate_only ? "L" : "H", 1);
	for (size_t i = 0; i < sc->n_follow; i++)
		digest_ctx_update(c, sc->follow[i], strlen(sc->follow[i]) + 1);
	digest_ctx_update(c, "", 1);
	for (size_t i = 0; i < o->n_include_patterns; i++)
		digest_ctx_update(c, o->include_patterns[i], strlen(o->include_patterns[i]) + 1);
	digest_ctx_update(c, "", 1);
	for (size_t i = 0; i < o->n_exclude_patterns; i++)
		digest_ctx_update(c, o->exclude_patterns[i], strlen(o->exclude_patterns[i]) + 1);
	digest_ctx_final(c, ret);
	digest_ctx_free(c);
}

/* The shortcut: a stat walk that sees what the last scan saw gives the tree it gave. Returns
 * 1 with ret set then, 0 when a full scan is needed. */
static int
check_unchanged(struct scanner *sc, int fd, const struct stat *st, const struct digest *key,
                struct digest *ret, struct kl_error **err)
{
	struct digest want, tree, got;
	int r;

	if (ctxsrc_fingerprint_load(sc->store, key, &want, &tree) < 0 ||
	    store_has_blob(sc->store, &tree) != 1)
		return 0;
	sc->check = true;
	r = walk(sc, fd, st, err);
	sc->check = false;
	if (r < 0)
		return r;
	ctxsrc_fingerprint_final(sc->fp, &got);
	if (!digest_equal(&got, &want) || sc->racy) {
		ctxsrc_fingerprint_reset(sc->fp);
		tree_hardlinks_free(sc->inodes);
		sc->inodes = tree_hardlinks_new();
		sc->racy = false;
		sc->stats = (struct ctxsrc_stats){0};
		return 0;
	}
	sc->stats.unchanged = true;
	if (sc->opts->ret_tree) {
		r = tree_load(sc->store, &tree, sc->opts->ret_tree, err);
		if (r < 0)
			return r;
	}
	*ret = tree;
	kl_debug("context '%s': unchanged since the last scan", sc->abs_root);
	return 1;
}

static int
scan(struct scanner *sc, const char *dir, struct digest *ret, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	struct digest key, fp;
	struct stat st;
	int r;

	sc->abs_root = realpath(dir, NULL);
	if (!sc->abs_root)
		return kl_error_set(err, errno, "'%s'", dir);
	sc->abs_root_len = strlen(sc->abs_root);
	fd = open(sc->abs_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return kl_error_set(err, errno, "opening directory '%s'", dir);
	r = load_ignore(sc, dir, err);
	if (r < 0)
		return r;
	setup_follow(sc, fd);
	sc->path = xgrow(NULL, &sc->path_cap, 256, 1);
	options_key(sc, &key);
	r = check_unchanged(sc, fd, &st, &key, ret, err);
	if (r != 0)
		return r < 0 ? r : 0;
	if (!sc->opts->locate_only) {
		r = ctxsrc_statcache_open(sc->store, sc->abs_root, &sc->cache, err);
		if (r < 0)
			return r;
	}
	r = walk(sc, fd, &st, err);
	if (r >= 0)
		r = flush_hashes(sc, err);
	if (r >= 0 && sc->cache)
		r = ctxsrc_statcache_commit(sc->cache,
		                            /* prune= */ sc->n_follow == 0 && !sc->include, err);
	if (r >= 0)
		r = write_tree(sc, ret, err);
	if (r >= 0 && !sc->racy) {
		ctxsrc_fingerprint_final(sc->fp, &fp);
		ctxsrc_fingerprint_save(sc->store, &key, &fp, ret);
	}
	return r;
}

int
ctxsrc_scan(struct store *s, const char *dir, const struct ctxsrc_options *opts, struct digest *ret,
            struct kl_error **err)
{
	static const struct ctxsrc_options defaults = {0};
	_cleanup_(scanner_done) struct scanner sc = {
	    .store = s,
	    .opts = opts ? opts : &defaults,
	    .builder = tree_builder_new(),
	    .inodes = tree_hardlinks_new(),
	    .stats_pool = tree_statbatch_new(/* max_helpers= */ 3),
	    .fp = ctxsrc_fingerprint_new(),
	};
	struct timespec now, start, end;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &start);
	/* File times come from the coarse clock: a file whose ctime or mtime is not before the
	 * scan began may change within the same tick after it is hashed, unseen by its stat. */
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	sc.racy_from = now;
	r = scan(&sc, dir, ret, err);
	if (r < 0) {
		kl_error_prefix(err, "context '%s'", dir);
		return r;
	}
	kl_debug("context '%s': %llu entries, %llu files, %llu hashed (%llu bytes), %llu cached",
	         dir, (unsigned long long)sc.stats.entries, (unsigned long long)sc.stats.files,
	         (unsigned long long)sc.stats.hashed_files,
	         (unsigned long long)sc.stats.hashed_bytes,
	         (unsigned long long)sc.stats.cached_files);
	clock_gettime(CLOCK_MONOTONIC, &end);
	sc.stats.scan_ns = (uint64_t)(end.tv_sec - start.tv_sec) * 1000000000u +
	                   (uint64_t)end.tv_nsec - (uint64_t)start.tv_nsec;
	if (sc.opts->stats)
		*sc.opts->stats = sc.stats;
	return 0;
}
