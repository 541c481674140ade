// SPDX-License-Identifier: Apache-2.0
/* The FUSE side of lazyfs: low-level handlers that answer from immutable trees, cache-forever. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "fs/lazyfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fs/lazyfs-internal.h"
#include "fs/provider.h"
#include "fs/singleflight.h"
#include "fs/store.h"
#include "fs/uring.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Trees never change: the kernel may keep what we tell it for as long as it likes. */
#define FOREVER (86400.0 * 365 * 100)
#define DEFAULT_THREADS 32

static struct lazyfs *
fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static mode_t
type_bits(enum tree_entry_type type)
{
	switch (type) {
	case TREE_DIR:
		return S_IFDIR;
	case TREE_SYMLINK:
		return S_IFLNK;
	case TREE_CHAR:
		return S_IFCHR;
	case TREE_BLOCK:
		return S_IFBLK;
	case TREE_FIFO:
		return S_IFIFO;
	default:
		return S_IFREG;
	}
}

static void
root_attr(const struct lazyfs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = LAZYFS_ROOT_INO;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = fs->mount_time;
}

/* Fills st for entry idx of t (already resolved through hardlinks) in slot. */
static void
entry_attr(const struct tree *t, uint32_t slot, uint32_t idx, struct stat *st)
{
	struct tree_entry e;

	tree_entry_at(t, idx, &e);
	memset(st, 0, sizeof(*st));
	st->st_ino = lazyfs_ino(slot, idx);
	st->st_mode = type_bits(e.type) | (e.mode & 07777);
	st->st_nlink = tree_nlink(t, idx);
	st->st_uid = e.uid;
	st->st_gid = e.gid;
	st->st_rdev = e.rdev;
	st->st_size = (off_t)(e.type == TREE_SYMLINK ? e.link_len : e.size);
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((st->st_size + 511) / 512);
	st->st_mtim.tv_sec = e.mtime_sec;
	st->st_mtim.tv_nsec = e.mtime_nsec;
	st->st_atim = st->st_ctim = st->st_mtim;
}

/* Resolves ino to its tree and entry; -ESTALE for an inode this mount never handed out. */
static int
inode_tree(struct lazyfs *fs, fuse_ino_t ino, struct tree **ret_t, uint32_t *ret_slot,
           uint32_t *ret_idx)
{
	struct tree *t = lazyfs_slot_tree(fs, lazyfs_ino_slot(ino));
	uint32_t idx = lazyfs_ino_index(ino);

	if (!t || idx >= tree_count(t))
		return -ESTALE;
	*ret_t = t;
	*ret_slot = lazyfs_ino_slot(ino);
	*ret_idx = idx;
	return 0;
}

static void
fill_entry(struct fuse_entry_param *ep, const struct tree *t, uint32_t slot, uint32_t idx)
{
	memset(ep, 0, sizeof(*ep));
	ep->ino = lazyfs_ino(slot, idx);
	ep->attr_timeout = FOREVER;
	ep->entry_timeout = FOREVER;
	entry_attr(t, slot, idx, &ep->attr);
}

static void
lookup_store_root(fuse_req_t req, struct lazyfs *fs, const char *name)
{
	struct kl_error *err = NULL;
	struct fuse_entry_param ep;
	struct digest id;
	uint32_t slot;
	int r;

	if (digest_parse(name, strlen(name), &id, NULL) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	r = lazyfs_tree_acquire(fs, &id, &slot, &err);
	if (r < 0) {
		if (r != -ENOENT)
			kl_warn("lazyfs: loading tree %s failed: %s", name,
			        err ? err->msg : strerror(-r));
		kl_error_free(err);
		/* Not cached: a tree may be added to the store later. */
		fuse_reply_err(req, r == -ENOENT ? ENOENT : EIO);
		return;
	}
	fill_entry(&ep, lazyfs_slot_tree(fs, slot), slot, TREE_ROOT);
	if (fuse_reply_entry(req, &ep) != 0)
		lazyfs_inode_forget(fs, ep.ino, 1);
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct lazyfs *fs = fs_of(req);
	struct fuse_entry_param ep;
	struct tree_entry e;
	uint32_t slot, dir, idx;
	struct tree *t;

	if (lazyfs_is_store_root(fs, parent)) {
		lookup_store_root(req, fs, name);
		return;
	}
	if (inode_tree(fs, parent, &t, &slot, &dir) < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (tree_lookup_child(t, dir, name, strlen(name), &idx) < 0) {
		/* A negative entry the kernel may keep forever too. */
		memset(&ep, 0, sizeof(ep));
		ep.entry_timeout = FOREVER;
		fuse_reply_entry(req, &ep);
		return;
	}
	idx = tree_resolve_hardlink(t, idx);
	tree_entry_at(t, idx, &e);
	fill_entry(&ep, t, slot, idx);
	lazyfs_inode_ref(fs, slot, idx, e.type);
	if (fuse_reply_entry(req, &ep) != 0)
		lazyfs_inode_forget(fs, ep.ino, 1);
}

static void
op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	lazyfs_inode_forget(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void
op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		lazyfs_inode_forget(fs_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lazyfs *fs = fs_of(req);
	uint32_t slot, idx;
	struct tree *t;
	struct stat st;

	(void)fi;
	if (ino == LAZYFS_ROOT_INO && !fs->single) {
		root_attr(fs, &st);
	} else if (inode_tree(fs, ino, &t, &slot, &idx) < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	} else {
		entry_attr(t, slot, idx, &st);
	}
	fuse_reply_attr(req, &st, FOREVER);
}

static void
op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct lazyfs *fs = fs_of(req);
	struct tree_entry e;
	uint32_t slot, idx;
	struct tree *t;

	if (lazyfs_is_store_root(fs, ino) || inode_tree(fs, ino, &t, &slot, &idx) < 0) {
		fuse_reply_err(req, lazyfs_is_store_root(fs, ino) ? EINVAL : ESTALE);
		return;
	}
	tree_entry_at(t, idx, &e);
	if (e.type != TREE_SYMLINK || !e.link) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fuse_reply_readlink(req, e.link); /* NUL-terminated in the tree's string table */
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lazyfs *fs = fs_of(req);
	uint32_t slot, idx;
	struct tree *t;
	uint64_t fh;
	int r;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (!lazyfs_passthrough_usable(&fs->pt)) {
		/* The kernel then stops sending opens (and releases) and treats files as
		 * keep_cache. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (lazyfs_is_store_root(fs, ino) || inode_tree(fs, ino, &t, &slot, &idx) < 0) {
		fuse_reply_err(req, lazyfs_is_store_root(fs, ino) ? EISDIR : ESTALE);
		return;
	}
	r = lazyfs_inode_open(fs, slot, idx, &fh);
	if (r < 0) {
		fuse_reply_err(req, r == -ENOMEM ? ENOMEM : r == -ESTALE ? ESTALE : EIO);
		return;
	}
	/* fh 0: read through op_read, with the pages kept; else the backing id that the reply
	 * carries (lazyfs-passthrough.c), and the kernel allows no keep_cache with it. */
	fi->fh = fh;
	fi->keep_cache = fh == 0;
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) != 0)
		lazyfs_inode_release(fs, ino, fh); /* the kernel has no such open: no release */
}

static void
op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	lazyfs_inode_release(fs_of(req), ino, fi->fh);
	fuse_reply_err(req, 0);
}

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	/* As for open: no more opendirs, and listings cached (FOPEN_CACHE_DIR). */
	fuse_reply_err(req, ENOSYS);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct lazyfs *fs = fs_of(req);
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(0);
	struct tree_entry e;
	uint32_t slot, idx;
	struct tree *t;
	bool owned;
	int fd;

	(void)fi;
	atomic_fetch_add_explicit(&fs->reads, 1, memory_order_relaxed);
	if (lazyfs_is_store_root(fs, ino) || inode_tree(fs, ino, &t, &slot, &idx) < 0) {
		fuse_reply_err(req, lazyfs_is_store_root(fs, ino) ? EISDIR : ESTALE);
		return;
	}
	tree_entry_at(t, idx, &e);
	if (e.type != TREE_REG) {
		fuse_reply_err(req, e.type == TREE_DIR ? EISDIR : EINVAL);
		return;
	}
	if (off < 0 || (uint64_t)off >= e.size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fd = lazyfs_content_fd(fs, slot, idx, &owned);
	if (fd < 0) {
		fuse_reply_err(req, fd == -ENOMEM ? ENOMEM : EIO);
		return;
	}
	if (off == 0)
		lazyfs_warm_note_read(fs, slot, idx, e.size);
	if ((uint64_t)off + size > e.size)
		size = (size_t)(e.size - (uint64_t)off);
	/* Straight from the blob's fd: spliced into the reply where the kernel allows it. */
	buf.buf[0].size = size;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	buf.count = 1;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
	if (owned)
		(void)close(fd);
}

/* Directory offsets: 1 after ".", 2 after "..", child index + 3 after a child. */
static uint32_t
first_at(const struct tree *t, uint32_t dir, off_t off)
{
	if (off <= 2)
		return tree_first_child(t, dir);
	return tree_next_sibling(t, (uint32_t)(off - 3));
}

struct dirbuf {
	char *p;
	size_t size, used;
};

/* Adds one entry; returns false when it did not fit. */
static bool
dir_add(fuse_req_t req, struct dirbuf *b, bool plus, const char *name,
        const struct fuse_entry_param *ep, off_t next_off)
{
	size_t n;

	if (plus)
		n = fuse_add_direntry_plus(req, b->p + b->used, b->size - b->used, name, ep,
		                           next_off);
	else
		n = fuse_add_direntry(req, b->p + b->used, b->size - b->used, name, &ep->attr,
		                      next_off);
	if (n > b->size - b->used)
		return false;
	b->used += n;
	return true;
}

static void
dot_entry(struct lazyfs *fs, struct fuse_entry_param *ep, const struct tree *t, uint32_t slot,
          uint32_t idx)
{
	if (idx == TREE_NONE && !fs->single) {
		memset(ep, 0, sizeof(*ep));
		ep->ino = LAZYFS_ROOT_INO;
		root_attr(fs, &ep->attr);
		return;
	}
	fill_entry(ep, t, slot, idx == TREE_NONE ? TREE_ROOT : idx);
}

static void
do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct lazyfs *fs = fs_of(req);
	struct dirbuf b = {.p = xmalloc(size), .size = size};
	struct fuse_entry_param ep;
	uint32_t slot = 0, dir = 0, c;
	struct tree *t = NULL;

	if (lazyfs_is_store_root(fs, ino)) {
		/* Trees are found by id, not listed: only "." and "..". */
		root_attr(fs, &ep.attr);
		ep = (struct fuse_entry_param){.ino = LAZYFS_ROOT_INO, .attr = ep.attr};
		if (off < 1 && dir_add(req, &b, plus, ".", &ep, 1))
			off = 1;
		if (off < 2)
			dir_add(req, &b, plus, "..", &ep, 2);
		goto reply;
	}
	if (inode_tree(fs, ino, &t, &slot, &dir) < 0) {
		free(b.p);
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (off < 1) {
		dot_entry(fs, &ep, t, slot, dir);
		if (!dir_add(req, &b, plus, ".", &ep, 1))
			goto reply;
	}
	if (off < 2) {
		dot_entry(fs, &ep, t, slot, tree_parent(t, dir));
		if (!dir_add(req, &b, plus, "..", &ep, 2))
			goto reply;
	}
	for (c = first_at(t, dir, off); c != TREE_NONE; c = tree_next_sibling(t, c)) {
		uint32_t target = tree_resolve_hardlink(t, c);
		struct tree_entry e, te;

		tree_entry_at(t, c, &e);
		tree_entry_at(t, target, &te);
		fill_entry(&ep, t, slot, target);
		if (!dir_add(req, &b, plus, e.name, &ep, (off_t)c + 3))
			break;
		if (plus)
			lazyfs_inode_ref(fs, slot, target, te.type);
	}
reply:
	fuse_reply_buf(req, b.p, b.used);
	free(b.p);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void
op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

/* Replies with a value following the getxattr protocol (size 0: the length only). */
static void
reply_value(fuse_req_t req, const void *value, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

static void
op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct lazyfs *fs = fs_of(req);
	struct tree_entry e;
	struct tree_xattr x;
	uint32_t slot, idx;
	struct tree *t;

	if (ino == LAZYFS_ROOT_INO && strcmp(name, LAZYFS_STATS_XATTR) == 0) {
		_cleanup_free_ char *s = lazyfs_stats_string(fs);
		reply_value(req, s, strlen(s), size);
		return;
	}
	if (lazyfs_is_store_root(fs, ino) || inode_tree(fs, ino, &t, &slot, &idx) < 0) {
		fuse_reply_err(req, lazyfs_is_store_root(fs, ino) ? ENODATA : ESTALE);
		return;
	}
	tree_entry_at(t, idx, &e);
	for (uint32_t i = 0; i < e.n_xattrs; i++) {
		tree_entry_xattr(t, &e, i, &x);
		if (strcmp(x.name, name) == 0) {
			reply_value(req, x.value, x.value_len, size);
			return;
		}
	}
	fuse_reply_err(req, ENODATA);
}

static void
op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct lazyfs *fs = fs_of(req);
	_cleanup_free_ char *list = NULL;
	struct tree_entry e;
	struct tree_xattr x;
	uint32_t slot, idx;
	struct tree *t;
	size_t len = 0;

	if (lazyfs_is_store_root(fs, ino)) {
		reply_value(req, "", 0, size);
		return;
	}
	if (inode_tree(fs, ino, &t, &slot, &idx) < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	tree_entry_at(t, idx, &e);
	for (uint32_t i = 0; i < e.n_xattrs; i++) {
		tree_entry_xattr(t, &e, i, &x);
		len += x.name_len + 1;
	}
	list = xmalloc(len + 1);
	len = 0;
	for (uint32_t i = 0; i < e.n_xattrs; i++) {
		tree_entry_xattr(t, &e, i, &x);
		memcpy(list + len, x.name, x.name_len + 1);
		len += x.name_len + 1;
	}
	reply_value(req, list, len, size);
}

static void
op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = TREE_MAX_NAME};

	(void)ino;
	st.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &st);
}

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct lazyfs *fs = userdata;
	unsigned want = FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_NO_OPENDIR_SUPPORT |
	                FUSE_CAP_CACHE_SYMLINKS | FUSE_CAP_READDIRPLUS | FUSE_CAP_PARALLEL_DIROPS |
	                FUSE_CAP_ASYNC_READ;
	bool passthrough = lazyfs_passthrough_offered(&fs->pt);

	/* With passthrough, opens decide how each file is served; without, there is nothing to
	 * decide and no open need reach the server. */
	if (!passthrough)
		want |= FUSE_CAP_NO_OPEN_SUPPORT;
	conn->want |= conn->capable & want;
	/* Nothing ever changes: no revalidation on reads, plus always (no heuristic). */
	conn->want &= ~(FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_READDIRPLUS_AUTO |
	                FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ);
	conn->time_gran = 1;
	kl_debug("lazyfs: kernel FUSE %u.%u, capable 0x%x, want 0x%x, passthrough %s",
	         conn->proto_major, conn->proto_minor, conn->capable, conn->want,
	         passthrough ? "offered" : "not offered");
	if (fs->ready)
		fs->ready(fs->ready_userdata);
}

static const struct fuse_lowlevel_ops lazyfs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .readlink = op_readlink,
    .open = op_open,
    .release = op_release,
    .read = op_read,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .statfs = op_statfs,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
};

int
lazyfs_new(struct store *s, const struct lazyfs_options *opts, struct lazyfs **ret,
           struct kl_error **err)
{
	static const struct lazyfs_options defaults = {0};
	struct lazyfs *fs;
	struct rlimit rl;
	int r;

	if (!opts)
		opts = &defaults;
	fs = xcalloc(1, sizeof(*fs));
	fs->store = store_ref(s);
	fs->providers =
	    opts->providers ? opts->providers : provider_set_new_default(s, opts->local_root);
	fs->flights = singleflight_new();
	fs->rings = uring_pool_new();
	fs->single = opts->root_tree != NULL;
	fs->want_passthrough = opts->passthrough;
	fs->max_threads = opts->max_threads ? opts->max_threads : DEFAULT_THREADS;
	fs->handle_signals = opts->handle_signals;
	fs->ready = opts->ready;
	fs->ready_userdata = opts->ready_userdata;
	fs->mount_time = time(NULL);
	fs->max_kept_fds = 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 2 > 64)
		fs->max_kept_fds = (int64_t)(rl.rlim_cur / 2);
	lazyfs_tables_init(fs);
	lazyfs_passthrough_init(&fs->pt);
	lazyfs_warm_init(&fs->warm);
	if (fs->single) {
		_cleanup_(tree_unrefp) struct tree *t = NULL;

		r = tree_load(s, opts->root_tree, &t, err);
		if (r < 0) {
			lazyfs_free(fs);
			return r;
		}
		lazyfs_tree_install_root(fs, t);
	} else {
		/* Slot 0 holds the store root (inode 1); trees start at slot 1. */
		pthread_mutex_lock(&fs->trees_lock);
		fs->n_slots = 1;
		atomic_store(&fs->slots[0], xcalloc(SLOT_CHUNK, sizeof(struct lazy_tree)));
		pthread_mutex_unlock(&fs->trees_lock);
	}
	*ret = fs;
	return 0;
}

struct lazyfs *
lazyfs_free(struct lazyfs *fs)
{
	if (!fs)
		return NULL;
	lazyfs_unmount(fs);
	lazyfs_warm_done(fs); /* before the session it pushes through goes */
	if (fs->session)
		fuse_session_destroy(fs->session);
	lazyfs_tables_done(fs);
	lazyfs_passthrough_done(&fs->pt);
	uring_pool_free(fs->rings);
	singleflight_free(fs->flights);
	provider_set_free(fs->providers);
	store_unref(fs->store);
	free(fs->mountpoint);
	free(fs);
	return NULL;
}

int
lazyfs_mount(struct lazyfs *fs, const char *mountpoint, struct kl_error **err)
{
	char *argv[] = {"kiln", "-o", "ro,default_permissions,allow_other,fsname=kiln,subtype=kiln",
	                NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	int r;

	if (fs->session)
		return kl_error_setf(err, EBUSY, "lazyfs already mounted at '%s'", fs->mountpoint);
	fs->session = fuse_session_new(&args, &lazyfs_ops, sizeof(lazyfs_ops), fs);
	fuse_opt_free_args(&args);
	if (!fs->session)
		return kl_error_setf(err, EINVAL, "setting up a FUSE session failed");
	if (fuse_session_mount(fs->session, mountpoint) != 0) {
		fuse_session_destroy(TAKE_PTR(fs->session));
		return kl_error_setf(
		    err, EIO, "mounting FUSE at '%s' failed (see the message above)", mountpoint);
	}
	fs->mountpoint = xstrdup(mountpoint);
	fs->mounted = true;
	/* Without the hooks the INIT reply offers no passthrough: no opens, as always. */
	r = fs->want_passthrough ? lazyfs_passthrough_attach(&fs->pt, fs->session, err) : 0;
	if (r < 0) {
		lazyfs_unmount(fs);
		fuse_session_destroy(TAKE_PTR(fs->session));
		free(TAKE_PTR(fs->mountpoint));
		kl_error_prefix(err, "mounting FUSE at '%s'", mountpoint);
		return r;
	}
	return 0;
}

int
lazyfs_serve(struct lazyfs *fs, struct kl_error **err)
{
	struct fuse_loop_config *cfg;
	int r;

	if (!fs->session)
		return kl_error_setf(err, EINVAL, "lazyfs is not mounted");
	if (fs->handle_signals && fuse_set_signal_handlers(fs->session) != 0)
		return kl_error_setf(err, EIO, "installing signal handlers failed");
	cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, 1);
	fuse_loop_cfg_set_max_threads(cfg, fs->max_threads);
	r = fuse_session_loop_mt(fs->session, cfg);
	fuse_loop_cfg_destroy(cfg);
	if (fs->handle_signals)
		fuse_remove_signal_handlers(fs->session);
	if (r < 0)
		return kl_error_set(err, -r, "serving '%s'", fs->mountpoint);
	return r;
}

void
lazyfs_unmount(struct lazyfs *fs)
{
	if (!fs->mounted)
		return;
	fuse_session_unmount(fs->session);
	fs->mounted = false;
}
