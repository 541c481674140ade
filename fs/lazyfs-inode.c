// SPDX-License-Identifier: Apache-2.0
/* lazyfs's tables: tree slots, the inodes the kernel holds, and contents resolved in this mount. */
#include "fs/lazyfs-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/provider.h"
#include "fs/singleflight.h"
#include "fs/store.h"
#include "fs/uring.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

#define INITIAL_BUCKETS 64u

static uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static uint64_t
digest_hash(const struct digest *d)
{
	uint64_t h;

	memcpy(&h, d->bytes, sizeof(h));
	return h;
}

void
lazyfs_tables_init(struct lazyfs *fs)
{
	pthread_mutex_init(&fs->trees_lock, NULL);
	for (unsigned i = 0; i < N_SHARDS; i++) {
		pthread_mutex_init(&fs->inodes[i].lock, NULL);
		fs->inodes[i].n_buckets = INITIAL_BUCKETS;
		fs->inodes[i].buckets = xcalloc(INITIAL_BUCKETS, sizeof(struct lazy_inode *));
		pthread_mutex_init(&fs->known[i].lock, NULL);
		fs->known[i].n_buckets = INITIAL_BUCKETS;
		fs->known[i].buckets = xcalloc(INITIAL_BUCKETS, sizeof(struct known *));
	}
}

void
lazyfs_tables_done(struct lazyfs *fs)
{
	for (unsigned i = 0; i < N_SHARDS; i++) {
		struct inode_shard *is = &fs->inodes[i];
		struct known_shard *ks = &fs->known[i];

		for (size_t b = 0; b < is->n_buckets; b++)
			for (struct lazy_inode *in = is->buckets[b], *next; in; in = next) {
				next = in->next;
				if (in->fd >= 0)
					(void)close(in->fd);
				free(in);
			}
		free(is->buckets);
		pthread_mutex_destroy(&is->lock);
		for (size_t b = 0; b < ks->n_buckets; b++)
			for (struct known *k = ks->buckets[b], *next; k; k = next) {
				next = k->next;
				free(k);
			}
		free(ks->buckets);
		pthread_mutex_destroy(&ks->lock);
	}
	for (unsigned c = 0; c < SLOT_CHUNKS; c++) {
		struct lazy_tree *chunk = atomic_load(&fs->slots[c]);
		if (!chunk)
			break;
		for (unsigned i = 0; i < SLOT_CHUNK; i++)
			tree_unref(atomic_load(&chunk[i].tree));
		free(chunk);
	}
	pthread_mutex_destroy(&fs->trees_lock);
}

/* Tree slots. */

/* The slot of an inode, or NULL when none was ever assigned. */
static struct lazy_tree *
slot_at(struct lazyfs *fs, uint32_t slot)
{
	struct lazy_tree *chunk;

	if (slot / SLOT_CHUNK >= SLOT_CHUNKS)
		return NULL;
	chunk = atomic_load_explicit(&fs->slots[slot / SLOT_CHUNK], memory_order_acquire);
	return chunk ? &chunk[slot % SLOT_CHUNK] : NULL;
}

struct tree *
lazyfs_slot_tree(struct lazyfs *fs, uint32_t slot)
{
	struct lazy_tree *lt = slot_at(fs, slot);

	return lt ? atomic_load_explicit(&lt->tree, memory_order_acquire) : NULL;
}

struct tree *
lazyfs_slot_tree_ref(struct lazyfs *fs, uint32_t slot)
{
	struct lazy_tree *lt = slot_at(fs, slot);
	struct tree *t;

	if (!lt)
		return NULL;
	pthread_mutex_lock(&fs->trees_lock); /* unloading happens under it */
	t = tree_ref(atomic_load(&lt->tree));
	pthread_mutex_unlock(&fs->trees_lock);
	return t;
}

/* Assigns the next slot; called with trees_lock held. */
static struct lazy_tree *
new_slot(struct lazyfs *fs, uint32_t *ret)
{
	uint32_t s = fs->n_slots;

	if (s / SLOT_CHUNK >= SLOT_CHUNKS)
		return NULL;
	if (!atomic_load(&fs->slots[s / SLOT_CHUNK]))
		atomic_store_explicit(&fs->slots[s / SLOT_CHUNK],
		                      xcalloc(SLOT_CHUNK, sizeof(struct lazy_tree)),
		                      memory_order_release);
	fs->n_slots++;
	*ret = s;
	return slot_at(fs, s);
}

void
lazyfs_tree_install_root(struct lazyfs *fs, struct tree *t)
{
	struct lazy_tree *lt;
	uint32_t s;

	pthread_mutex_lock(&fs->trees_lock);
	lt = new_slot(fs, &s);
	lt->id = *tree_id(t);
	atomic_store_explicit(&lt->tree, tree_ref(t), memory_order_release);
	atomic_fetch_add(&fs->trees_loaded, 1);
	pthread_mutex_unlock(&fs->trees_lock);
}

/* Finds the slot holding id; called with trees_lock held. */
static struct lazy_tree *
find_slot(struct lazyfs *fs, const struct digest *id, uint32_t *ret)
{
	for (uint32_t s = 1; s < fs->n_slots; s++) {
		struct lazy_tree *lt = slot_at(fs, s);
		if (digest_equal(&lt->id, id)) {
			*ret = s;
			return lt;
		}
	}
	return NULL;
}

int
lazyfs_tree_acquire(struct lazyfs *fs, const struct digest *id, uint32_t *ret_slot,
                    struct kl_error **err)
{
	struct lazy_tree *lt;
	struct tree *t;
	uint32_t s;
	int r = 0;

	pthread_mutex_lock(&fs->trees_lock);
	lt = find_slot(fs, id, &s);
	if (!lt || !atomic_load(&lt->tree)) {
		/* Loading under the lock: root lookups are rare (the kernel caches them). */
		r = tree_load(fs->store, id, &t, err);
		if (r < 0)
			goto out;
		if (!lt)
			lt = new_slot(fs, &s);
		if (!lt) {
			tree_unref(t);
			r = kl_error_setf(err, ENOSPC, "too many trees in one mount");
			goto out;
		}
		lt->id = *id;
		atomic_store_explicit(&lt->tree, t, memory_order_release);
		atomic_fetch_add(&fs->trees_loaded, 1);
	}
	atomic_fetch_add(&lt->nlookup, 1);
	*ret_slot = s;
out:
	pthread_mutex_unlock(&fs->trees_lock);
	return r;
}

/* Drops n kernel references on a slot; store mode unloads a tree nothing refers to any more. */
static void
slot_unref(struct lazyfs *fs, uint32_t slot, uint64_t n)
{
	struct lazy_tree *lt = slot_at(fs, slot);

	if (!lt || atomic_fetch_sub(&lt->nlookup, n) != n || fs->single)
		return;
	pthread_mutex_lock(&fs->trees_lock);
	if (atomic_load(&lt->nlookup) == 0) {
		tree_unref(atomic_load(&lt->tree));
		atomic_store(&lt->tree, NULL);
	}
	pthread_mutex_unlock(&fs->trees_lock);
}

/* Inodes. */

static struct inode_shard *
inode_shard(struct lazyfs *fs, uint64_t ino)
{
	return &fs->inodes[mix(ino) % N_SHARDS];
}

/* Called with the shard's lock held (the bucket count changes as the shard grows). */
static size_t
inode_bucket(const struct inode_shard *is, uint64_t ino)
{
	return (mix(ino) / N_SHARDS) % is->n_buckets;
}

/* Called with the shard's lock held. */
static struct lazy_inode *
inode_find(struct inode_shard *is, size_t bucket, uint64_t ino)
{
	for (struct lazy_inode *in = is->buckets[bucket]; in; in = in->next)
		if (in->ino == ino)
			return in;
	return NULL;
}

static void
inode_grow(struct inode_shard *is)
{
	size_t n = is->n_buckets * 4;
	struct lazy_inode **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < is->n_buckets; i++)
		for (struct lazy_inode *in = is->buckets[i], *next; in; in = next) {
			size_t k =
			    (mix(in->ino) / N_SHARDS) % n; /* inode_bucket() after the swap */
			next = in->next;
			in->next = b[k];
			b[k] = in;
		}
	free(is->buckets);
	is->buckets = b;
	is->n_buckets = n;
}

void
lazyfs_inode_ref(struct lazyfs *fs, uint32_t slot, uint32_t idx, enum tree_entry_type type)
{
	uint64_t ino = lazyfs_ino(slot, idx);
	struct inode_shard *is;
	struct lazy_inode *in;
	size_t b;

	if (ino == LAZYFS_ROOT_INO)
		return; /* the root is never forgotten */
	atomic_fetch_add(&slot_at(fs, slot)->nlookup, 1);
	if (type != TREE_REG)
		return; /* only files carry per-inode state */
	is = inode_shard(fs, ino);
	pthread_mutex_lock(&is->lock);
	b = inode_bucket(is, ino);
	in = inode_find(is, b, ino);
	if (!in) {
		if (is->count >= is->n_buckets * 2) {
			inode_grow(is);
			b = inode_bucket(is, ino);
		}
		in = xmalloc(sizeof(*in));
		*in = (struct lazy_inode){.ino = ino, .fd = -1, .next = is->buckets[b]};
		is->buckets[b] = in;
		is->count++;
		atomic_fetch_add(&fs->n_inodes, 1);
	}
	in->nlookup++;
	pthread_mutex_unlock(&is->lock);
}

void
lazyfs_inode_forget(struct lazyfs *fs, uint64_t ino, uint64_t n)
{
	struct inode_shard *is;
	struct lazy_inode **p, *gone = NULL;

	if (ino == LAZYFS_ROOT_INO || n == 0)
		return;
	is = inode_shard(fs, ino);
	pthread_mutex_lock(&is->lock);
	for (p = &is->buckets[inode_bucket(is, ino)]; *p; p = &(*p)->next) {
		if ((*p)->ino != ino)
			continue;
		(*p)->nlookup -= n < (*p)->nlookup ? n : (*p)->nlookup;
		if ((*p)->nlookup == 0) {
			gone = *p;
			*p = gone->next;
			is->count--;
		}
		break;
	}
	pthread_mutex_unlock(&is->lock);
	if (gone) {
		if (gone->fd >= 0) {
			(void)close(gone->fd);
			atomic_fetch_sub(&fs->kept_fds, 1);
		}
		/* The kernel forgets an inode once its files were released (none is counted here)
		 * and no open of it can be on its way: its backing file can go. */
		atomic_fetch_sub(&fs->open_files,
		                 (int64_t)gone->cached_opens + gone->passthrough_opens);
		if (gone->backing_id > 0)
			lazyfs_passthrough_backing_close(&fs->pt, gone->backing_id);
		free(gone);
		atomic_fetch_sub(&fs->n_inodes, 1);
	}
	slot_unref(fs, lazyfs_ino_slot(ino), n);
}

/* Resolved contents. */

static bool
known_get(struct lazyfs *fs, const struct digest *key, struct digest *ret)
{
	uint64_t h = digest_hash(key);
	struct known_shard *ks = &fs->known[h % N_SHARDS];
	bool found = false;

	pthread_mutex_lock(&ks->lock);
	for (struct known *k = ks->buckets[(h / N_SHARDS) % ks->n_buckets]; k; k = k->next)
		if (digest_equal(&k->key, key)) {
			*ret = k->digest;
			found = true;
			break;
		}
	pthread_mutex_unlock(&ks->lock);
	return found;
}

static void
known_grow(struct known_shard *ks)
{
	size_t n = ks->n_buckets * 4;
	struct known **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < ks->n_buckets; i++)
		for (struct known *k = ks->buckets[i], *next; k; k = next) {
			size_t j = (digest_hash(&k->key) / N_SHARDS) % n;
			next = k->next;
			k->next = b[j];
			b[j] = k;
		}
	free(ks->buckets);
	ks->buckets = b;
	ks->n_buckets = n;
}

static void
known_put(struct lazyfs *fs, const struct digest *key, const struct digest *d)
{
	uint64_t h = digest_hash(key);
	struct known_shard *ks = &fs->known[h % N_SHARDS];
	struct known *k;
	size_t b;

	pthread_mutex_lock(&ks->lock);
	b = (h / N_SHARDS) % ks->n_buckets;
	for (k = ks->buckets[b]; k; k = k->next)
		if (digest_equal(&k->key, key))
			break;
	if (!k) {
		if (ks->count >= ks->n_buckets * 2) {
			known_grow(ks);
			b = (h / N_SHARDS) % ks->n_buckets;
		}
		k = xmalloc(sizeof(*k));
		k->key = *key;
		k->next = ks->buckets[b];
		ks->buckets[b] = k;
		ks->count++;
	}
	k->digest = *d;
	pthread_mutex_unlock(&ks->lock);
}

/* Names what a file's content is, for the single-flight and known tables: its digest, or a hash
 * of its locator when the digest is not known yet. */
static void
content_key(const struct tree_entry *e, struct digest *ret)
{
	struct digest_ctx *c;

	if (e->flags & TREE_ENTRY_HAS_DIGEST) {
		*ret = e->digest;
		return;
	}
	c = digest_ctx_new();
	digest_ctx_update(c, "kiln-locator\0", 13);
	digest_ctx_update(c, e->locator, e->locator_len);
	digest_ctx_final(c, ret);
	digest_ctx_free(c);
}

/* The single flight of an open that must not fetch: its own key, so that a read waiting on it
 * never gets its "not local" answer instead of a fetch. */
static void
local_key(const struct digest *key, struct digest *ret)
{
	struct digest_ctx *c = digest_ctx_new();

	digest_ctx_update(c, "kiln-local\0", 11);
	digest_ctx_update(c, key->bytes, sizeof(key->bytes));
	digest_ctx_final(c, ret);
	digest_ctx_free(c);
}

static void
make_request(const struct tree_entry *e, bool store_only, struct provider_request *ret)
{
	*ret = (struct provider_request){
	    .path = e->path_len ? e->path : "/",
	    .locator = e->locator,
	    .locator_len = e->locator ? e->locator_len : 0,
	    .digest = (e->flags & TREE_ENTRY_HAS_DIGEST) ? &e->digest : NULL,
	    .size = e->size,
	    .store_only = store_only,
	};
}

struct fetch {
	struct lazyfs *fs;
	const struct tree_entry *e;
	const struct digest *key;
	bool local_only; /* a blob already in the store or nothing (-ENOENT), never a fetch */
	int fd;          /* the leader's fd */
};

/* The single flight's function: open a content resolved meanwhile, else fetch and verify it. */
static int
fetch_content(void *userdata, void *ret_value, struct kl_error **err)
{
	struct fetch *f = userdata;
	struct digest *d = ret_value;
	struct provider_request req;
	struct uring *u;
	int r;

	if (known_get(f->fs, f->key, d)) {
		r = store_open_blob(f->fs->store, d, err);
		if (r >= 0) {
			f->fd = r;
			return 0;
		}
	}
	r = uring_pool_get(f->fs->rings, &u, err);
	if (r < 0)
		return r;
	make_request(f->e, f->local_only, &req);
	r = provider_set_open(f->fs->providers, u, &req, d, err);
	if (r < 0)
		return r;
	known_put(f->fs, f->key, d);
	f->fd = r;
	return 0;
}

/* An fd of e's verified content; local_only: -ENOENT (not logged) unless its blob is in the
 * store already. */
static int
resolve_content(struct lazyfs *fs, const struct tree *t, const struct tree_entry *e,
                bool local_only)
{
	struct kl_error *err = NULL;
	struct fetch f = {.fs = fs, .e = e, .local_only = local_only, .fd = -1};
	char id_s[DIGEST_STRING_SIZE];
	struct digest key, flight, d;
	int r, shared = 0;

	content_key(e, &key);
	f.key = &key;
	if (known_get(fs, &key, &d)) {
		r = store_open_blob(fs->store, &d, NULL);
		if (r >= 0)
			return r;
	}
	if (local_only && !(e->flags & TREE_ENTRY_HAS_DIGEST))
		return -ENOENT; /* only its locator can tell, by a fetch */
	flight = key;
	if (local_only)
		local_key(&key, &flight);
	r = singleflight_do(fs->flights, &flight, fetch_content, &f, &d, sizeof(d), &shared, &err);
	if (r >= 0 && !shared)
		return f.fd;
	if (r >= 0)
		r = store_open_blob(fs->store, &d, &err);
	if (r == -ENOENT && local_only)
		return r; /* not in the store: an answer */
	if (r < 0 && !shared)
		kl_warn("lazyfs: reading '%s' in tree %s failed: %s", e->path_len ? e->path : "/",
		        digest_to_string(tree_id(t), id_s), err ? err->msg : strerror(-r));
	kl_error_free(err);
	return r;
}

/* The inode's kept content fd (valid while the kernel holds the inode), or -1. */
static int
kept_fd(struct lazyfs *fs, uint64_t ino)
{
	struct inode_shard *is = inode_shard(fs, ino);
	struct lazy_inode *in;
	int fd;

	pthread_mutex_lock(&is->lock);
	in = inode_find(is, inode_bucket(is, ino), ino);
	fd = in ? in->fd : -1;
	pthread_mutex_unlock(&is->lock);
	return fd;
}

int
lazyfs_inode_claim_warm(struct lazyfs *fs, uint64_t ino)
{
	struct inode_shard *is = inode_shard(fs, ino);
	struct lazy_inode *in;
	int r = -1;

	pthread_mutex_lock(&is->lock);
	in = inode_find(is, inode_bucket(is, ino), ino);
	if (in) {
		r = !in->warmed && in->fd < 0;
		in->warmed = true;
	}
	pthread_mutex_unlock(&is->lock);
	return r;
}

void
lazyfs_inode_unclaim_warm(struct lazyfs *fs, uint64_t ino)
{
	struct inode_shard *is = inode_shard(fs, ino);
	struct lazy_inode *in;

	pthread_mutex_lock(&is->lock);
	in = inode_find(is, inode_bucket(is, ino), ino);
	if (in && in->fd < 0)
		in->warmed = false;
	pthread_mutex_unlock(&is->lock);
}

/* The content fd of file idx of t, kept by its inode when there is room (see lazyfs_content_fd);
 * local_only as for resolve_content. */
static int
content_fd(struct lazyfs *fs, const struct tree *t, uint32_t slot, uint32_t idx, bool local_only,
           bool *ret_owned)
{
	uint64_t ino = lazyfs_ino(slot, idx);
	struct inode_shard *is = inode_shard(fs, ino);
	struct lazy_inode *in;
	struct tree_entry e;
	int fd;

	fd = kept_fd(fs, ino);
	if (fd >= 0) {
		*ret_owned = false;
		return fd;
	}
	if (!t)
		return -ESTALE;
	tree_entry_at(t, idx, &e);
	fd = resolve_content(fs, t, &e, local_only);
	if (fd < 0)
		return fd;
	*ret_owned = true;
	pthread_mutex_lock(&is->lock);
	in = inode_find(is, inode_bucket(is, ino), ino);
	if (in && in->fd >= 0) {
		(void)close(fd); /* another reader kept one first */
		fd = in->fd;
		*ret_owned = false;
	} else if (in && atomic_fetch_add(&fs->kept_fds, 1) < fs->max_kept_fds) {
		in->fd = fd;
		*ret_owned = false;
	} else if (in) {
		atomic_fetch_sub(&fs->kept_fds, 1);
	}
	pthread_mutex_unlock(&is->lock);
	return fd;
}

int
lazyfs_content_fd(struct lazyfs *fs, uint32_t slot, uint32_t idx, bool *ret_owned)
{
	return content_fd(fs, lazyfs_slot_tree(fs, slot), slot, idx, /* local_only= */ false,
	                  ret_owned);
}

int
lazyfs_local_content_fd(struct lazyfs *fs, const struct tree *t, uint32_t slot, uint32_t idx,
                        bool *ret_owned)
{
	return content_fd(fs, t, slot, idx, /* local_only= */ true, ret_owned);
}

/* Opens. */

/* Counts one more open of in, served the way its other opens are (an inode once served by
 * passthrough keeps its backing file); false when there is no way yet. */
static bool
open_join(struct lazy_inode *in, uint64_t *ret_fh)
{
	if (in->backing_id > 0) {
		in->passthrough_opens++;
		*ret_fh = (uint64_t)in->backing_id;
		return true;
	}
	if (in->cached_opens > 0) {
		in->cached_opens++;
		*ret_fh = 0;
		return true;
	}
	return false;
}

/* A backing id for the local, verified content of file idx; -ENOENT when it is not local (or
 * passthrough is not to be had), -EIO for content found corrupt. */
static int
open_backing(struct lazyfs *fs, uint32_t slot, uint32_t idx)
{
	struct tree *t = lazyfs_slot_tree(fs, slot);
	_cleanup_close_ int owned = -1;
	struct tree_entry e;
	int fd, id;

	if (!lazyfs_passthrough_usable(&fs->pt) || !t)
		return -ENOENT;
	fd = kept_fd(fs, lazyfs_ino(slot, idx));
	if (fd < 0) {
		tree_entry_at(t, idx, &e);
		fd = owned = resolve_content(fs, t, &e, /* local_only= */ true);
	}
	if (fd == -ENOENT || fd == -ENOMEM)
		return fd;
	if (fd < 0)
		return -EIO; /* logged, with the path, as a failed read */
	id = lazyfs_passthrough_backing_open(&fs->pt, fd);
	return id > 0 ? id : -ENOENT; /* refused (-EPERM, -ELOOP…): read through op_read */
}

int
lazyfs_inode_open(struct lazyfs *fs, uint32_t slot, uint32_t idx, uint64_t *ret_fh)
{
	uint64_t ino = lazyfs_ino(slot, idx);
	struct inode_shard *is = inode_shard(fs, ino);
	struct lazy_inode *in;
	bool joined;
	int id;

	pthread_mutex_lock(&is->lock);
	in = inode_find(is, inode_bucket(is, ino), ino);
	joined = in && open_join(in, ret_fh);
	pthread_mutex_unlock(&is->lock);
	if (!in)
		return -ESTALE;
	if (joined) {
		atomic_fetch_add(&fs->open_files, 1);
		return 0;
	}
	/* The first open: registering the backing file runs unlocked, so a concurrent first open
	 * of the same inode may win; the loser joins it and drops its own id. */
	id = open_backing(fs, slot, idx);
	if (id < 0 && id != -ENOENT)
		return id;
	pthread_mutex_lock(&is->lock);
	in = inode_find(is, inode_bucket(is, ino), ino);
	joined = in && open_join(in, ret_fh);
	if (in && !joined && id > 0) {
		in->passthrough_opens = 1;
		in->backing_id = id;
		*ret_fh = (uint64_t)id;
		id = -ENOENT; /* the inode's now */
	} else if (in && !joined) {
		in->cached_opens = 1;
		*ret_fh = 0;
	}
	pthread_mutex_unlock(&is->lock);
	if (id > 0)
		lazyfs_passthrough_backing_close(&fs->pt, id); /* another open won, or no inode */
	if (!in)
		return -ESTALE;
	atomic_fetch_add(&fs->open_files, 1);
	return 0;
}

void
lazyfs_inode_release(struct lazyfs *fs, uint64_t ino, uint64_t fh)
{
	struct inode_shard *is = inode_shard(fs, ino);
	struct lazy_inode *in;
	bool counted = false;

	pthread_mutex_lock(&is->lock);
	in = inode_find(is, inode_bucket(is, ino), ino);
	if (in && fh == 0 && in->cached_opens > 0) {
		in->cached_opens--;
		counted = true;
	} else if (in && fh != 0 && in->passthrough_opens > 0) {
		in->passthrough_opens--; /* the backing id stays for the next open, until forget */
		counted = true;
	}
	pthread_mutex_unlock(&is->lock);
	if (counted)
		atomic_fetch_sub(&fs->open_files, 1);
}

int
lazyfs_prefetch(struct lazyfs *fs, const struct tree *t, const uint32_t *entries, size_t n,
                struct kl_error **err)
{
	_cleanup_free_ struct tree_entry *es = xcalloc(n ? n : 1, sizeof(*es));
	_cleanup_free_ struct provider_request *reqs = xcalloc(n ? n : 1, sizeof(*reqs));
	_cleanup_free_ struct digest *keys = xcalloc(n ? n : 1, sizeof(*keys));
	_cleanup_free_ struct digest *ds = xcalloc(n ? n : 1, sizeof(*ds));
	_cleanup_free_ int *results = xcalloc(n ? n : 1, sizeof(*results));
	struct uring *u;
	struct digest d;
	size_t m = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (entries[i] >= tree_count(t))
			return kl_error_setf(
			    err, EINVAL, "prefetch of entry %" PRIu32 " past the end of the tree",
			    entries[i]);
		tree_entry_at(t, tree_resolve_hardlink(t, entries[i]), &es[m]);
		if (es[m].type != TREE_REG || es[m].size == 0)
			continue;
		content_key(&es[m], &keys[m]);
		if (known_get(fs, &keys[m], &d))
			continue;
		make_request(&es[m], /* store_only= */ false, &reqs[m]);
		m++;
	}
	r = uring_pool_get(fs->rings, &u, err);
	if (r < 0)
		return r;
	r = provider_set_fetch_batch(fs->providers, u, reqs, m, results, ds, err);
	for (size_t i = 0; i < m; i++)
		if (results[i] >= 0)
			known_put(fs, &keys[i], &ds[i]);
	return r;
}

void
lazyfs_get_stats(struct lazyfs *fs, struct lazyfs_stats *ret)
{
	struct provider_stats ps;
	struct singleflight_stats ss;

	provider_set_get_stats(fs->providers, &ps);
	singleflight_get_stats(fs->flights, &ss);
	*ret = (struct lazyfs_stats){
	    .verified = ps.verified,
	    .trusted = ps.trusted,
	    .fetched = ps.fetched,
	    .failed = ps.failed,
	    .shared = ss.shared,
	    .bytes = ps.bytes,
	    .trees_loaded = atomic_load(&fs->trees_loaded),
	    .inodes = atomic_load(&fs->n_inodes),
	    .reads = atomic_load(&fs->reads),
	    .passthrough = atomic_load(&fs->pt.opens),
	    .backing = (uint64_t)atomic_load(&fs->pt.backing_files),
	    .open_files = (uint64_t)atomic_load(&fs->open_files),
	    .warmed = atomic_load(&fs->warm.files),
	};
}

char *
lazyfs_stats_string(struct lazyfs *fs)
{
	struct lazyfs_stats st;

	lazyfs_get_stats(fs, &st);
	return xasprintf(
	    "verified=%" PRIu64 " trusted=%" PRIu64 " fetched=%" PRIu64 " failed=%" PRIu64
	    " shared=%" PRIu64 " bytes=%" PRIu64 " trees_loaded=%" PRIu64 " inodes=%" PRIu64
	    " reads=%" PRIu64 " passthrough=%" PRIu64 " backing=%" PRIu64 " open_files=%" PRIu64
	    " warmed=%" PRIu64,
	    st.verified, st.trusted, st.fetched, st.failed, st.shared, st.bytes, st.trees_loaded,
	    st.inodes, st.reads, st.passthrough, st.backing, st.open_files, st.warmed);
}
