/* store — blobs named by their sha256 under <root>/content/sha256/<hex>; a visible blob is
 * complete. Ingest streams into <root>/ingest/, hashing while writing, then syncs (an fsync per
 * blob, or one syncfs per batch) and renames into place, so a killed ingest never leaves a
 * partial blob visible.
 *
 * Verification records: <root>/verified/<hex> says that the blob of that name, as one inode
 * (device, inode, size, mode, owner, mtime, ctime), was hashed equal to its name, or written so
 * by ingest. A record is written atomically (a temporary file renamed over it), never synced (a
 * lost record costs one hash), and trusted only while the blob's stat matches it exactly, so any
 * write, truncate, touch, chmod, chown, link or replacement of the blob voids it. It cannot
 * notice a change that keeps every one of those fields (bit rot, or a rewrite within the same
 * clock tick with the times restored): `kiln store verify` re-hashes every blob regardless and
 * drops the record of a corrupt one. A blob's removal should remove its record; a leftover one
 * never matches a new inode.
 *
 * Thread-safe: one store may serve every thread; several processes may share one root. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct kl_error;
struct store;
struct store_writer;

enum store_flags {
	STORE_READ_ONLY = 1 << 0, /* never create or write; open fails if the root is missing */
	STORE_NO_SYNC = 1 << 1,   /* no fsync or syncfs on commit (tests, benchmarks) */
};

struct store_options {
	enum store_flags flags;
}; /* { 0 }: defaults */

/* Opens (creating unless read-only) the store at root, and removes ingest leftovers of
 * processes that died. */
int store_open(const char *root, const struct store_options *opts, struct store **ret,
               struct kl_error **err);
/* Reopens the store's directories by path in the caller's mount namespace, keeping their
 * descriptors' numbers (so a thread using one meanwhile sees the same directory). For a
 * process that moved to a new mount namespace after store_open: descriptors opened before
 * stay on the old namespace's mounts, and rename(2) between them and a path opened after
 * fails with EXDEV, which would make store_adopt_file() copy instead of move. -ESTALE when a
 * path now names another directory. */
int store_reopen(struct store *s, struct kl_error **err);
struct store *store_ref(struct store *s);
struct store *store_unref(struct store *s);
KL_DEFINE_CLEANUP(struct store *, store_unref)

/* The root as an absolute path (a relative root given to store_open is resolved). */
const char *store_root(const struct store *s);
/* An O_DIRECTORY fd of the store root, owned by the store. */
int store_root_fd(const struct store *s);
/* Whether the store makes what it writes durable (false when opened with STORE_NO_SYNC): for
 * modules keeping small files of their own next to the blobs. */
bool store_syncs(const struct store *s);

/* Opens a blob read-only without re-hashing it; the caller owns the fd. -ENOENT (err untouched)
 * when absent. Use store_open_blob_verified() when the bytes must be trusted. */
int store_open_blob(struct store *s, const struct digest *d, struct kl_error **err);
/* As store_open_blob, then makes sure its bytes match its name: hashes the whole blob unless
 * store_blob_trusted() vouches for it (and trusts it from then on when it is good). -EBADMSG
 * with a message naming the blob when they do not match: its record is dropped, the bad blob is
 * left for `store verify` to report. */
int store_open_blob_verified(struct store *s, const struct digest *d, struct kl_error **err);
/* 1 if present, 0 if absent. */
int store_has_blob(struct store *s, const struct digest *d);

/* Blobs at least this big get a verification record: below it, hashing costs little more than
 * reading a record (~25 µs here), and writing one at ingest (~140 µs) would cost more than it
 * saves. */
#define STORE_RECORD_MIN_SIZE (1u << 20)
/* Says whether the blob d, open with fstat st, holds the bytes its name says without hashing
 * them: this process wrote or hashed that very inode, unchanged (same device, inode, size, mode,
 * owner, mtime and ctime; up to 2^18 blobs), or, for a blob of at least STORE_RECORD_MIN_SIZE
 * bytes, its verification record matches st. */
bool store_blob_trusted(struct store *s, const struct digest *d, const struct stat *st);
/* Vouches that the bytes of blob d were hashed equal to d, st being the blob's fstat taken
 * before they were read: remembered in this process and, for a blob of at least
 * STORE_RECORD_MIN_SIZE bytes in a writable store, recorded for every process (failures to
 * write the record are ignored). Blobs that ingest makes visible are trusted so by the store
 * itself. */
void store_blob_trust(struct store *s, const struct digest *d, const struct stat *st);
/* Forgets any trust in blob d, its record included, and every trust set (which of them vouch
 * for d is not known): for a blob found corrupt. */
void store_blob_distrust(struct store *s, const struct digest *d);

/* Trust sets: one record vouching for many small blobs at once, named after what holds them (a
 * tree's id), so that a later process reading all of a tree's files below
 * STORE_RECORD_MIN_SIZE (an export) hashes none it was vouched for, where a record each costs
 * more to write than the hash it saves. A set vouches for a blob as the inode it was, as a
 * record does. */
struct store_trust_set;
/* Records under name the blobs among blobs[0..n) that this process trusts now (it wrote or
 * hashed them), each as the inode it trusts, replacing any set of that name; returns how many
 * it holds: 0, nothing written, when none is trusted or the store is read-only. Failures to
 * write are ignored, as a record's. */
size_t store_trust_set_save(struct store *s, const struct digest *name, const struct digest *blobs,
                            size_t n);
/* The set recorded under name; NULL when there is none or it is torn or foreign. */
struct store_trust_set *store_trust_set_load(struct store *s, const struct digest *name);
/* As store_blob_trusted, or else whether set (may be NULL) vouches for the bytes of blob d open
 * with fstat st, this process trusting the blob from then on. */
bool store_blob_trusted_by(struct store *s, const struct store_trust_set *set,
                           const struct digest *d, const struct stat *st);
struct store_trust_set *store_trust_set_free(struct store_trust_set *set);
KL_DEFINE_CLEANUP(struct store_trust_set *, store_trust_set_free)
/* Removes verification records and trust sets named after blobs no longer in the store: for a
 * collector, after it removed blobs. */
void store_trust_prune(struct store *s);
/* Reads a whole verified blob into memory (at most max bytes, else -EFBIG). */
int store_read_blob(struct store *s, const struct digest *d, size_t max, char **ret,
                    size_t *ret_len, struct kl_error **err);

/* Streaming ingest. Begin → write… → commit (or abort, or free without commit = abort). */
int store_writer_begin(struct store *s, struct store_writer **ret, struct kl_error **err);
int store_writer_write(struct store_writer *w, const void *buf, size_t n, struct kl_error **err);
/* The fd of the temporary file, for callers that write with their own I/O (io_uring, splice).
 * Bytes written through it must also be fed to store_writer_hash(). */
int store_writer_fd(struct store_writer *w);
void store_writer_hash(struct store_writer *w, const void *buf, size_t n);
uint64_t store_writer_size(const struct store_writer *w);
/* Makes the blob visible. With expected non-NULL, fails with -EBADMSG (naming both digests)
 * when the bytes hash to something else, and nothing becomes visible. An existing identical
 * blob is kept: two concurrent ingests both succeed. Frees w either way. */
int store_writer_commit(struct store_writer *w, const struct digest *expected, struct digest *ret,
                        struct kl_error **err);
/* Discards the temporary file; NULL-safe; returns NULL. */
struct store_writer *store_writer_abort(struct store_writer *w);
KL_DEFINE_CLEANUP(struct store_writer *, store_writer_abort)

/* A batch makes many blobs durable with one filesystem sync instead of one fsync per blob:
 * writers committed into it stay invisible until store_batch_commit(). Not thread-safe: one
 * batch per thread. */
struct store_batch;
struct store_batch *store_batch_new(struct store *s);
/* As store_writer_commit, but the blob becomes visible only at store_batch_commit(). */
int store_writer_commit_batch(struct store_writer *w, struct store_batch *b,
                              const struct digest *expected, struct digest *ret,
                              struct kl_error **err);
/* Syncs once, then makes every blob of the batch visible; when moving one into place fails,
 * it and the ones after it are discarded and that failure is returned. The batch stays usable,
 * empty. */
int store_batch_commit(struct store_batch *b, struct kl_error **err);
/* Discards blobs not yet committed; NULL-safe; returns NULL. */
struct store_batch *store_batch_free(struct store_batch *b);
KL_DEFINE_CLEANUP(struct store_batch *, store_batch_free)

/* Whole-buffer and whole-fd conveniences over the writer; a buffer whose blob is there already
 * is not written again. */
int store_ingest_buffer(struct store *s, const void *buf, size_t n, struct digest *ret,
                        struct kl_error **err);
int store_ingest_fd(struct store *s, int fd, const struct digest *expected, struct digest *ret,
                    struct kl_error **err);

/* Walks every blob name in the store (unordered). fn returns < 0 to stop with that value. */
typedef int (*store_blob_fn)(const struct digest *d, uint64_t size, void *userdata);
int store_foreach_blob(struct store *s, store_blob_fn fn, void *userdata, struct kl_error **err);
/* Re-hashes one blob, whatever its record says: 0 good (then trusted, as store_blob_trust),
 * -EBADMSG mismatch (then distrusted, its record dropped), -ENOENT absent, other -errno on I/O
 * error. */
int store_verify_blob(struct store *s, const struct digest *d);
/* Removes a blob (the caller knows nothing needs it), unless unless_since_ns is non-zero and
 * the blob was written or renamed at or after that time (CLOCK_REALTIME nanoseconds): -EBUSY
 * then, so a collector spares what a concurrent writer just made. -ENOENT when absent. */
int store_remove_blob(struct store *s, const struct digest *d, int64_t unless_since_ns);

/* Adoption: a finished file on the store's filesystem becomes a blob by rename, its bytes
 * neither copied nor read again (the upper dir of a RUN step). */

/* Moves the regular file name in dir_fd into the store as blob d. The caller hashed its bytes
 * to d and nothing writes the file any more; the blob is trusted as the caller's hash says.
 * The file loses its owner, its mode (0444) and its xattrs, as every blob: other names of its
 * inode (hardlinks) must not be used afterwards. With b (a batch of s), the blob becomes
 * visible at store_batch_commit(), made durable by the batch's one sync; without, now, synced
 * unless STORE_NO_SYNC. When the blob is already present the file is only removed. A file on
 * another filesystem or mount (EXDEV) is copied instead, verified against d (-EBADMSG), into b
 * as well when given (so still one sync for the batch). */
int store_adopt_file(struct store *s, struct store_batch *b, int dir_fd, const char *name,
                     const struct digest *d, struct kl_error **err);
