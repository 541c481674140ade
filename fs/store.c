// SPDX-License-Identifier: Apache-2.0
/* The content store: blobs by sha256, ingested through temporary files renamed into place. */
#include "fs/store.h"
#include "fs/store-internal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/error.h"
#include "util/hex.h"
#include "util/io.h"
#include "util/log.h"
#include "util/path.h"
#include "util/xalloc.h"

/* A temporary file as finished: the blob is trusted if its name is still that inode. */
struct written {
	dev_t dev;
	ino_t ino; /* 0: unknown, trust nothing */
	off_t size;
	struct timespec mtime;
};

struct store_writer {
	struct store *store;
	struct written written;
	int fd;
	char *tmp_name;
	struct digest_ctx *hash;
	uint64_t size;
};

struct batch_item {
	char *tmp_name;
	struct digest digest;
	struct written written;
};

struct store_batch {
	struct store *store;
	struct batch_item *items;
	size_t n, cap;
};

static int
open_dir_at(int dir_fd, const char *name, bool create, int *ret)
{
	int fd;

	if (create && mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret = fd;
	return 0;
}

/* Whether the process whose temporary files are ingest/<token>... is gone: nobody holds
 * ingest/<token>.lock (or it is not there). */
static bool
token_is_dead(struct store *s, const char *token, size_t len)
{
	_cleanup_free_ char *lock_name = xasprintf("%.*s.lock", (int)len, token);
	_cleanup_close_ int lfd = openat(s->ingest_fd, lock_name, O_RDONLY | O_CLOEXEC);

	return lfd < 0 || flock(lfd, LOCK_SH | LOCK_NB) == 0;
}

/* Removes ingest leftovers of dead processes (their directories, and files named
 * <token>.<n> as older kilns made them); live ones hold their token's lock. */
static void
clean_ingest_leftovers(struct store *s)
{
	int fd = dup(s->ingest_fd);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		const char *dot = strchr(de->d_name, '.');
		size_t len = dot ? (size_t)(dot - de->d_name) : strlen(de->d_name);

		if (de->d_name[0] == '.' || (dot && strcmp(dot, ".lock") == 0) ||
		    !token_is_dead(s, de->d_name, len))
			continue;
		kl_debug("store: removing ingest leftover '%s'", de->d_name);
		(void)kl_path_rm_rf_at(s->ingest_fd, de->d_name);
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');
		_cleanup_close_ int lfd = -1;

		if (!dot || strcmp(dot, ".lock") != 0 || strncmp(de->d_name, s->token, 32) == 0)
			continue;
		lfd = openat(s->ingest_fd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0)
			(void)unlinkat(s->ingest_fd, de->d_name, 0);
	}
	closedir(d);
}

static int
take_ingest_token(struct store *s, struct kl_error **err)
{
	for (int attempt = 0;; attempt++) {
		_cleanup_free_ char *name = NULL;
		uint8_t rnd[16];
		struct stat held, named;

		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return kl_error_set(err, errno, "reading random bytes");
		kl_hex_encode(rnd, sizeof(rnd), s->token);
		name = xasprintf("%s.lock", s->token);
		s->lock_fd =
		    openat(s->ingest_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (s->lock_fd < 0)
			return kl_error_set(err, errno, "creating '%s/ingest/%s'", s->root, name);
		if (flock(s->lock_fd, LOCK_EX) < 0)
			return kl_error_set(err, errno, "locking '%s/ingest/%s'", s->root, name);
		/* Another open's cleanup may have taken the lock between the create and the flock
		 * and removed the file as a leftover: then the token is dead, take another. */
		if (fstat(s->lock_fd, &held) == 0 &&
		    fstatat(s->ingest_fd, name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
		    held.st_ino == named.st_ino && held.st_dev == named.st_dev)
			return 0;
		close(s->lock_fd);
		s->lock_fd = -1;
		if (attempt >= 100)
			return kl_error_setf(err, EBUSY, "taking an ingest token in '%s/ingest'",
			                     s->root);
	}
}

static int
store_setup(struct store *s, bool create, struct kl_error **err)
{
	int r, content_fd = -1;

	if (create) {
		r = kl_path_mkdir_p(s->root, 0755);
		if (r < 0)
			return kl_error_set(err, -r, "creating store '%s'", s->root);
	}
	s->root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0)
		return kl_error_set(err, errno, "opening store '%s'", s->root);
	/* Paths under the root must outlive a chdir (a mount's server leaves the directory). */
	if (s->root[0] != '/') {
		char *abs = realpath(s->root, NULL);

		if (!abs)
			return kl_error_set(err, errno, "resolving store '%s'", s->root);
		free(s->root);
		s->root = abs;
	}
	r = open_dir_at(s->root_fd, "content", create, &content_fd);
	if (r >= 0) {
		r = open_dir_at(content_fd, "sha256", create, &s->content_fd);
		close(content_fd);
	}
	if (r < 0)
		return kl_error_set(err, -r, "opening '%s/content/sha256'", s->root);
	r = open_dir_at(s->root_fd, "verified", create, &s->verified_fd);
	if (r < 0 && create)
		return kl_error_set(err, -r, "opening '%s/verified'", s->root);
	if (!create)
		return 0; /* without verified/, blobs are hashed: nothing to fail for */
	r = open_dir_at(s->root_fd, "ingest", true, &s->ingest_fd);
	if (r < 0)
		return kl_error_set(err, -r, "opening '%s/ingest'", s->root);
	r = take_ingest_token(s, err);
	if (r < 0)
		return r;
	clean_ingest_leftovers(s);
	return 0;
}

int
store_open(const char *root, const struct store_options *opts, struct store **ret,
           struct kl_error **err)
{
	_cleanup_(store_unrefp) struct store *s = xcalloc(1, sizeof(*s));
	int r;

	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->trusted_lock, NULL);
	pthread_mutex_init(&s->temp_dir_lock, NULL);
	s->flags = opts ? opts->flags : 0;
	s->root = xstrdup(root);
	s->root_fd = s->content_fd = s->verified_fd = s->ingest_fd = s->lock_fd = -1;
	r = store_setup(s, !(s->flags & STORE_READ_ONLY), err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

/* Reopens dir (relative to the root, or the root itself) onto *fd, keeping the number; the
 * directory must be the one *fd was. */
static int
reopen_dir(struct store *s, const char *dir, int *fd, struct kl_error **err)
{
	_cleanup_free_ char *path = dir ? kl_path_join(s->root, dir) : xstrdup(s->root);
	_cleanup_close_ int nfd = -1;
	struct stat was, now;

	if (*fd < 0)
		return 0;
	nfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nfd < 0)
		return kl_error_set(err, errno, "reopening '%s'", path);
	if (fstat(*fd, &was) < 0 || fstat(nfd, &now) < 0)
		return kl_error_set(err, errno, "stat of '%s'", path);
	if (was.st_dev != now.st_dev || was.st_ino != now.st_ino)
		return kl_error_setf(err, ESTALE, "reopening '%s': another directory is there now",
		                     path);
	if (dup3(nfd, *fd, O_CLOEXEC) < 0)
		return kl_error_set(err, errno, "reopening '%s'", path);
	return 0;
}

int
store_reopen(struct store *s, struct kl_error **err)
{
	int r = reopen_dir(s, NULL, &s->root_fd, err);

	if (r >= 0)
		r = reopen_dir(s, "content/sha256", &s->content_fd, err);
	if (r >= 0)
		r = reopen_dir(s, "verified", &s->verified_fd, err);
	if (r >= 0)
		r = reopen_dir(s, "ingest", &s->ingest_fd, err);
	return r;
}

struct store *
store_ref(struct store *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

static void
store_free(struct store *s)
{
	if (s->lock_fd >= 0) {
		_cleanup_free_ char *name = xasprintf("%s.lock", s->token);
		_cleanup_close_ int fd = -1;

		/* A process forked from this one (kiln mount's server) holds the token too: the
		 * lock belongs to the open file they share, so its temporary files stay until the
		 * last of them lets go of it. */
		close(s->lock_fd);
		fd = openat(s->ingest_fd, name, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
			(void)kl_path_rm_rf_at(s->ingest_fd, s->token);
			(void)unlinkat(s->ingest_fd, name, 0);
		}
	}
	if (s->ingest_fd >= 0)
		close(s->ingest_fd);
	if (s->content_fd >= 0)
		close(s->content_fd);
	if (s->verified_fd >= 0)
		close(s->verified_fd);
	if (s->root_fd >= 0)
		close(s->root_fd);
	free(s->root);
	store_trust_fini(s);
	pthread_mutex_destroy(&s->trusted_lock);
	pthread_mutex_destroy(&s->temp_dir_lock);
	free(s);
}

struct store *
store_unref(struct store *s)
{
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		store_free(s);
	return NULL;
}

const char *
store_root(const struct store *s)
{
	return s->root;
}

int
store_root_fd(const struct store *s)
{
	return s->root_fd;
}

bool
store_syncs(const struct store *s)
{
	return !(s->flags & STORE_NO_SYNC);
}

int
store_open_blob(struct store *s, const struct digest *d, struct kl_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	int fd;

	digest_to_hex(d, hex);
	fd = openat(s->content_fd, hex, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0)
		return kl_error_set(err, errno, "opening blob sha256:%s in '%s'", hex, s->root);
	return fd;
}

/* Hashes the open blob d, whose fstat before reading is st: a good one is trusted (recorded
 * unless it already is), a corrupt one loses its record. */
static int
verify_open_blob(struct store *s, const struct digest *d, int fd, const struct stat *st,
                 bool is_recorded, struct kl_error **err)
{
	char want_s[DIGEST_STRING_SIZE], got_s[DIGEST_STRING_SIZE];
	struct digest got;
	int r;

	r = digest_fd(fd, &got);
	if (r < 0)
		return kl_error_set(err, -r, "reading blob %s in '%s'", digest_to_string(d, want_s),
		                    s->root);
	if (!digest_equal(d, &got)) {
		store_blob_distrust(s, d);
		return kl_error_setf(
		    err, EBADMSG, "blob %s in '%s' is corrupt: its bytes hash to %s",
		    digest_to_string(d, want_s), s->root, digest_to_string(&got, got_s));
	}
	if (!is_recorded)
		store_blob_trust(s, d, st);
	return 0;
}

int
store_open_blob_verified(struct store *s, const struct digest *d, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	char d_s[DIGEST_STRING_SIZE];
	struct stat st;
	int r;

	fd = store_open_blob(s, d, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return kl_error_set(err, errno, "stat of blob %s in '%s'", digest_to_string(d, d_s),
		                    s->root);
	if (store_blob_trusted(s, d, &st))
		return TAKE_FD(fd);
	r = verify_open_blob(s, d, fd, &st, /* is_recorded= */ false, err);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

int
store_has_blob(struct store *s, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];

	digest_to_hex(d, hex);
	return faccessat(s->content_fd, hex, F_OK, AT_EACCESS) == 0 ? 1 : 0;
}

int
store_read_blob(struct store *s, const struct digest *d, size_t max, char **ret, size_t *ret_len,
                struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	char name[DIGEST_STRING_SIZE];
	struct digest got;
	char *buf;
	size_t len;
	int r;

	fd = store_open_blob(s, d, err);
	if (fd < 0)
		return fd;
	r = kl_io_read_all(fd, max, &buf, &len);
	if (r < 0)
		return kl_error_set(err, -r, "reading blob %s in '%s'", digest_to_string(d, name),
		                    s->root);
	digest_buffer(buf, len, &got);
	if (!digest_equal(d, &got)) {
		free(buf);
		return kl_error_setf(err, EBADMSG,
		                     "blob %s in '%s' is corrupt: its bytes do not match its name",
		                     digest_to_string(d, name), s->root);
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Makes ingest/<token>/ for this store's temporary files, at the first one. ingest/ spreads
 * its subdirectories (kl_path_spread_subdirs), so a process's new blobs are not made among
 * the inodes that a prune or an earlier build has just freed. */
static int
make_temp_dir(struct store *s)
{
	int r = 0;

	if (atomic_load_explicit(&s->temp_dir_made, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&s->temp_dir_lock);
	if (!atomic_load_explicit(&s->temp_dir_made, memory_order_relaxed)) {
		kl_path_spread_subdirs(s->ingest_fd);
		/* EEXIST: made by the process this one was forked from, with the same token */
		if (mkdirat(s->ingest_fd, s->token, 0700) < 0 && errno != EEXIST)
			r = -errno;
		else
			atomic_store_explicit(&s->temp_dir_made, true, memory_order_release);
	}
	pthread_mutex_unlock(&s->temp_dir_lock);
	return r;
}

char *
store_temp_name(struct store *s)
{
	int r = make_temp_dir(s);

	if (r < 0) {
		errno = -r;
		return NULL;
	}
	return xasprintf("%s/%" PRIuFAST64, s->token,
	                 atomic_fetch_add_explicit(&s->seq, 1, memory_order_relaxed));
}

int
store_writer_begin(struct store *s, struct store_writer **ret, struct kl_error **err)
{
	struct store_writer *w;
	char *name;
	int fd;

	if (s->flags & STORE_READ_ONLY)
		return kl_error_setf(err, EROFS, "store '%s' is open read-only", s->root);
	name = store_temp_name(s);
	fd = name ? openat(s->ingest_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444) : -1;
	if (fd < 0) {
		int e = errno;
		free(name);
		return kl_error_set(err, e, "creating a temporary file in '%s/ingest'", s->root);
	}
	w = xcalloc(1, sizeof(*w));
	w->store = store_ref(s);
	w->fd = fd;
	w->tmp_name = name;
	w->hash = digest_ctx_new();
	*ret = w;
	return 0;
}

int
store_writer_write(struct store_writer *w, const void *buf, size_t n, struct kl_error **err)
{
	int r = kl_io_write_all(w->fd, buf, n);

	if (r < 0)
		return kl_error_set(err, -r, "writing '%s/ingest/%s'", w->store->root, w->tmp_name);
	store_writer_hash(w, buf, n);
	return 0;
}

int
store_writer_fd(struct store_writer *w)
{
	return w->fd;
}

void
store_writer_hash(struct store_writer *w, const void *buf, size_t n)
{
	digest_ctx_update(w->hash, buf, n);
	w->size += n;
}

uint64_t
store_writer_size(const struct store_writer *w)
{
	return w->size;
}

/* Hashes, checks against expected, syncs unless deferred, and closes the temporary file. */
static int
writer_finish(struct store_writer *w, const struct digest *expected, bool sync, struct digest *ret,
              struct kl_error **err)
{
	char want_s[DIGEST_STRING_SIZE], got_s[DIGEST_STRING_SIZE];
	struct digest got;
	struct stat st;

	digest_ctx_final(w->hash, &got);
	if (expected && !digest_equal(expected, &got))
		return kl_error_setf(
		    err, EBADMSG, "content does not match its digest: expected %s, got %s",
		    digest_to_string(expected, want_s), digest_to_string(&got, got_s));
	/* A blob already present is durable: this copy is about to be dropped unsynced. */
	if (sync && !(w->store->flags & STORE_NO_SYNC) && store_has_blob(w->store, &got) != 1 &&
	    fsync(w->fd) < 0)
		return kl_error_set(err, errno, "syncing '%s/ingest/%s'", w->store->root,
		                    w->tmp_name);
	if (fstat(w->fd, &st) == 0)
		w->written = (struct written){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
	else
		w->written.ino = 0; /* costs a hash at the next read, nothing else */
	if (close(w->fd) < 0) {
		w->fd = -1;
		return kl_error_set(err, errno, "closing '%s/ingest/%s'", w->store->root,
		                    w->tmp_name);
	}
	w->fd = -1;
	*ret = got;
	return 0;
}

/* Trusts a blob just moved into place if its name is still the temporary file written (as it is
 * now: the rename changed its ctime). */
static void
trust_published(struct store *s, const char *hex, const struct digest *d,
                const struct written *written)
{
	struct stat st;

	if (written->ino && fstatat(s->content_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_ino == written->ino && st.st_dev == written->dev && st.st_size == written->size &&
	    st.st_mtim.tv_sec == written->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == written->mtime.tv_nsec)
		store_blob_trust(s, d, &st);
}

/* Moves a finished temporary file to its name; an existing blob of that name is kept. With
 * written (the temporary file as finished), the blob is trusted when the name is that inode. */
static int
publish(struct store *s, const char *tmp_name, const struct digest *d,
        const struct written *written, struct kl_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];

	digest_to_hex(d, hex);
	if (renameat2(s->ingest_fd, tmp_name, s->content_fd, hex, RENAME_NOREPLACE) == 0) {
		if (written)
			trust_published(s, hex, d, written);
		return 0;
	}
	if (errno == EINVAL) {
		/* A filesystem without RENAME_NOREPLACE: a plain rename is as atomic, but must not
		 * replace a blob that is there (and durable) with this copy, which may be unsynced.
		 */
		if (faccessat(s->content_fd, hex, F_OK, AT_EACCESS) != 0 &&
		    renameat(s->ingest_fd, tmp_name, s->content_fd, hex) == 0) {
			if (written)
				trust_published(s, hex, d, written);
			return 0;
		}
		(void)unlinkat(s->ingest_fd, tmp_name, 0);
		return 0;
	}
	if (errno == EEXIST) {
		(void)unlinkat(s->ingest_fd, tmp_name, 0);
		return 0;
	}
	return kl_error_set(err, errno, "moving blob sha256:%s into '%s'", hex, s->root);
}

int
store_writer_commit(struct store_writer *w, const struct digest *expected, struct digest *ret,
                    struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *owned = w;
	struct digest got;
	int r;

	r = writer_finish(w, expected, true, &got, err);
	if (r < 0)
		return r;
	r = publish(w->store, w->tmp_name, &got, &w->written, err);
	if (r < 0)
		return r;
	if (!(w->store->flags & STORE_NO_SYNC))
		(void)fsync(w->store->content_fd);
	free(TAKE_PTR(w->tmp_name));
	if (ret)
		*ret = got;
	return 0;
}

struct store_writer *
store_writer_abort(struct store_writer *w)
{
	if (!w)
		return NULL;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_name) {
		(void)unlinkat(w->store->ingest_fd, w->tmp_name, 0);
		free(w->tmp_name);
	}
	digest_ctx_free(w->hash);
	store_unref(w->store);
	free(w);
	return NULL;
}

struct store_batch *
store_batch_new(struct store *s)
{
	struct store_batch *b = xcalloc(1, sizeof(*b));

	b->store = store_ref(s);
	return b;
}

int
store_writer_commit_batch(struct store_writer *w, struct store_batch *b,
                          const struct digest *expected, struct digest *ret, struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *owned = w;
	struct digest got;
	int r;

	r = writer_finish(w, expected, false, &got, err);
	if (r < 0)
		return r;
	b->items = xgrow(b->items, &b->cap, b->n + 1, sizeof(*b->items));
	b->items[b->n].tmp_name = TAKE_PTR(w->tmp_name);
	b->items[b->n].digest = got;
	b->items[b->n].written = w->written;
	b->n++;
	if (ret)
		*ret = got;
	return 0;
}

int
store_batch_commit(struct store_batch *b, struct kl_error **err)
{
	struct store *s = b->store;
	int r = 0;

	if (b->n == 0)
		return 0;
	if (!(s->flags & STORE_NO_SYNC) && syncfs(s->ingest_fd) < 0)
		return kl_error_set(err, errno, "syncing store '%s'", s->root);
	for (size_t i = 0; i < b->n; i++) {
		if (r == 0)
			r = publish(s, b->items[i].tmp_name, &b->items[i].digest,
			            &b->items[i].written, err);
		else
			(void)unlinkat(s->ingest_fd, b->items[i].tmp_name, 0);
		free(b->items[i].tmp_name);
	}
	b->n = 0;
	if (r == 0 && !(s->flags & STORE_NO_SYNC))
		(void)fsync(s->content_fd);
	return r;
}

struct store_batch *
store_batch_free(struct store_batch *b)
{
	if (!b)
		return NULL;
	for (size_t i = 0; i < b->n; i++) {
		(void)unlinkat(b->store->ingest_fd, b->items[i].tmp_name, 0);
		free(b->items[i].tmp_name);
	}
	free(b->items);
	store_unref(b->store);
	free(b);
	return NULL;
}

int
store_ingest_buffer(struct store *s, const void *buf, size_t n, struct digest *ret,
                    struct kl_error **err)
{
	struct store_writer *w;
	struct digest d;
	int r;

	/* a blob that is there stays as the commit would keep it: nothing written or synced */
	digest_buffer(buf, n, &d);
	if (store_has_blob(s, &d) > 0) {
		if (ret)
			*ret = d;
		return 0;
	}
	r = store_writer_begin(s, &w, err);
	if (r < 0)
		return r;
	r = store_writer_write(w, buf, n, err);
	if (r < 0) {
		store_writer_abort(w);
		return r;
	}
	return store_writer_commit(w, /* expected= */ NULL, ret, err);
}

/* Writes what is left of fd into w. */
static int
writer_write_fd(struct store_writer *w, int fd, struct kl_error **err)
{
	_cleanup_free_ char *buf = xmalloc(1 << 20);
	int r;

	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kl_error_set(err, errno, "reading content to ingest");
		if (n == 0)
			return 0;
		r = store_writer_write(w, buf, (size_t)n, err);
		if (r < 0)
			return r;
	}
}

/* What is left of fd as a blob (checked against expected when given), made visible with b
 * when given, now otherwise. */
static int
ingest_fd(struct store *s, struct store_batch *b, int fd, const struct digest *expected,
          struct digest *ret, struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *w = NULL;
	int r;

	r = store_writer_begin(s, &w, err);
	if (r >= 0)
		r = writer_write_fd(w, fd, err);
	if (r < 0)
		return r;
	if (b)
		return store_writer_commit_batch(TAKE_PTR(w), b, expected, ret, err);
	return store_writer_commit(TAKE_PTR(w), expected, ret, err);
}

int
store_ingest_fd(struct store *s, int fd, const struct digest *expected, struct digest *ret,
                struct kl_error **err)
{
	return ingest_fd(s, NULL, fd, expected, ret, err);
}

int
store_foreach_blob(struct store *s, store_blob_fn fn, void *userdata, struct kl_error **err)
{
	int fd = dup(s->content_fd);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (fd < 0)
		return kl_error_set(err, errno, "listing '%s/content/sha256'", s->root);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return kl_error_set(err, errno, "listing '%s/content/sha256'", s->root);
	}
	rewinddir(d); /* the dup shares its offset with content_fd: start from the top */
	while (r >= 0 && (de = readdir(d))) {
		struct digest dg;
		struct stat st;

		if (kl_hex_decode(de->d_name, strlen(de->d_name), dg.bytes, DIGEST_SIZE) < 0)
			continue;
		if (fstatat(s->content_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		r = fn(&dg, (uint64_t)st.st_size, userdata);
	}
	closedir(d);
	return r < 0 ? r : 0;
}

int
store_verify_blob(struct store *s, const struct digest *d)
{
	_cleanup_close_ int fd = store_open_blob(s, d, NULL);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* A record that matches is kept if the bytes are good, dropped if not. */
	return verify_open_blob(s, d, fd, &st, store_blob_recorded(s, d, &st), /* err= */ NULL);
}

int
store_remove_blob(struct store *s, const struct digest *d, int64_t unless_since_ns)
{
	char hex[DIGEST_HEX_LEN + 1];
	struct stat st;
	int64_t m, c;

	digest_to_hex(d, hex);
	if (fstatat(s->content_fd, hex, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	m = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	c = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	if (unless_since_ns && (m >= unless_since_ns || c >= unless_since_ns))
		return -EBUSY;
	if (unlinkat(s->content_fd, hex, 0) < 0)
		return -errno;
	return 0;
}

/* Strips what a blob does not carry: owner, mode bits but read, xattrs (a tree keeps them). */
static int
adopt_strip(int fd)
{
	char names[4096];
	ssize_t n;

	if (fchown(fd, geteuid(), getegid()) < 0 && errno != EPERM)
		return -errno;
	if (fchmod(fd, 0444) < 0)
		return -errno;
	n = flistxattr(fd, names, sizeof(names));
	if (n < 0 && errno == ERANGE) {
		/* a long list: remove them one size query at a time */
		while ((n = flistxattr(fd, NULL, 0)) > 0) {
			_cleanup_free_ char *big = xmalloc((size_t)n);
			ssize_t got = flistxattr(fd, big, (size_t)n);
			if (got <= 0)
				break;
			for (char *p = big; p < big + got; p += strlen(p) + 1)
				if (fremovexattr(fd, p) < 0 && errno != ENODATA)
					return -errno;
		}
		return 0;
	}
	for (char *p = names; n > 0 && p < names + n; p += strlen(p) + 1)
		if (fremovexattr(fd, p) < 0 && errno != ENODATA)
			return -errno;
	return 0;
}

int
store_adopt_file(struct store *s, struct store_batch *b, int dir_fd, const char *name,
                 const struct digest *d, struct kl_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	struct written written = {0};
	struct stat st;
	int r;

	if (s->flags & STORE_READ_ONLY)
		return kl_error_setf(err, EROFS, "store '%s' is open read-only", s->root);
	if (store_has_blob(s, d) == 1) {
		if (unlinkat(dir_fd, name, 0) < 0)
			return kl_error_set(err, errno, "removing '%s' (its blob is present)",
			                    name);
		return 0;
	}
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s' to adopt it", name);
	if (fstat(fd, &st) < 0)
		return kl_error_set(err, errno, "stat '%s'", name);
	if (!S_ISREG(st.st_mode))
		return kl_error_setf(err, EINVAL, "adopting '%s': not a regular file", name);
	tmp = store_temp_name(s);
	if (!tmp)
		return kl_error_set(err, errno, "creating '%s/ingest/%s'", s->root, s->token);
	if (renameat(dir_fd, name, s->ingest_fd, tmp) < 0) {
		if (errno != EXDEV)
			return kl_error_set(err, errno, "moving '%s' into '%s/ingest'", name,
			                    s->root);
		/* another filesystem (or mount): copy, verifying the caller's digest */
		kl_debug("store: '%s' is on another mount than '%s': copying it in", name, s->root);
		r = ingest_fd(s, b, fd, d, /* ret= */ NULL, err);
		if (r < 0)
			return r;
		(void)unlinkat(dir_fd, name, 0);
		return 0;
	}
	r = adopt_strip(fd);
	if (r < 0) {
		(void)unlinkat(s->ingest_fd, tmp, 0);
		return kl_error_set(err, -r, "making '%s' a read-only blob", name);
	}
	/* the caller hashed these bytes: once named, the inode is trusted as ingest's are */
	if (fstat(fd, &st) < 0)
		written.ino = 0;
	else
		written = (struct written){st.st_dev, st.st_ino, st.st_size, st.st_mtim};
	if (b) {
		b->items = xgrow(b->items, &b->cap, b->n + 1, sizeof(*b->items));
		b->items[b->n].tmp_name = TAKE_PTR(tmp);
		b->items[b->n].digest = *d;
		b->items[b->n].written = written;
		b->n++;
		return 0;
	}
	if (!(s->flags & STORE_NO_SYNC) && fsync(fd) < 0) {
		(void)unlinkat(s->ingest_fd, tmp, 0);
		return kl_error_set(err, errno, "syncing '%s'", name);
	}
	r = publish(s, tmp, d, &written, err);
	if (r < 0) {
		(void)unlinkat(s->ingest_fd, tmp, 0);
		return r;
	}
	if (!(s->flags & STORE_NO_SYNC))
		(void)fsync(s->content_fd);
	return 0;
}
