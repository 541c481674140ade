/* lazyfs-internal — state shared by the FUSE handlers (lazyfs.c) and the inode, tree and content
 * tables (lazyfs-inode.c). Nothing here knows about FUSE. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/digest.h"
#include "fs/lazyfs-passthrough-internal.h"
#include "fs/lazyfs-warm-internal.h"
#include "fs/lazyfs.h"
#include "fs/tree.h"

struct fuse_session;
struct provider_set;
struct singleflight;
struct store;
struct uring_pool;

#define LAZYFS_ROOT_INO 1u
#define SLOT_CHUNK 1024u
#define SLOT_CHUNKS 4096u /* up to 4M trees served by one mount */
#define N_SHARDS 64u

/* A tree served by the mount; slots are never freed, so inode numbers stay stable. */
struct lazy_tree {
	struct digest id;
	_Atomic(struct tree *) tree; /* NULL while unloaded; set under trees_lock */
	_Atomic uint64_t nlookup;    /* kernel references to this tree's inodes */
};

/* A regular file the kernel holds (looked up and not yet forgotten). Its open files are all
 * served one way at a time, as the kernel requires: through op_read (cached_opens) or by the
 * kernel from one backing file (passthrough_opens, backing_id; once registered, the backing
 * file stays until the inode is forgotten, so that reopening costs no ioctl). */
struct lazy_inode {
	uint64_t ino;
	uint64_t nlookup;           /* protected by the shard's lock */
	int fd;                     /* verified content, -1 until first read; protected by lock */
	uint32_t cached_opens;      /* open, read through op_read; protected by the lock */
	uint32_t passthrough_opens; /* open, served by the kernel; protected by the lock */
	int backing_id;             /* > 0: registered; protected by the lock */
	bool warmed;                /* claimed by a warming thread; protected by the lock */
	struct lazy_inode *next;    /* hash chain; protected by the lock */
};

struct inode_shard {
	pthread_mutex_t lock;
	struct lazy_inode **buckets; /* protected by lock */
	size_t n_buckets, count;     /* protected by lock */
};

/* Content keys already resolved in this mount, and the digest of their verified blob. */
struct known {
	struct digest key, digest;
	struct known *next;
};

struct known_shard {
	pthread_mutex_t lock;
	struct known **buckets; /* protected by lock */
	size_t n_buckets, count;
};

struct lazyfs {
	struct store *store;
	struct provider_set *providers;
	struct singleflight *flights;
	struct uring_pool *rings;
	bool single;           /* single-tree mode: slot 0 is the tree at the root */
	bool want_passthrough; /* lazyfs_options.passthrough */
	unsigned max_threads;
	bool handle_signals;
	void (*ready)(void *userdata);
	void *ready_userdata;
	int64_t mount_time;

	pthread_mutex_t trees_lock;
	struct lazy_tree
	    *_Atomic slots[SLOT_CHUNKS]; /* chunks of SLOT_CHUNK; set under trees_lock */
	uint32_t n_slots;                /* protected by trees_lock */
	_Atomic uint64_t trees_loaded;

	struct inode_shard inodes[N_SHARDS];
	_Atomic uint64_t n_inodes;
	/* Content fds kept by inodes, bounded so that a kernel holding many inodes cannot exhaust
	 * the fd limit; past the bound, reads open the (already verified) blob each time. */
	_Atomic int64_t kept_fds;
	int64_t max_kept_fds;
	struct known_shard known[N_SHARDS];

	struct lazyfs_passthrough pt;
	struct lazyfs_warm warm;
	_Atomic uint64_t reads;     /* READ requests answered */
	_Atomic int64_t open_files; /* opens counted by lazyfs_inode_open, not released */

	struct fuse_session *session;
	char *mountpoint;
	bool mounted;
};

static inline uint32_t
lazyfs_ino_slot(uint64_t ino)
{
	return (uint32_t)(ino >> 32);
}

static inline uint32_t
lazyfs_ino_index(uint64_t ino)
{
	return (uint32_t)(ino & 0xffffffffu) - 1;
}

static inline uint64_t
lazyfs_ino(uint32_t slot, uint32_t idx)
{
	return ((uint64_t)slot << 32) | ((uint64_t)idx + 1);
}

/* True for the store-mode root, which belongs to no tree. */
static inline bool
lazyfs_is_store_root(const struct lazyfs *fs, uint64_t ino)
{
	return !fs->single && ino == LAZYFS_ROOT_INO;
}

/* Tables (lazyfs-inode.c). */
void lazyfs_tables_init(struct lazyfs *fs);
void lazyfs_tables_done(struct lazyfs *fs);
/* The loaded tree of a slot; the kernel's reference on one of its inodes keeps it loaded. */
struct tree *lazyfs_slot_tree(struct lazyfs *fs, uint32_t slot);
/* Store mode: finds or assigns the slot of tree id, loads it, and takes one reference on it
 * (for the lookup of its root). -ENOENT when the store lacks it, else err describes it. */
int lazyfs_tree_acquire(struct lazyfs *fs, const struct digest *id, uint32_t *ret_slot,
                        struct kl_error **err);
/* Sets up slot 0 with t (single-tree mode). */
void lazyfs_tree_install_root(struct lazyfs *fs, struct tree *t);
/* A kernel reference on inode (slot, idx) of the given type was added (a lookup reply). */
void lazyfs_inode_ref(struct lazyfs *fs, uint32_t slot, uint32_t idx, enum tree_entry_type type);
/* The kernel dropped n references to ino. */
void lazyfs_inode_forget(struct lazyfs *fs, uint64_t ino, uint64_t n);
/* The tree of a slot with a reference of the caller's, or NULL when it is not loaded: for
 * threads that hold no kernel inode of it. */
struct tree *lazyfs_slot_tree_ref(struct lazyfs *fs, uint32_t slot);
/* Claims file inode ino for warming: 1 once per inode the kernel holds (looked up, not
 * forgotten) whose content no read has opened yet; 0 for one claimed or opened before; -1
 * when the kernel does not hold it (its directory not listed yet). */
int lazyfs_inode_claim_warm(struct lazyfs *fs, uint64_t ino);
/* Gives back a claim that warmed nothing (the content not in the store yet): a later job may
 * claim the inode again. */
void lazyfs_inode_unclaim_warm(struct lazyfs *fs, uint64_t ino);
/* As lazyfs_content_fd for file idx of t (the tree in slot, referenced by the caller), but
 * -ENOENT unless its blob is in the store already: never a fetch. */
int lazyfs_local_content_fd(struct lazyfs *fs, const struct tree *t, uint32_t slot, uint32_t idx,
                            bool *ret_owned);
/* Returns an fd of the verified content of file idx (resolved with hardlinks) of the tree in
 * slot; *ret_owned says whether the caller must close it (else it is the inode's, valid while
 * the kernel holds the inode). Failures are logged once per fetch, with the path. */
int lazyfs_content_fd(struct lazyfs *fs, uint32_t slot, uint32_t idx, bool *ret_owned);
/* An open of file idx of the tree in slot (a looked-up inode): decides how the kernel serves it
 * and counts it until lazyfs_inode_release(). *ret_fh gets 0 for an open read through op_read,
 * or a backing id: the kernel serves it from that store blob (passthrough). Passthrough is
 * chosen when usable, no open of the inode is being read through op_read, and the content is
 * local: a blob already in the store, verified (hashed now unless the store vouches for it or
 * this mount verified it) but never fetched. -ESTALE for an inode the kernel does not hold, -EIO
 * for a corrupt blob (logged as a failed read is). */
int lazyfs_inode_open(struct lazyfs *fs, uint32_t slot, uint32_t idx, uint64_t *ret_fh);
/* The release of an open that lazyfs_inode_open() answered with fh. */
void lazyfs_inode_release(struct lazyfs *fs, uint64_t ino, uint64_t fh);
