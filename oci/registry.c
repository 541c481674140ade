// SPDX-License-Identifier: Apache-2.0
/* The distribution API v2 client over libcurl: requests, retries, auth handshakes, sinks. */
#include "oci/registry.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fs/store.h"
#include "oci/image.h"
#include "oci/reference.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

struct registry {
	CURL *curl;
	char *host, *repository, *scheme;
	bool insecure;    /* may fall back to plain HTTP */
	char *auth_file;  /* a Docker config.json, or NULL */
	bool auth_loaded; /* auth holds what auth_file gives (read at the first 401) */
	struct registry_auth
	    auth;            /* basic, identity token (a helper's answer, when it names one) */
	char *authorization; /* the Authorization header value in use, or NULL */
	unsigned retries, backoff_ms, helper_timeout_ms;
	uint64_t received;
	char errbuf[CURL_ERROR_SIZE];
};

/* Where a response body goes. */
enum sink_kind { SINK_MEMORY, SINK_WRITER, SINK_CALLBACK };

struct request {
	const char *what; /* for messages: "manifest latest", "blob sha256:…" */
	char *url;
	const char *accept;
	const char *post;    /* a form to POST instead of a GET */
	bool ranged;         /* send Range: bytes=start+delivered-end */
	uint64_t start, end; /* inclusive end; with ranged */
	enum sink_kind kind;
	size_t max; /* SINK_MEMORY */
	char *buf;
	size_t len, cap;
	struct store_writer *w; /* SINK_WRITER */
	registry_data_fn fn;    /* SINK_CALLBACK */
	void *userdata;
	bool resumable;     /* a retry asks only for what is missing */
	uint64_t delivered; /* body bytes handed to the sink over all attempts */
	uint64_t skip;      /* bytes to drop (a 200 answer to a range request) */
	bool body_started;  /* the current response's body has begun */
	CURL *curl;
	int sink_error; /* -errno a sink failed with */
	long status;
	char *content_type, *www_authenticate;
};

static int
error_from_curl(struct registry *r, struct kl_error **err, CURLcode c, const char *what)
{
	int code = c == CURLE_OPERATION_TIMEDOUT     ? ETIMEDOUT
	           : c == CURLE_COULDNT_CONNECT      ? ECONNREFUSED
	           : c == CURLE_COULDNT_RESOLVE_HOST ? EHOSTUNREACH
	                                             : EIO;

	return kl_error_setf(err, code, "%s from '%s/%s': %s", what, r->host, r->repository,
	                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(c));
}

static bool
host_listed(const char *host, const struct registry_options *o)
{
	for (size_t i = 0; o && i < o->n_insecure_hosts; i++)
		if (!strcmp(o->insecure_hosts[i], host))
			return true;
	return false;
}

/* Reads the auth file and runs the credential helper it names for this host, once per client
 * (again at the next 401 after it failed). No file, an unreadable or malformed one, no entry or
 * a helper without credentials for the host all mean anonymous, as with docker; a helper that
 * fails otherwise is an error. */
static int
load_credentials(struct registry *r, struct kl_error **err)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct registry_auth a = {0};
	struct kl_error *e = NULL;
	const char *server;
	size_t len;
	int ret;

	if (r->auth_loaded || !r->auth_file)
		return 0;
	fd = open(r->auth_file, O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -errno : kl_io_read_all(fd, REGISTRY_MAX_AUTH_FILE, &buf, &len);
	if (ret >= 0)
		ret = registry_auth_lookup(buf, len, r->host, &a, &e);
	if (ret < 0 && e) {
		kl_debug("ignoring '%s': %s", r->auth_file, e->msg);
		kl_error_free(e);
	}
	if (ret >= 0 && a.helper) {
		server = registry_credhelper_server(r->host);
		ret = registry_credhelper_get(a.helper, server, r->helper_timeout_ms, &a, err);
		if (ret == -ENOENT)
			kl_debug("registry %s: credential helper 'docker-credential-%s' has no "
			         "credentials for '%s': anonymous",
			         r->host, a.helper, server);
		else if (ret < 0)
			kl_error_prefix(err, "credentials for '%s'", server);
		free(TAKE_PTR(a.helper));
		if (ret < 0 && ret != -ENOENT) {
			registry_auth_done(&a);
			return ret;
		}
	}
	r->auth = a;
	r->auth_loaded = true;
	return 0;
}

int
registry_new(const char *host, const char *repository, const struct registry_options *opts,
             struct registry **ret, struct kl_error **err)
{
	struct registry *r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return kl_error_setf(err, EIO, "initializing libcurl");
	r = xcalloc(1, sizeof(*r));
	r->curl = curl_easy_init();
	if (!r->curl) {
		free(r);
		return kl_error_setf(err, ENOMEM, "creating a libcurl handle");
	}
	r->host = xstrdup(host);
	r->repository = xstrdup(repository);
	r->insecure = host_listed(host, opts);
	r->scheme = xstrdup(oci_host_is_loopback(host) ? "http" : "https");
	r->retries = opts && opts->retries ? opts->retries : REGISTRY_DEFAULT_RETRIES;
	r->backoff_ms = opts && opts->backoff_ms ? opts->backoff_ms : 200;
	r->helper_timeout_ms = opts ? opts->helper_timeout_ms : 0;
	r->auth_file = opts && opts->auth_file ? xstrdup(opts->auth_file) : NULL;
	*ret = r;
	return 0;
}

struct registry *
registry_free(struct registry *r)
{
	if (!r)
		return NULL;
	curl_easy_cleanup(r->curl);
	free(r->host);
	free(r->repository);
	free(r->scheme);
	free(r->auth_file);
	registry_auth_done(&r->auth);
	free(r->authorization);
	free(r);
	return NULL;
}

const char *
registry_scheme(const struct registry *r)
{
	return r->scheme;
}

uint64_t
registry_bytes_received(const struct registry *r)
{
	return r->received;
}

static size_t
on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct request *q = userdata;
	size_t len = size * n, name_len;
	char **slot = NULL;
	const char *colon = memchr(data, ':', len);

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* A new response (after a redirect or a 100): forget the last one's headers. */
		free(q->content_type);
		free(q->www_authenticate);
		q->content_type = q->www_authenticate = NULL;
		q->body_started = false;
		return len;
	}
	if (!colon)
		return len;
	name_len = (size_t)(colon - data);
	if (name_len == 12 && !strncasecmp(data, "Content-Type", 12))
		slot = &q->content_type;
	else if (name_len == 16 && !strncasecmp(data, "WWW-Authenticate", 16))
		slot = &q->www_authenticate;
	if (slot) {
		const char *v = colon + 1, *end = data + len;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(*slot);
		*slot = xstrndup(v, (size_t)(end - v));
	}
	return len;
}

static int
sink(struct request *q, const char *data, size_t n)
{
	switch (q->kind) {
	case SINK_MEMORY:
		if (q->len + n > q->max)
			return -EFBIG;
		q->buf = xgrow(q->buf, &q->cap, q->len + n + 1, 1);
		memcpy(q->buf + q->len, data, n);
		q->len += n;
		q->buf[q->len] = '\0';
		return 0;
	case SINK_WRITER:
		return store_writer_write(q->w, data, n, NULL);
	case SINK_CALLBACK:
		return q->fn(data, n, q->userdata);
	default:
		return -EINVAL;
	}
}

static size_t
on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct request *q = userdata;
	size_t len = size * n, drop;
	long status = 0;
	int r;

	(void)curl_easy_getinfo(q->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300)
		return len; /* an error body: ignored, the status says it all */
	if (!q->body_started) {
		q->body_started = true;
		/* A server that ignores Range answers 200 with the whole blob. */
		q->skip = status == 200 && (q->ranged || q->resumable)
		              ? (q->ranged ? q->start : 0) + q->delivered
		              : 0;
	}
	drop = q->skip < len ? (size_t)q->skip : len;
	q->skip -= drop;
	data += drop;
	len -= drop;
	if (q->ranged && q->delivered + len > q->end - q->start + 1)
		len = (size_t)(q->end - q->start + 1 - q->delivered);
	if (len) {
		r = sink(q, data, len);
		if (r < 0) {
			q->sink_error = r;
			return 0; /* aborts the transfer */
		}
		q->delivered += len;
	}
	return size * n;
}

static bool
retryable(CURLcode c, long status)
{
	if (c == CURLE_OK)
		return status >= 500 || status == 429 || status == 408;
	return c == CURLE_COULDNT_CONNECT || c == CURLE_OPERATION_TIMEDOUT ||
	       c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_PARTIAL_FILE ||
	       c == CURLE_GOT_NOTHING || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
}

static void
backoff(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Rewinds a sink that cannot resume, before another attempt. */
static int
restart_sink(struct request *q)
{
	if (q->resumable || q->ranged || q->delivered == 0)
		return 0;
	if (q->kind != SINK_MEMORY)
		return -EIO;
	q->len = 0;
	q->delivered = 0;
	return 0;
}

static CURLcode
attempt(struct registry *r, struct request *q, const char *url)
{
	struct curl_slist *h = NULL;
	_cleanup_free_ char *auth = NULL, *accept = NULL, *range = NULL;
	CURLcode c;

	curl_easy_reset(r->curl);
	r->errbuf[0] = '\0';
	q->curl = r->curl;
	q->status = 0;
	q->body_started = false;
	if (q->accept) {
		accept = xasprintf("Accept: %s", q->accept);
		h = curl_slist_append(h, accept);
	}
	if (r->authorization) {
		auth = xasprintf("Authorization: %s", r->authorization);
		h = curl_slist_append(h, auth);
	}
	if (q->ranged)
		range = xasprintf("%" PRIu64 "-%" PRIu64, q->start + q->delivered, q->end);
	else if (q->resumable && q->delivered)
		range = xasprintf("%" PRIu64 "-", q->delivered);
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(r->curl, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	curl_easy_setopt(r->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->curl, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, q);
	if (range)
		curl_easy_setopt(r->curl, CURLOPT_RANGE, range);
	if (q->post) {
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, q->post);
		curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(q->post));
	}
	if (r->insecure) {
		curl_easy_setopt(r->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(r->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	c = curl_easy_perform(r->curl);
	(void)curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &q->status);
	{
		curl_off_t got = 0;

		if (curl_easy_getinfo(r->curl, CURLINFO_SIZE_DOWNLOAD_T, &got) == CURLE_OK &&
		    got > 0)
			r->received += (uint64_t)got;
	}
	curl_slist_free_all(h);
	return c;
}

/* Performs q with retries and an insecure host's fallback to HTTP; leaves q->status set. */
static int
perform(struct registry *r, struct request *q, const char *path, struct kl_error **err)
{
	unsigned delay = r->backoff_ms;
	CURLcode c = CURLE_OK;

	for (unsigned i = 0;; i++) {
		_cleanup_free_ char *url = xasprintf("%s://%s/v2/%s", r->scheme, r->host, path);

		if (restart_sink(q) < 0)
			return kl_error_setf(err, EIO, "%s from '%s/%s': transfer failed midway",
			                     q->what, r->host, r->repository);
		c = attempt(r, q, url);
		if (q->sink_error)
			return kl_error_set(err, -q->sink_error, "%s from '%s/%s'", q->what,
			                    r->host, r->repository);
		if (c != CURLE_OK && r->insecure && !strcmp(r->scheme, "https") &&
		    (c == CURLE_SSL_CONNECT_ERROR || c == CURLE_COULDNT_CONNECT ||
		     c == CURLE_GOT_NOTHING || c == CURLE_RECV_ERROR)) {
			kl_debug("registry %s: https failed (%s), trying plain http", r->host,
			         curl_easy_strerror(c));
			free(r->scheme);
			r->scheme = xstrdup("http");
			i--;
			continue;
		}
		if (!retryable(c, q->status) || i >= r->retries)
			break;
		kl_debug("registry %s: %s: %s, retrying in %u ms", r->host, q->what,
		         c ? curl_easy_strerror(c) : "server error", delay);
		backoff(delay);
		delay *= 2;
	}
	if (c != CURLE_OK)
		return error_from_curl(r, err, c, q->what);
	return 0;
}

static void
request_done(struct request *q)
{
	free(q->buf);
	free(q->content_type);
	free(q->www_authenticate);
}

/* The token request for challenge c: a GET with the scope in the query and basic credentials,
 * or, with an identity token, the OAuth2 refresh-token grant POSTed as a form (distribution's
 * token spec, "oauth.md"). */
static void
token_request(struct registry *r, const struct registry_challenge *c, char **ret_url,
              char **ret_post)
{
	_cleanup_free_ char *scope = NULL;
	char *esc_scope, *esc_service, *esc_token;

	scope = c->scope ? xstrdup(c->scope) : xasprintf("repository:%s:pull", r->repository);
	esc_scope = curl_easy_escape(r->curl, scope, 0);
	esc_service = c->service ? curl_easy_escape(r->curl, c->service, 0) : NULL;
	if (r->auth.identity_token) {
		esc_token = curl_easy_escape(r->curl, r->auth.identity_token, 0);
		*ret_url = xstrdup(c->realm);
		*ret_post =
		    xasprintf("grant_type=refresh_token&client_id=kiln&refresh_token=%s"
		              "&scope=%s%s%s",
		              esc_token ? esc_token : "", esc_scope ? esc_scope : "",
		              esc_service ? "&service=" : "", esc_service ? esc_service : "");
		curl_free(esc_token);
	} else {
		*ret_url =
		    xasprintf("%s%sscope=%s%s%s", c->realm, strchr(c->realm, '?') ? "&" : "?",
		              esc_scope ? esc_scope : "", esc_service ? "&service=" : "",
		              esc_service ? esc_service : "");
		*ret_post = NULL;
	}
	curl_free(esc_scope);
	curl_free(esc_service);
}

/* Fetches a bearer token for challenge c. */
static int
fetch_token(struct registry *r, const struct registry_challenge *c, struct kl_error **err)
{
	_cleanup_free_ char *url = NULL, *post = NULL;
	struct request q = {
	    .what = "auth token", .kind = SINK_MEMORY, .max = REGISTRY_MAX_TOKEN_RESPONSE};
	json_t *j, *tok;
	json_error_t je;
	CURLcode cc;
	int ret = 0;

	token_request(r, c, &url, &post);
	q.post = post;
	free(r->authorization);
	r->authorization = r->auth.basic && !post ? xasprintf("Basic %s", r->auth.basic) : NULL;
	cc = attempt(r, &q, url);
	free(r->authorization);
	r->authorization = NULL;
	if (cc != CURLE_OK)
		ret = error_from_curl(r, err, cc, "auth token");
	else if (q.sink_error)
		ret = kl_error_set(err, -q.sink_error, "auth token for '%s'", r->host);
	else if (q.status != 200)
		ret = kl_error_setf(err, EACCES,
		                    "auth token for '%s/%s': the token server '%s' "
		                    "answered HTTP %ld%s",
		                    r->host, r->repository, c->realm, q.status,
		                    post ? " to the identity token" : "");
	if (ret < 0) {
		request_done(&q);
		return ret;
	}
	j = json_loadb(q.buf ? q.buf : "", q.len, 0, &je);
	tok = j ? json_object_get(j, "token") : NULL;
	if (!json_is_string(tok))
		tok = j ? json_object_get(j, "access_token") : NULL;
	if (json_is_string(tok) && json_string_length(tok) > 0)
		r->authorization = xasprintf("Bearer %s", json_string_value(tok));
	else
		ret = kl_error_setf(err, EBADMSG,
		                    "auth token for '%s': the token server's answer "
		                    "has no token",
		                    r->host);
	if (j)
		json_decref(j);
	request_done(&q);
	return ret;
}

/* After a 401: sets up the auth the challenge asks for; -EACCES when nothing more can help. */
static int
authenticate(struct registry *r, struct request *q, struct kl_error **err)
{
	struct registry_challenge c;
	int ret;

	if (!q->www_authenticate || registry_parse_challenge(q->www_authenticate, &c) < 0)
		return kl_error_setf(err, EACCES, "%s from '%s/%s': unauthorized (HTTP 401)",
		                     q->what, r->host, r->repository);
	ret = load_credentials(r, err);
	if (ret >= 0 && c.scheme == REGISTRY_AUTH_BASIC) {
		ret = r->auth.basic ? 0
		                    : kl_error_setf(err, EACCES,
		                                    "%s from '%s/%s': the registry wants a "
		                                    "login and the docker config has none for it",
		                                    q->what, r->host, r->repository);
		if (ret == 0)
			r->authorization = xasprintf("Basic %s", r->auth.basic);
	} else if (ret >= 0) {
		ret = fetch_token(r, &c, err);
	}
	registry_challenge_done(&c);
	return ret;
}

/* GETs /v2/<path> into q, negotiating auth once; fails on any status but 2xx. */
static int
get(struct registry *r, struct request *q, const char *path, struct kl_error **err)
{
	int ret;

	ret = perform(r, q, path, err);
	if (ret < 0)
		return ret;
	if (q->status == 401 && !r->authorization) {
		ret = authenticate(r, q, err);
		if (ret < 0)
			return ret;
		ret = perform(r, q, path, err);
		if (ret < 0)
			return ret;
	}
	if (q->status == 404)
		return kl_error_setf(err, ENOENT, "%s from '%s/%s': not found", q->what, r->host,
		                     r->repository);
	if (q->status == 401 || q->status == 403)
		return kl_error_setf(err, EACCES, "%s from '%s/%s': access denied (HTTP %ld)",
		                     q->what, r->host, r->repository, q->status);
	if (q->status < 200 || q->status >= 300)
		return kl_error_setf(err, EIO, "%s from '%s/%s': HTTP %ld", q->what, r->host,
		                     r->repository, q->status);
	return 0;
}

int
registry_get_manifest(struct registry *r, const char *ref, size_t max, char **ret_buf,
                      size_t *ret_len, char **ret_content_type, struct kl_error **err)
{
	_cleanup_free_ char *what = xasprintf("manifest '%s'", ref);
	_cleanup_free_ char *path = xasprintf("%s/manifests/%s", r->repository, ref);
	struct request q = {
	    .what = what, .accept = OCI_MANIFEST_ACCEPT, .kind = SINK_MEMORY, .max = max};
	struct digest want, got;
	int ret;

	ret = get(r, &q, path, err);
	if (ret == -EFBIG)
		ret = kl_error_setf(err, EFBIG, "%s from '%s/%s': larger than %zu bytes", what,
		                    r->host, r->repository, max);
	if (ret >= 0 && digest_parse(ref, strlen(ref), &want, NULL) == 0) {
		digest_buffer(q.buf ? q.buf : "", q.len, &got);
		if (!digest_equal(&want, &got))
			ret = kl_error_setf(err, EBADMSG,
			                    "manifest %s from '%s/%s' does not match "
			                    "its digest",
			                    ref, r->host, r->repository);
	}
	if (ret >= 0) {
		*ret_buf = q.buf ? TAKE_PTR(q.buf) : xstrdup("");
		*ret_len = q.len;
		if (ret_content_type)
			*ret_content_type = TAKE_PTR(q.content_type);
	}
	request_done(&q);
	return ret;
}

int
registry_get_blob(struct registry *r, const struct digest *d, size_t max, char **ret_buf,
                  size_t *ret_len, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *what = xasprintf("blob %s", digest_to_string(d, id));
	_cleanup_free_ char *path = xasprintf("%s/blobs/%s", r->repository, id);
	struct request q = {.what = what, .kind = SINK_MEMORY, .max = max, .resumable = true};
	struct digest got;
	int ret;

	ret = get(r, &q, path, err);
	if (ret == -EFBIG)
		ret = kl_error_setf(err, EFBIG, "%s from '%s/%s': larger than %zu bytes", what,
		                    r->host, r->repository, max);
	if (ret >= 0) {
		digest_buffer(q.buf ? q.buf : "", q.len, &got);
		if (!digest_equal(d, &got))
			ret =
			    kl_error_setf(err, EBADMSG, "%s from '%s/%s' does not match its digest",
			                  what, r->host, r->repository);
	}
	if (ret >= 0) {
		*ret_buf = q.buf ? TAKE_PTR(q.buf) : xstrdup("");
		*ret_len = q.len;
	}
	request_done(&q);
	return ret;
}

int
registry_fetch_blob(struct registry *r, const struct digest *d, struct store *s,
                    struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *what = xasprintf("blob %s", digest_to_string(d, id));
	_cleanup_free_ char *path = xasprintf("%s/blobs/%s", r->repository, id);
	struct request q = {.what = what, .kind = SINK_WRITER, .resumable = true};
	int ret;

	if (store_has_blob(s, d) > 0)
		return 0;
	ret = store_writer_begin(s, &q.w, err);
	if (ret < 0)
		return ret;
	ret = get(r, &q, path, err);
	if (ret >= 0) {
		ret = store_writer_commit(q.w, d, NULL, err);
		q.w = NULL;
		if (ret < 0)
			kl_error_prefix(err, "%s from '%s/%s'", what, r->host, r->repository);
	}
	store_writer_abort(q.w);
	request_done(&q);
	return ret;
}

int
registry_get_range(struct registry *r, const struct digest *d, uint64_t off, uint64_t len,
                   registry_data_fn fn, void *userdata, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *what = NULL, *path = NULL;
	struct request q = {.kind = SINK_CALLBACK,
	                    .fn = fn,
	                    .userdata = userdata,
	                    .ranged = true,
	                    .start = off,
	                    .end = off + len - 1};
	int ret;

	if (len == 0)
		return 0;
	what = xasprintf("bytes %" PRIu64 "-%" PRIu64 " of blob %s", off, off + len - 1,
	                 digest_to_string(d, id));
	path = xasprintf("%s/blobs/%s", r->repository, id);
	q.what = what;
	ret = get(r, &q, path, err);
	if (ret >= 0 && q.delivered != len)
		ret = kl_error_setf(err, EIO, "%s from '%s/%s': got only %" PRIu64 " bytes", what,
		                    r->host, r->repository, q.delivered);
	request_done(&q);
	return ret;
}
