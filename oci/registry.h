/* registry — a client of the distribution API v2 (OCI distribution spec) for one repository:
 * manifests and blobs, every byte verified against its digest and, where a descriptor gives it,
 * its size, anonymous / basic / bearer-token auth with credentials from a Docker config.json or
 * the docker credential helpers it names, plain HTTP only for loopback hosts and hosts named
 * insecure.
 *
 * A request gives up once the registry has sent nothing for the timeout (connecting included),
 * and such a stall is not retried: it already cost the whole timeout. What another attempt can
 * mend is retried, with exponential backoff: a connection dropped or reset, HTTP 5xx (but 501 and
 * 505), 408 and 429 — a 429 or 503 after its Retry-After, when that is at most
 * REGISTRY_MAX_RETRY_AFTER_MS (longer: an error at once). A refused connection is not retried.
 *
 * Not thread-safe: one client per thread (a client is cheap; auth is negotiated on the first
 * 401 it meets, not by a ping, and only then are the credentials read or a helper run). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct kl_error;
struct registry;
struct store;

#define REGISTRY_MAX_AUTH_FILE (1u << 20) /* bytes of a config.json we read */
#define REGISTRY_MAX_TOKEN_RESPONSE (1u << 20)
#define REGISTRY_DEFAULT_RETRIES 4u
#define REGISTRY_MAX_HELPER_OUTPUT (1u << 20) /* bytes of a credential helper's answer */
#define REGISTRY_HELPER_TIMEOUT_MS 10000u
#define REGISTRY_DEFAULT_TIMEOUT_MS 30000u /* silence after which a request gives up */
#define REGISTRY_MAX_TIMEOUT_MS 86400000u  /* the longest timeout accepted: a day */
#define REGISTRY_MAX_RETRY_AFTER_MS 60000u /* the longest Retry-After waited for */
#define REGISTRY_SIZE_UNKNOWN UINT64_MAX   /* a size no descriptor gave (a manifest by tag) */
/* Bytes read past a descriptor's size, to tell by how much a blob is longer; never stored. */
#define REGISTRY_SIZE_MARGIN (64u << 10)
#define REGISTRY_MAX_ERROR_BODY (64u << 10) /* bytes of an error answer read, then dropped */
#define REGISTRY_DURATION_SIZE 32           /* room for registry_format_duration() */

/* A byte counter of a blob streamed into the store: id its digest ("sha256:…"), current of
 * total bytes (0: unknown). */
typedef void (*registry_progress_fn)(void *userdata, const char *id, uint64_t current,
                                     uint64_t total);

struct registry_options {
	const char *const *insecure_hosts; /* plain HTTP (after HTTPS fails) allowed to these */
	size_t n_insecure_hosts;
	const char *auth_file;      /* a Docker config.json; NULL: anonymous only */
	unsigned retries;           /* 0: REGISTRY_DEFAULT_RETRIES */
	unsigned backoff_ms;        /* first retry delay, doubled each time; 0: 200 */
	unsigned helper_timeout_ms; /* a credential helper's time to answer; 0: 10 s */
	unsigned timeout_ms;        /* give up after this long without a byte; 0: the default */
	/* registry_fetch_blob's bytes as they come (retries resume the count), then once with
	 * current == total when the blob is in the store; called from the fetching thread as
	 * often as data arrives (the caller bounds its own rate); NULL: none */
	registry_progress_fn progress;
	void *progress_userdata;
};

/* host is "name[:port]" (api host: registry-1.docker.io for Docker Hub), repository
 * "library/busybox". Touches no network. */
int registry_new(const char *host, const char *repository, const struct registry_options *opts,
                 struct registry **ret, struct kl_error **err);
struct registry *registry_free(struct registry *r);
KL_DEFINE_CLEANUP(struct registry *, registry_free)
/* "http" or "https": what the client uses (after an insecure fallback, "http"). */
const char *registry_scheme(const struct registry *r);
/* The silence, in ms, after which a request gives up (REGISTRY_DEFAULT_TIMEOUT_MS unless the
 * options said otherwise). */
unsigned registry_timeout_ms(const struct registry *r);

/* The sizes below are a descriptor's "size": an answer of another length is refused with
 * -EBADMSG naming the blob and both sizes, and no more than REGISTRY_SIZE_MARGIN bytes past it
 * are read. A request that met the timeout's silence fails with -ETIMEDOUT. */

/* GETs manifest ref (a tag or "sha256:<hex>") accepting OCI and Docker manifests and indexes,
 * at most max bytes. When ref is a digest the bytes are verified against it, and against size
 * (the descriptor's, or REGISTRY_SIZE_UNKNOWN: at most max). ret_content_type (may be NULL)
 * gets the Content-Type. */
int registry_get_manifest(struct registry *r, const char *ref, uint64_t size, size_t max,
                          char **ret_buf, size_t *ret_len, char **ret_content_type,
                          struct kl_error **err);
/* GETs a whole blob of size bytes into memory, verified (-EBADMSG naming the digest); a size
 * above max is -EFBIG before anything is fetched. */
int registry_get_blob(struct registry *r, const struct digest *d, uint64_t size, size_t max,
                      char **ret_buf, size_t *ret_len, struct kl_error **err);
/* Streams blob d of size bytes into the store, verified against d and size before it becomes
 * visible (-EBADMSG naming the digest otherwise: nothing is stored, and at most size bytes were
 * written). A blob already present is not fetched. */
int registry_fetch_blob(struct registry *r, const struct digest *d, uint64_t size, struct store *s,
                        struct kl_error **err);
/* GETs bytes [off, off+len) of blob d (HTTP Range), handing them to fn in order; fn returns
 * < 0 to stop with that code. Reading stops at len bytes (a registry that ignores the range
 * and sends the whole blob is cut short). Fails with -EIO when the registry sends fewer. */
typedef int (*registry_data_fn)(const void *buf, size_t n, void *userdata);
int registry_get_range(struct registry *r, const struct digest *d, uint64_t off, uint64_t len,
                       registry_data_fn fn, void *userdata, struct kl_error **err);

/* The push side (registry-push.c): blobs by HEAD, cross-repository mount or chunked upload
 * (POST, PATCH with Content-Range per chunk, PUT ?digest=), manifests by PUT. Auth is
 * negotiated again on a 401, for the push scope the first pull's token lacked. */

#define REGISTRY_DEFAULT_CHUNK (32u << 20) /* bytes of one PATCH */

enum registry_push_outcome {
	REGISTRY_BLOB_PRESENT, /* the repository had it (HEAD): nothing sent */
	REGISTRY_BLOB_MOUNTED, /* mounted from another repository of the registry: nothing sent */
	REGISTRY_BLOB_UPLOADED,
	_REGISTRY_BLOB_MAX
};

/* Opens the bytes of the blob being pushed, read-only, from offset 0; called only when they
 * must be sent. Returns an fd the push closes, or -errno with err filled. */
typedef int (*registry_open_fn)(void *userdata, struct kl_error **err);

/* Makes blob d (size bytes) present in the repository: HEAD, then (with mount_from, a
 * repository of the same registry) a mount, then an upload in chunks of chunk bytes (0:
 * REGISTRY_DEFAULT_CHUNK) of what open gives. Returns the outcome (>= 0), or -errno with a
 * message quoting the registry's own error. */
int registry_push_blob(struct registry *r, const struct digest *d, uint64_t size,
                       const char *mount_from, uint64_t chunk, registry_open_fn open,
                       void *userdata, struct kl_error **err);
/* PUTs a manifest or index (len bytes of media_type) under ref, a tag or its digest; the
 * digest the registry answers with must be the bytes' own (-EBADMSG otherwise). */
int registry_put_manifest(struct registry *r, const char *ref, const char *media_type,
                          const char *buf, size_t len, struct kl_error **err);
/* Request body bytes sent so far (for measurements and tests). */
uint64_t registry_bytes_sent(const struct registry *r);

/* Parses a duration such as "10s", "500ms", "2m", "1.5s" or "1m30s" (Go's syntax,
 * util/duration.h) into ms, between 1 ms and REGISTRY_MAX_TIMEOUT_MS; -EINVAL with
 * err naming the text otherwise. */
int registry_parse_duration(const char *text, unsigned *ret_ms, struct kl_error **err);
/* Writes ms as a person reads it ("500ms", "2s", "1.5s", "2m", "1m30s") into buf
 * (REGISTRY_DURATION_SIZE bytes); returns buf. */
const char *registry_format_duration(unsigned ms, char *buf);
/* A Retry-After value (delta-seconds, or an HTTP-date, read as seen at now) in ms; a date in
 * the past is 0. -EINVAL when it is neither. */
int registry_parse_retry_after(const char *value, time_t now, uint64_t *ret_ms);

/* Auth pieces, exposed for tests. */
enum registry_auth_scheme {
	REGISTRY_AUTH_NONE,
	REGISTRY_AUTH_BASIC,
	REGISTRY_AUTH_BEARER,
	_REGISTRY_AUTH_MAX
};
struct registry_challenge {
	enum registry_auth_scheme scheme;
	char *realm, *service, *scope; /* NULL when absent */
};
/* Parses a WWW-Authenticate value ("Bearer realm=\"…\",service=\"…\",scope=\"…\"", "Basic
 * realm=…"); -EINVAL for anything else. */
int registry_parse_challenge(const char *value, struct registry_challenge *ret);
void registry_challenge_done(struct registry_challenge *c);
/* Credentials for one registry, or where to get them. */
struct registry_auth {
	char *helper;         /* docker-credential-<helper> holds them (credHelpers, credsStore) */
	char *basic;          /* base64 "user:password", for basic auth and the token server */
	char *identity_token; /* an OAuth2 refresh token for the token server */
};
void registry_auth_done(struct registry_auth *a);
/* Finds host's credentials in a config.json text as the docker CLI does: credHelpers[host]
 * names a helper, else credsStore does, else host's auths entry gives the base64
 * "user:password" ("auth", or "username" + "password") and its "identitytoken". Keys match as
 * host, scheme://host[/…], and https://index.docker.io/v1/ for Docker Hub. -ENOENT when none;
 * -EBADMSG for bad JSON or a helper name that is not a plain name (err names the key). */
int registry_auth_lookup(const char *json, size_t len, const char *host, struct registry_auth *ret,
                         struct kl_error **err);
/* What a credential helper is asked about for host: "https://index.docker.io/v1/" for Docker
 * Hub, host ("name[:port]") for any other registry, as docker asks. */
const char *registry_credhelper_server(const char *host);
/* Reads the answer of "docker-credential-<helper> get": status is its wait status, out its
 * stdout, msg its stderr (may be NULL). Exit 0 with {"ServerURL","Username","Secret"}: ret gets
 * basic, or identity_token when Username is "<token>" (-EBADMSG naming a missing field). A
 * failure that says "credentials not found": -ENOENT, err untouched (anonymous, as docker does).
 * Any other failure: an error quoting what the helper said. */
int registry_credhelper_answer(const char *helper, int status, const char *out, size_t out_len,
                               const char *msg, struct registry_auth *ret, struct kl_error **err);
/* Runs "docker-credential-<helper> get" (a program found on PATH, no shell) with server on its
 * stdin and hands its answer to registry_credhelper_answer(). A helper still running after
 * timeout_ms (0: REGISTRY_HELPER_TIMEOUT_MS) or saying more than REGISTRY_MAX_HELPER_OUTPUT
 * bytes is killed; the child is always reaped. Thread-safe. */
int registry_credhelper_get(const char *helper, const char *server, unsigned timeout_ms,
                            struct registry_auth *ret, struct kl_error **err);
