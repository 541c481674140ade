// SPDX-License-Identifier: Apache-2.0
/* The store's trust in its blobs' bytes, so that a blob hashed once is not hashed again while
 * its inode is unchanged: in this process (every blob it wrote or hashed), across processes a
 * verification record per big blob, and trust sets, one record vouching for a whole tree's
 * small blobs. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store-internal.h"
#include "fs/store.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

/* The table stops growing here (~27 MB); when it is full it starts over empty: trust lost
 * costs a hash, nothing else. */
#define TRUSTED_MAX_SLOTS ((size_t)1 << 18)
#define TRUSTED_FIRST_SLOTS ((size_t)1 << 10)

static bool
same_inode(const struct trusted_blob *t, const struct stat *st)
{
	return t->dev == st->st_dev && t->ino == st->st_ino && t->size == st->st_size &&
	       t->mode == st->st_mode && t->uid == st->st_uid && t->gid == st->st_gid &&
	       t->mtime.tv_sec == st->st_mtim.tv_sec && t->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       t->ctime.tv_sec == st->st_ctim.tv_sec && t->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* The slot of d: its own, or the empty one where it would go. A digest is uniformly random, so
 * its first bytes are the hash. */
static struct trusted_blob *
table_slot(const struct trusted_table *t, const struct digest *d)
{
	uint64_t h;
	size_t i;

	memcpy(&h, d->bytes, sizeof(h));
	for (i = (size_t)h & (t->cap - 1);; i = (i + 1) & (t->cap - 1))
		if (!t->slots[i].used || digest_equal(&t->slots[i].digest, d))
			return &t->slots[i];
}

static void
table_grow(struct trusted_table *t)
{
	struct trusted_blob *old = t->slots;
	size_t old_cap = t->cap;

	if (t->cap >= TRUSTED_MAX_SLOTS) {
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
		t->n = 0;
		return;
	}
	t->cap = t->cap ? t->cap * 2 : TRUSTED_FIRST_SLOTS;
	t->slots = xcalloc(t->cap, sizeof(*t->slots));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used)
			*table_slot(t, &old[i].digest) = old[i];
	free(old);
}

/* Blob d as the inode st describes. */
static struct trusted_blob
blob_as(const struct digest *d, const struct stat *st)
{
	return (struct trusted_blob){
	    .used = true,
	    .valid = true,
	    .digest = *d,
	    .dev = st->st_dev,
	    .ino = st->st_ino,
	    .size = st->st_size,
	    .mode = st->st_mode,
	    .uid = st->st_uid,
	    .gid = st->st_gid,
	    .mtime = st->st_mtim,
	    .ctime = st->st_ctim,
	};
}

static void
remember(struct store *s, const struct digest *d, const struct stat *st)
{
	struct trusted_table *t = &s->trusted;
	struct trusted_blob *slot;

	pthread_mutex_lock(&s->trusted_lock);
	if ((t->n + 1) * 4 > t->cap * 3)
		table_grow(t);
	slot = table_slot(t, d);
	if (!slot->used)
		t->n++;
	*slot = blob_as(d, st);
	pthread_mutex_unlock(&s->trusted_lock);
}

/* Copies what this process trusts of blob d into *ret; false when nothing. Called with the
 * lock held. */
static bool
remembered_locked(struct store *s, const struct digest *d, struct trusted_blob *ret)
{
	struct trusted_blob *slot;

	if (s->trusted.cap == 0)
		return false;
	slot = table_slot(&s->trusted, d);
	if (!slot->used || !slot->valid)
		return false;
	*ret = *slot;
	return true;
}

static bool
remembered(struct store *s, const struct digest *d, const struct stat *st)
{
	struct trusted_blob t;
	bool found;

	pthread_mutex_lock(&s->trusted_lock);
	found = remembered_locked(s, d, &t) && same_inode(&t, st);
	pthread_mutex_unlock(&s->trusted_lock);
	return found;
}

void
store_trust_fini(struct store *s)
{
	free(s->trusted.slots);
	s->trusted = (struct trusted_table){0};
}

/* A verification record: one line naming the digest and the inode it was verified as. A
 * record is compared byte for byte with the one the blob's current stat makes, so a torn,
 * stale or foreign record never matches. */
#define RECORD_MAX 320

static size_t
record_format(const struct digest *d, const struct stat *st, char buf[static RECORD_MAX])
{
	char name[DIGEST_STRING_SIZE];
	int n = snprintf(buf, RECORD_MAX,
	                 "kiln-verified 1 %s dev=%" PRIu64 " ino=%" PRIu64 " size=%" PRId64
	                 " mode=%o uid=%u gid=%u mtime=%" PRId64 ".%09ld ctime=%" PRId64 ".%09ld\n",
	                 digest_to_string(d, name), (uint64_t)st->st_dev, (uint64_t)st->st_ino,
	                 (int64_t)st->st_size, (unsigned)st->st_mode, (unsigned)st->st_uid,
	                 (unsigned)st->st_gid, (int64_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
	                 (int64_t)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);

	assert(n > 0 && n < RECORD_MAX);
	return (size_t)n;
}

static bool
record_matches(struct store *s, const char *hex, const char *want, size_t len)
{
	_cleanup_close_ int fd = -1;
	char got[RECORD_MAX + 1];
	ssize_t n;

	if (s->verified_fd < 0)
		return false;
	fd = openat(s->verified_fd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return false;
	n = kl_io_read_full(fd, got, sizeof(got));
	return n == (ssize_t)len && memcmp(got, want, len) == 0;
}

/* Replaces the file name in dir_fd with the n bytes of buf, atomically through a temporary
 * file in ingest/; unsynced: a lost record costs hashes. what names it in debug lines. */
static void
record_write(struct store *s, int dir_fd, const char *name, const void *buf, size_t n,
             const char *what)
{
	_cleanup_free_ char *tmp = NULL;
	int fd, r;

	if (dir_fd < 0 || s->ingest_fd < 0)
		return; /* read-only */
	tmp = store_temp_name(s);
	fd = tmp ? openat(s->ingest_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444) : -1;
	if (fd < 0) {
		kl_debug("store: no %s for sha256:%s: %s", what, name, strerror(errno));
		return;
	}
	r = kl_io_write_all(fd, buf, n);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(s->ingest_fd, tmp, dir_fd, name) < 0)
		r = -errno;
	if (r < 0) {
		kl_debug("store: no %s for sha256:%s: %s", what, name, strerror(-r));
		(void)unlinkat(s->ingest_fd, tmp, 0);
	}
}

void
store_blob_trust(struct store *s, const struct digest *d, const struct stat *st)
{
	char hex[DIGEST_HEX_LEN + 1], rec[RECORD_MAX];
	size_t len;

	remember(s, d, st);
	if ((uint64_t)st->st_size < STORE_RECORD_MIN_SIZE)
		return;
	len = record_format(d, st, rec);
	record_write(s, s->verified_fd, digest_to_hex(d, hex), rec, len, "verification record");
}

bool
store_blob_recorded(struct store *s, const struct digest *d, const struct stat *st)
{
	char hex[DIGEST_HEX_LEN + 1], rec[RECORD_MAX];
	size_t len;

	if ((uint64_t)st->st_size < STORE_RECORD_MIN_SIZE)
		return false;
	len = record_format(d, st, rec);
	return record_matches(s, digest_to_hex(d, hex), rec, len);
}

/* Trust sets live in verified/trees/, one file per name: a header, the sorted fingerprints of
 * the (blob, inode) pairs vouched for, and a checksum of all that, so a torn or foreign file
 * vouches for nothing. */
#define SETS_DIR "trees"
#define SET_MAGIC "kiln-trustset-1\n"
#define FINGERPRINT_SIZE 16

struct set_header {
	char magic[16];
	uint64_t count;
};

struct store_trust_set {
	size_t n;
	uint8_t *buf;                     /* the file as read */
	uint8_t (*fps)[FINGERPRINT_SIZE]; /* inside buf */
};

/* What a fingerprint hashes: the blob and the inode it was trusted as, every field at a fixed
 * place (no padding left undefined). */
struct fingerprint_input {
	uint8_t digest[DIGEST_SIZE];
	uint64_t dev, ino;
	int64_t size;
	uint32_t mode, uid, gid, zero;
	int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
};

static void
fingerprint(const struct trusted_blob *b, uint8_t ret[FINGERPRINT_SIZE])
{
	struct fingerprint_input in;
	struct digest h;

	memset(&in, 0, sizeof(in));
	memcpy(in.digest, b->digest.bytes, DIGEST_SIZE);
	in.dev = (uint64_t)b->dev;
	in.ino = (uint64_t)b->ino;
	in.size = (int64_t)b->size;
	in.mode = (uint32_t)b->mode;
	in.uid = (uint32_t)b->uid;
	in.gid = (uint32_t)b->gid;
	in.mtime_sec = (int64_t)b->mtime.tv_sec;
	in.mtime_nsec = (int64_t)b->mtime.tv_nsec;
	in.ctime_sec = (int64_t)b->ctime.tv_sec;
	in.ctime_nsec = (int64_t)b->ctime.tv_nsec;
	digest_buffer(&in, sizeof(in), &h);
	memcpy(ret, h.bytes, FINGERPRINT_SIZE);
}

static int
fingerprint_compare(const void *a, const void *b)
{
	return memcmp(a, b, FINGERPRINT_SIZE);
}

/* verified/trees/, made when create; -1 when absent (or the store is read-only). */
static int
sets_dir(struct store *s, bool create)
{
	int fd;

	if (s->verified_fd < 0)
		return -1;
	fd = openat(s->verified_fd, SETS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create && s->ingest_fd >= 0 &&
	    (mkdirat(s->verified_fd, SETS_DIR, 0755) == 0 || errno == EEXIST))
		fd = openat(s->verified_fd, SETS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd;
}

size_t
store_trust_set_save(struct store *s, const struct digest *name, const struct digest *blobs,
                     size_t n)
{
	_cleanup_close_ int dir_fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	struct set_header h = {.magic = SET_MAGIC};
	uint8_t(*fps)[FINGERPRINT_SIZE];
	char hex[DIGEST_HEX_LEN + 1];
	struct digest sum;
	size_t found = 0, len;

	if (n == 0 || s->ingest_fd < 0)
		return 0;
	buf = xmalloc(sizeof(h) + n * FINGERPRINT_SIZE + DIGEST_SIZE);
	fps = (uint8_t(*)[FINGERPRINT_SIZE])(buf + sizeof(h));
	pthread_mutex_lock(&s->trusted_lock);
	for (size_t i = 0; i < n; i++) {
		struct trusted_blob t;

		if (remembered_locked(s, &blobs[i], &t))
			fingerprint(&t, fps[found++]);
	}
	pthread_mutex_unlock(&s->trusted_lock);
	if (found == 0)
		return 0;
	qsort(fps, found, FINGERPRINT_SIZE, fingerprint_compare);
	h.count = found;
	memcpy(buf, &h, sizeof(h));
	len = sizeof(h) + found * FINGERPRINT_SIZE;
	digest_buffer(buf, len, &sum);
	memcpy(buf + len, sum.bytes, DIGEST_SIZE);
	dir_fd = sets_dir(s, true);
	record_write(s, dir_fd, digest_to_hex(name, hex), buf, len + DIGEST_SIZE, "trust set");
	return found;
}

struct store_trust_set *
store_trust_set_load(struct store *s, const struct digest *name)
{
	_cleanup_close_ int dir_fd = sets_dir(s, false), fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	struct store_trust_set *set;
	struct set_header h;
	struct digest sum;
	struct stat st;
	size_t len;

	if (dir_fd < 0)
		return NULL;
	fd = openat(dir_fd, digest_to_hex(name, hex), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < sizeof(h) + DIGEST_SIZE ||
	    ((uint64_t)st.st_size - sizeof(h) - DIGEST_SIZE) % FINGERPRINT_SIZE != 0)
		return NULL;
	len = (size_t)st.st_size - DIGEST_SIZE;
	buf = xmalloc((size_t)st.st_size);
	if (kl_io_read_full(fd, buf, (size_t)st.st_size) != (ssize_t)st.st_size)
		return NULL;
	memcpy(&h, buf, sizeof(h));
	digest_buffer(buf, len, &sum);
	if (memcmp(h.magic, SET_MAGIC, sizeof(h.magic)) != 0 ||
	    h.count != (len - sizeof(h)) / FINGERPRINT_SIZE ||
	    memcmp(sum.bytes, buf + len, DIGEST_SIZE) != 0) {
		kl_debug("store: trust set %s is torn or foreign: ignored", hex);
		return NULL;
	}
	set = xcalloc(1, sizeof(*set));
	set->n = (size_t)h.count;
	set->buf = TAKE_PTR(buf);
	set->fps = (uint8_t(*)[FINGERPRINT_SIZE])(set->buf + sizeof(h));
	return set;
}

static bool
set_vouches(const struct store_trust_set *set, const struct digest *d, const struct stat *st)
{
	struct trusted_blob b;
	uint8_t fp[FINGERPRINT_SIZE];

	if (!set || set->n == 0)
		return false;
	b = blob_as(d, st);
	fingerprint(&b, fp);
	return bsearch(fp, set->fps, set->n, FINGERPRINT_SIZE, fingerprint_compare) != NULL;
}

/* This process first, then the set (in memory), then the record (a file to read). */
bool
store_blob_trusted_by(struct store *s, const struct store_trust_set *set, const struct digest *d,
                      const struct stat *st)
{
	if (remembered(s, d, st))
		return true;
	if (!set_vouches(set, d, st) && !store_blob_recorded(s, d, st))
		return false;
	remember(s, d, st);
	return true;
}

bool
store_blob_trusted(struct store *s, const struct digest *d, const struct stat *st)
{
	return store_blob_trusted_by(s, /* set= */ NULL, d, st);
}

struct store_trust_set *
store_trust_set_free(struct store_trust_set *set)
{
	if (set) {
		free(set->buf);
		free(set);
	}
	return NULL;
}

/* Removes every entry of dir_fd (a records directory) that keep() refuses; closes dir_fd. */
static void
sweep_records(struct store *s, int dir_fd, bool (*keep)(struct store *s, const char *name))
{
	DIR *d = fdopendir(dir_fd);
	struct dirent *de;

	if (!d) {
		close(dir_fd);
		return;
	}
	while ((de = readdir(d)))
		if (de->d_type != DT_DIR && !keep(s, de->d_name) &&
		    unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			kl_debug("store: removing record '%s': %s", de->d_name, strerror(errno));
	closedir(d);
}

static bool
keep_none(struct store *s, const char *name)
{
	(void)s;
	(void)name;
	return false;
}

/* A record is kept while the blob it is named after is there. */
static bool
keep_if_blob(struct store *s, const char *name)
{
	return faccessat(s->content_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

void
store_blob_distrust(struct store *s, const struct digest *d)
{
	char hex[DIGEST_HEX_LEN + 1];
	int dir_fd;

	pthread_mutex_lock(&s->trusted_lock);
	if (s->trusted.cap) {
		struct trusted_blob *slot = table_slot(&s->trusted, d);

		if (slot->used)
			slot->valid = false;
	}
	pthread_mutex_unlock(&s->trusted_lock);
	if (s->verified_fd < 0 || (s->flags & STORE_READ_ONLY))
		return;
	digest_to_hex(d, hex);
	if (unlinkat(s->verified_fd, hex, 0) < 0 && errno != ENOENT)
		kl_debug("store: removing the record of sha256:%s: %s", hex, strerror(errno));
	/* which sets vouch for the blob is not known: none is kept */
	dir_fd = sets_dir(s, false);
	if (dir_fd >= 0)
		sweep_records(s, dir_fd, keep_none);
}

void
store_trust_prune(struct store *s)
{
	int dir_fd;

	if (s->verified_fd < 0 || (s->flags & STORE_READ_ONLY))
		return;
	dir_fd = sets_dir(s, false);
	if (dir_fd >= 0)
		sweep_records(s, dir_fd, keep_if_blob);
	dir_fd = openat(s->verified_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd >= 0)
		sweep_records(s, dir_fd, keep_if_blob);
}
