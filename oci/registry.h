/* registry — a client of the distribution API v2 (OCI distribution spec) for one repository:
 * manifests and blobs, every byte verified against its digest, anonymous / basic / bearer-token
 * auth with credentials from a Docker config.json or the docker credential helpers it names,
 * plain HTTP only for loopback hosts and hosts named insecure, retries with exponential backoff
 * on 5xx, 429 and connection errors.
 *
 * Not thread-safe: one client per thread (a client is cheap; auth is negotiated on the first
 * 401 it meets, not by a ping, and only then are the credentials read or a helper run). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

struct registry_options {
	const char *const *insecure_hosts; /* plain HTTP (after HTTPS fails) allowed to these */
	size_t n_insecure_hosts;
	const char *auth_file;      /* a Docker config.json; NULL: anonymous only */
	unsigned retries;           /* 0: REGISTRY_DEFAULT_RETRIES */
	unsigned backoff_ms;        /* first retry delay, doubled each time; 0: 200 */
	unsigned helper_timeout_ms; /* a credential helper's time to answer; 0: 10 s */
};

/* host is "name[:port]" (api host: registry-1.docker.io for Docker Hub), repository
 * "library/busybox". Touches no network. */
int registry_new(const char *host, const char *repository, const struct registry_options *opts,
                 struct registry **ret, struct kl_error **err);
struct registry *registry_free(struct registry *r);
KL_DEFINE_CLEANUP(struct registry *, registry_free)
/* "http" or "https": what the client uses (after an insecure fallback, "http"). */
const char *registry_scheme(const struct registry *r);
/* Bytes of response bodies received so far (for measurements). */
uint64_t registry_bytes_received(const struct registry *r);

/* GETs manifest ref (a tag or "sha256:<hex>") accepting OCI and Docker manifests and indexes,
 * at most max bytes. When ref is a digest the bytes are verified against it. ret_content_type
 * (may be NULL) gets the Content-Type. */
int registry_get_manifest(struct registry *r, const char *ref, size_t max, char **ret_buf,
                          size_t *ret_len, char **ret_content_type, struct kl_error **err);
/* GETs a whole blob of at most max bytes into memory, verified (-EBADMSG naming the digest). */
int registry_get_blob(struct registry *r, const struct digest *d, size_t max, char **ret_buf,
                      size_t *ret_len, struct kl_error **err);
/* Streams blob d into the store, verified against d before it becomes visible (-EBADMSG
 * naming the digest otherwise: nothing is stored). A blob already present is not fetched. */
int registry_fetch_blob(struct registry *r, const struct digest *d, struct store *s,
                        struct kl_error **err);
/* GETs bytes [off, off+len) of blob d (HTTP Range), handing them to fn in order; fn returns
 * < 0 to stop with that code. Fails with -EIO when the registry sends fewer bytes. */
typedef int (*registry_data_fn)(const void *buf, size_t n, void *userdata);
int registry_get_range(struct registry *r, const struct digest *d, uint64_t off, uint64_t len,
                       registry_data_fn fn, void *userdata, struct kl_error **err);

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
