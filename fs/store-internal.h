/* store-internal — what the store's own files share: the store itself and the trust it keeps
 * in this process (store-trust.c). Not for other modules. */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "fs/digest.h"
#include "fs/store.h"

/* A blob this process wrote or hashed (or whose record it read), as the inode it was then:
 * while the file is still that inode, unchanged, its bytes need no hashing again (a tree just
 * built, then mounted) and its record no reading. */
struct trusted_blob {
	bool used;  /* the slot holds digest (valid or not) */
	bool valid; /* false: distrusted since */
	struct digest digest;
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime, ctime;
};

/* Every blob this process trusts, by digest: open addressing, linear probing, a power of two
 * of slots (none until the first). */
struct trusted_table {
	struct trusted_blob *slots;
	size_t cap, n;
};

struct store {
	atomic_int refs;
	pthread_mutex_t trusted_lock;
	struct trusted_table trusted; /* protected by trusted_lock */
	enum store_flags flags;
	char *root;
	int root_fd;
	int content_fd;  /* content/sha256 */
	int verified_fd; /* verified/, one record per blob; -1 when absent (read-only) */
	int ingest_fd;   /* ingest/; -1 when read-only */
	/* Each writable store holds an flock on ingest/<token>.lock; its temporary files are named
	 * ingest/<token>/<n>, the directory made at the first one. A token whose lock can be taken
	 * belongs to a dead process, so its files are leftovers of killed ingests and are removed
	 * on the next open. */
	int lock_fd;
	char token[33];
	atomic_uint_fast64_t seq;
	pthread_mutex_t temp_dir_lock;
	atomic_bool temp_dir_made; /* ingest/<token>/ exists */
};

/* A new name for a temporary file of this store, relative to ingest/; NULL (errno set) when
 * its directory cannot be made. */
char *store_temp_name(struct store *s);
/* Whether blob d has a verification record of its own, and it matches st. */
bool store_blob_recorded(struct store *s, const struct digest *d, const struct stat *st);
/* Frees the trust this process keeps (the store is going). */
void store_trust_fini(struct store *s);
