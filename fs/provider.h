/* provider — where a file's bytes come from, and how they get into the store verified.
 *
 * A tree entry names its content by digest (bytes in the store) and/or by a locator,
 * "<scheme>:<text>", that a provider registered for that scheme knows how to read: a file of a
 * local directory ("local:", here), a git blob ("git:", sources/gitsrc) or a file of an image
 * layer ("layer:", sources/imgsrc-chunked). A provider set resolves a request in order: the
 * store when the digest is known and the blob present, else the locator's provider, whose bytes
 * are hashed while they stream into the store and committed only when they match the expected
 * digest (when one is known). A store blob is hashed on every request unless the store vouches
 * for it (store_blob_trusted: this process wrote or hashed that inode, or its verification
 * record matches); a good hash makes the store vouch for it from then on, in every process for
 * blobs of STORE_RECORD_MIN_SIZE bytes or more, and a bad one drops its record. The set itself
 * remembers nothing between requests: a caller that reads one content many times keeps the
 * result (lazyfs does, per mount).
 *
 * Providers that can hand out an fd (open + optional check) are read through io_uring, many at
 * once for a batch; others implement fetch and write through a store_writer.
 *
 * Thread-safe: a set is configured before use, then serves every thread (each passing its own
 * ring); providers' data must be safe to share. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct kl_error;
struct provider_set;
struct store;
struct store_writer;
struct uring;

/* What to fetch. */
struct provider_request {
	const char *path;    /* the entry's path, for messages; may be NULL */
	const char *locator; /* "<scheme>:<text>", not NUL-terminated; NULL: none */
	size_t locator_len;
	const struct digest *digest; /* the expected content; NULL when unknown */
	uint64_t size;               /* the expected byte count */
	/* Only a blob already in the store, verified as any other: never fetched through the
	 * locator; absent, provider_set_open() returns -ENOENT (err untouched, not counted as a
	 * failure). */
	bool store_only;
};

/* An fd-backed source: the caller reads fd from offset 0 for size bytes, then closes it. */
struct provider_source {
	int fd;
	uint64_t size;
	bool in_store;  /* fd is a store blob named by the request's digest: verify, don't ingest */
	bool trusted;   /* in_store: the store vouches for its bytes (no hash) */
	struct stat st; /* in_store: fd's fstat at open, what a good hash makes the store trust */
};

struct provider_ops {
	const char *scheme; /* the locator prefix before ':' */
	/* Opens the bytes of req: fills *ret (the caller closes ret->fd). Set for fd-backed
	 * providers (check is optional); NULL otherwise. */
	int (*open)(void *data, struct store *s, const struct provider_request *req,
	            struct provider_source *ret, struct kl_error **err);
	/* After every byte of src was read: fails when the source changed meanwhile. May be NULL.
	 */
	int (*check)(void *data, const struct provider_request *req,
	             const struct provider_source *src, struct kl_error **err);
	/* For providers that are not fd-backed: writes the bytes of req into w (the set hashes,
	 * verifies and commits). */
	int (*fetch)(void *data, const struct provider_request *req, struct store_writer *w,
	             struct kl_error **err);
	void (*free)(void *data); /* may be NULL */
};

struct provider_stats {
	uint64_t verified; /* store blobs hashed to verify them */
	uint64_t trusted; /* store blobs served unhashed on the store's word (store_blob_trusted) */
	uint64_t fetched; /* contents read through a locator into the store */
	uint64_t failed;  /* requests that failed */
	uint64_t bytes;   /* bytes read by verify and fetch */
};

/* The store's own provider (scheme "sha256", data NULL): serves requests whose digest names a
 * blob present in the store (the set turns a "sha256:<hex>" locator into that digest first),
 * saying whether the store already trusts it. */
extern const struct provider_ops provider_store_ops;
/* The local-directory provider (scheme "local", data from provider_local_data_new()). */
extern const struct provider_ops provider_local_ops;
/* Data for provider_local_ops: only paths equal to root or below it are read (NULL: any
 * absolute path). Owned by the set it is added to. */
void *provider_local_data_new(const char *root);

/* A set with the store provider already in it; holds a reference on s. */
struct provider_set *provider_set_new(struct store *s);
struct provider_set *provider_set_free(struct provider_set *ps);
KL_DEFINE_CLEANUP(struct provider_set *, provider_set_free)
/* Registers ops for its scheme (replacing an earlier one); the set owns data from now on. */
void provider_set_add(struct provider_set *ps, const struct provider_ops *ops, void *data);
/* A set with the store and local providers, local reads limited to local_root (may be NULL). */
struct provider_set *provider_set_new_default(struct store *s, const char *local_root);

/* Makes req's content present and verified in the store and returns a read-only fd of its
 * blob (the caller owns it); its digest goes to ret_digest. Failures: -ENOENT when nothing can
 * provide it (no blob, no locator; for a store_only request, no blob), -ENOTSUP for an unknown
 * scheme, -EBADMSG when bytes do not match the expected digest (a corrupt store blob included),
 * -EIO when a source changed since it was scanned, other -errno on I/O errors; err names the
 * path or blob. */
int provider_set_open(struct provider_set *ps, struct uring *u, const struct provider_request *req,
                      struct digest *ret_digest, struct kl_error **err);

/* Fetches reqs[0..n) concurrently: fd-backed sources through one io_uring run, others in turn,
 * blobs made durable with one sync. results[i] gets 0 or -errno, digests[i] (when digests is
 * non-NULL) the content's digest on success. Returns 0 when all succeeded, else the first
 * failure's code with its message in err. */
int provider_set_fetch_batch(struct provider_set *ps, struct uring *u,
                             const struct provider_request *reqs, size_t n, int *results,
                             struct digest *digests, struct kl_error **err);

void provider_set_get_stats(struct provider_set *ps, struct provider_stats *ret);
