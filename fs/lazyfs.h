/* lazyfs — the lazy, read-only FUSE filesystem that shows immutable trees.
 *
 * In store mode one mount serves every tree of the store under its id
 * (<mountpoint>/sha256:<hex>/path), loading a tree the first time its id is looked up and
 * unloading it once the kernel forgot all its inodes. In single-tree mode the mount's root is
 * one tree's root. A file's content is resolved on its first read: a store blob is verified
 * once per mount unless the store vouches for it (a verification record: no hash at all),
 * anything else is fetched through the provider its locator names, once for all concurrent
 * readers. Everything the kernel may cache, it caches forever: entries, attributes,
 * directory listings, symlinks and file pages (trees never change).
 *
 * With the passthrough option, where the kernel offers FUSE passthrough (and the server may
 * register backing files: root),
 * an open of a file whose content is already a verified blob in the store is served by the
 * kernel from that blob, reads and mmap never reaching the server; an open of content not local
 * yet is read through the server as above (fetched on its first read), and so are all the opens
 * of an inode while one such open lasts. Elsewhere the kernel sends no opens at all.
 *
 * Inode numbers: (tree slot << 32) | (entry index + 1), hardlinks resolved to their target, so
 * they are stable for the life of the mount; the mount root is inode 1.
 *
 * Threads: lazyfs_serve() runs a multi-threaded FUSE loop; lazyfs_prefetch(), lazyfs_get_stats()
 * and lazyfs_stats_string() may be called from any thread while it runs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct kl_error;
struct lazyfs;
struct provider_set;
struct store;
struct tree;

struct lazyfs_options {
	const struct digest *root_tree; /* single-tree mode: serve this tree at the root */
	/* Where contents come from; NULL: the store and local files (limited to local_root,
	 * when set). The lazyfs takes ownership of a set given here. */
	struct provider_set *providers;
	const char *local_root;
	unsigned max_threads; /* FUSE worker threads; 0: a default */
	bool handle_signals;  /* SIGINT/SIGTERM/SIGHUP end lazyfs_serve() */
	/* Serve files through FUSE passthrough where the kernel offers it (see above). Off, the
	 * kernel sends no opens at all: a warm open costs nothing, where passthrough pays a
	 * round trip to the server for each (3x a small file's warm read here), so it is for
	 * mounts whose readers read large files. */
	bool passthrough;
	/* Called once, from a FUSE thread, when the kernel finished the mount handshake. */
	void (*ready)(void *userdata);
	void *ready_userdata;
};

struct lazyfs_stats {
	uint64_t verified;     /* store blobs hashed before first use */
	uint64_t trusted;      /* store blobs the store vouched for: first use without a hash */
	uint64_t fetched;      /* contents fetched through a locator */
	uint64_t failed;       /* fetches that failed, prefetches included (a read gets EIO) */
	uint64_t shared;       /* reads that waited for another reader's fetch */
	uint64_t bytes;        /* bytes read by verify and fetch */
	uint64_t trees_loaded; /* tree loads (store mode: each load after an unload counts) */
	uint64_t inodes;       /* file inodes the kernel currently holds */
	uint64_t reads;        /* READ requests the server answered */
	uint64_t passthrough;  /* opens the kernel serves from a store blob itself */
	uint64_t backing;      /* backing files registered now (one per inode served so) */
	uint64_t open_files;   /* opens the kernel has not released yet (passthrough or not) */
	uint64_t warmed;       /* small files pushed into the page cache before their first read */
};

/* Prepares a filesystem over s (a reference is taken); in single-tree mode loads the tree,
 * failing with its error (-ENOENT: no such tree in the store). */
int lazyfs_new(struct store *s, const struct lazyfs_options *opts, struct lazyfs **ret,
               struct kl_error **err);
/* Unmounts if still mounted, then frees; NULL-safe; returns NULL. */
struct lazyfs *lazyfs_free(struct lazyfs *fs);
KL_DEFINE_CLEANUP(struct lazyfs *, lazyfs_free)

/* Mounts at mountpoint (read-only, allow_other, default_permissions). Requests wait in the
 * kernel until lazyfs_serve() runs. -EBUSY when already mounted. */
int lazyfs_mount(struct lazyfs *fs, const char *mountpoint, struct kl_error **err);
/* Serves requests until the mount goes (umount, or umount2(MNT_DETACH) from another thread) or
 * a handled signal arrives; returns 0, the signal number that ended it, or -errno. Does not
 * unmount. */
int lazyfs_serve(struct lazyfs *fs, struct kl_error **err);
/* Unmounts (lazily, so busy users keep working) what lazyfs_serve() left mounted: call it once
 * that returned, not while it runs (libfuse's unmount is made for after the loop). Idempotent. */
void lazyfs_unmount(struct lazyfs *fs);

/* Fetches the contents of entries[0..n) of tree t concurrently, so later reads of them (in any
 * tree this lazyfs serves that names the same content) are served from the store, no fetch.
 * Hardlinks count as their target; entries that are not regular files, are empty or already
 * resolved are skipped. Returns 0, -EINVAL for an index past the end of t (nothing fetched), or the
 * first failure with its message (the other entries are still fetched). Not coordinated with reads:
 * a read of an entry while its prefetch runs may fetch it once more. */
int lazyfs_prefetch(struct lazyfs *fs, const struct tree *t, const uint32_t *entries, size_t n,
                    struct kl_error **err);

/* The counters so far (each read atomically, not as one snapshot). */
void lazyfs_get_stats(struct lazyfs *fs, struct lazyfs_stats *ret);
/* The stats as one line ("verified=1 trusted=0 fetched=0 …"); also readable on a mount as the xattr
 * LAZYFS_STATS_XATTR of its root (not listed). Returns a new string. */
char *lazyfs_stats_string(struct lazyfs *fs);
#define LAZYFS_STATS_XATTR "user.kiln.lazyfs.stats"
