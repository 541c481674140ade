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
#include "oci/registry-internal.h"
#include "util/dl-curl.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
error_from_curl(struct registry *r, struct kl_error **err, CURLcode c, const char *what)
{
	int code = c == CURLE_OPERATION_TIMEDOUT     ? ETIMEDOUT
	           : c == CURLE_COULDNT_CONNECT      ? ECONNREFUSED
	           : c == CURLE_COULDNT_RESOLVE_HOST ? EHOSTUNREACH
	                                             : EIO;

	return kl_error_setf(err, code, "%s from '%s/%s': %s", what, r->host, r->repository,
	                     r->errbuf[0] ? r->errbuf : kl_curl()->easy_strerror(c));
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
	int rc;

	rc = kl_curl_load(err);
	if (rc < 0)
		return rc;
	if (kl_curl()->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return kl_error_setf(err, EIO, "initializing libcurl");
	r = xcalloc(1, sizeof(*r));
	r->curl = kl_curl()->easy_init();
	r->multi = kl_curl()->multi_init();
	if (!r->curl || !r->multi) {
		kl_curl()->easy_cleanup(r->curl);
		if (r->multi)
			kl_curl()->multi_cleanup(r->multi);
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
	r->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : REGISTRY_DEFAULT_TIMEOUT_MS;
	if (r->timeout_ms > REGISTRY_MAX_TIMEOUT_MS)
		r->timeout_ms = REGISTRY_MAX_TIMEOUT_MS;
	r->auth_file = opts && opts->auth_file ? xstrdup(opts->auth_file) : NULL;
	r->progress = opts ? opts->progress : NULL;
	r->progress_userdata = opts ? opts->progress_userdata : NULL;
	*ret = r;
	return 0;
}

struct registry *
registry_free(struct registry *r)
{
	if (!r)
		return NULL;
	kl_curl()->easy_cleanup(r->curl);
	kl_curl()->multi_cleanup(r->multi);
	free(r->host);
	free(r->repository);
	free(r->scheme);
	free(r->auth_file);
	free(r->extra_scope);
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

unsigned
registry_timeout_ms(const struct registry *r)
{
	return r->timeout_ms;
}

static size_t
on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct request *q = userdata;
	size_t len = size * n, name_len;
	char **slot = NULL;
	const char *colon = memchr(data, ':', len);

	q->last_ms = now_ms();
	q->got += len;
	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* A new response (after a redirect or a 100): forget the last one's headers. */
		free(q->content_type);
		free(q->www_authenticate);
		free(q->retry_after);
		free(q->location);
		free(q->docker_digest);
		free(q->range);
		q->content_type = q->www_authenticate = q->retry_after = NULL;
		q->location = q->docker_digest = q->range = NULL;
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
	else if (name_len == 11 && !strncasecmp(data, "Retry-After", 11))
		slot = &q->retry_after;
	else if (name_len == 8 && !strncasecmp(data, "Location", 8))
		slot = &q->location;
	else if (name_len == 21 && !strncasecmp(data, "Docker-Content-Digest", 21))
		slot = &q->docker_digest;
	else if (name_len == 5 && !strncasecmp(data, "Range", 5))
		slot = &q->range;
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

/* At the start of a body of known size: a Content-Length that cannot add up to it ends the
 * request before the body is read. */
static void
check_announced(struct request *q, long status)
{
	curl_off_t cl = -1;
	uint64_t total;

	if (!q->sized ||
	    kl_curl()->easy_getinfo(q->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK ||
	    cl < 0)
		return;
	/* A 206 continues at what we have; a 200 is the whole blob again. */
	total = (uint64_t)cl + (status == 206 ? q->delivered : 0);
	if (total != q->size) {
		q->announced = total;
		q->wrong_size = true;
	}
}

/* Cuts len to what the request still wants; returns false when the body is known to be too
 * long (counted in excess, up to REGISTRY_SIZE_MARGIN past the size). */
static bool
clip(struct request *q, size_t *len)
{
	uint64_t want = q->ranged  ? q->end - q->start + 1 - q->delivered
	                : q->sized ? q->size - q->delivered
	                           : UINT64_MAX;

	if (*len <= want)
		return true;
	if (q->ranged) {
		q->stopped = true; /* all we asked for is here: a whole blob need not follow */
	} else {
		q->excess += *len - want;
		q->wrong_size = q->excess > REGISTRY_SIZE_MARGIN;
	}
	*len = (size_t)want;
	return !q->stopped && !q->wrong_size;
}

static size_t
on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct request *q = userdata;
	size_t len = size * n, drop;
	long status = 0;
	bool go_on;
	int r;

	q->last_ms = now_ms();
	q->got += len;
	(void)kl_curl()->easy_getinfo(q->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		/* An error body: ignored, the status says it all, but a push keeps the start of it
		 * for its message; an endless one is cut short. */
		if (q->keep_error && q->kind == SINK_MEMORY &&
		    q->len + len <= REGISTRY_MAX_ERROR_KEPT)
			(void)sink(q, data, len);
		q->error_body += len;
		q->stopped = q->error_body > REGISTRY_MAX_ERROR_BODY;
		return q->stopped ? 0 : len;
	}
	if (!q->body_started) {
		q->body_started = true;
		/* A server that ignores Range answers 200 with the whole blob. */
		q->skip = status == 200 && (q->ranged || q->resumable)
		              ? (q->ranged ? q->start : 0) + q->delivered
		              : 0;
		check_announced(q, status);
		if (q->wrong_size)
			return 0;
	}
	drop = q->skip < len ? (size_t)q->skip : len;
	q->skip -= drop;
	data += drop;
	len -= drop;
	go_on = clip(q, &len);
	if (len) {
		r = sink(q, data, len);
		if (r < 0) {
			q->sink_error = r;
			return 0; /* aborts the transfer */
		}
		q->delivered += len;
		if (q->progress)
			q->progress->progress(q->progress->progress_userdata, q->id, q->delivered,
			                      q->sized ? q->size : 0);
	}
	return go_on ? size * n : 0;
}

/* What another attempt can mend: a server error that may pass, a connection dropped or reset
 * midway. Not a stall (it cost the whole timeout already), nor a refused connection (nobody
 * listens), nor a status that will not change (501, 505). */
static bool
retryable(CURLcode c, long status)
{
	if (c == CURLE_OK)
		return (status >= 500 && status != 501 && status != 505) || status == 429 ||
		       status == 408;
	return c == CURLE_RECV_ERROR || c == CURLE_SEND_ERROR || c == CURLE_PARTIAL_FILE ||
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

/* Runs the transfer set up on r->curl to its end, or until r->timeout_ms pass without a byte
 * (q->stalled, CURLE_OPERATION_TIMEDOUT). */
static CURLcode
run(struct registry *r, struct request *q)
{
	CURLcode c = CURLE_FAILED_INIT;
	CURLMcode mc;
	CURLMsg *m;
	int running = 1, left;

	q->last_ms = now_ms();
	mc = kl_curl()->multi_add_handle(r->multi, r->curl);
	while (mc == CURLM_OK) {
		int64_t idle;
		long wait = -1;

		mc = kl_curl()->multi_perform(r->multi, &running);
		if (mc != CURLM_OK || !running)
			break;
		idle = now_ms() - q->last_ms;
		if (idle >= (int64_t)r->timeout_ms) {
			c = CURLE_OPERATION_TIMEDOUT;
			break;
		}
		(void)kl_curl()->multi_timeout(r->multi, &wait);
		if (wait < 0 || wait > (int64_t)r->timeout_ms - idle)
			wait = (long)((int64_t)r->timeout_ms - idle);
		mc = kl_curl()->multi_poll(r->multi, NULL, 0, (int)wait, NULL);
	}
	if (mc != CURLM_OK) {
		snprintf(r->errbuf, sizeof(r->errbuf), "%s", kl_curl()->multi_strerror(mc));
		c = CURLE_FAILED_INIT;
	}
	while ((m = kl_curl()->multi_info_read(r->multi, &left)))
		if (m->msg == CURLMSG_DONE && m->easy_handle == r->curl)
			c = m->data.result;
	(void)kl_curl()->multi_remove_handle(r->multi, r->curl);
	if (c == CURLE_OPERATION_TIMEDOUT)
		q->stalled = true; /* curl's own connect timeout is the same silence */
	if (c == CURLE_WRITE_ERROR && q->stopped)
		c = CURLE_OK; /* we ended it with what we need: the status stands */
	return c;
}

/* A request body, from memory or from an fd at its offset (pread: a retry starts over). */
static size_t
on_upload(char *buf, size_t size, size_t n, void *userdata)
{
	struct request *q = userdata;
	uint64_t left = q->upload_len - q->upload_sent;
	size_t want = size * n < left ? size * n : (size_t)left;
	ssize_t got;

	if (!want)
		return 0;
	if (q->upload_buf) {
		memcpy(buf, q->upload_buf + q->upload_sent, want);
		got = (ssize_t)want;
	} else {
		got = kl_io_pread_full(q->upload_fd, buf, want,
		                       (off_t)(q->upload_off + q->upload_sent));
		if (got <= 0) {
			q->upload_error = got < 0 ? (int)-got : EIO;
			return CURL_READFUNC_ABORT;
		}
	}
	q->upload_sent += (uint64_t)got;
	q->last_ms = now_ms();
	return (size_t)got;
}

/* The method and body of a push request. */
static struct curl_slist *
set_method(struct registry *r, struct request *q, struct curl_slist *h)
{
	_cleanup_free_ char *ct = NULL, *cr = NULL;

	if (q->method && !strcmp(q->method, "HEAD"))
		kl_curl()->easy_setopt(r->curl, CURLOPT_NOBODY, 1L);
	if (q->upload) {
		q->upload_sent = 0;
		kl_curl()->easy_setopt(r->curl, CURLOPT_UPLOAD, 1L);
		kl_curl()->easy_setopt(r->curl, CURLOPT_INFILESIZE_LARGE,
		                       (curl_off_t)q->upload_len);
		kl_curl()->easy_setopt(r->curl, CURLOPT_READFUNCTION, on_upload);
		kl_curl()->easy_setopt(r->curl, CURLOPT_READDATA, q);
		h = kl_curl()->slist_append(h, "Expect:");
	} else if (q->method && strcmp(q->method, "HEAD") && strcmp(q->method, "GET")) {
		/* A body-less POST or PUT says so, or a proxy waits for one. */
		kl_curl()->easy_setopt(r->curl, CURLOPT_POSTFIELDS, "");
		kl_curl()->easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (q->method && strcmp(q->method, "HEAD"))
		kl_curl()->easy_setopt(r->curl, CURLOPT_CUSTOMREQUEST, q->method);
	if (q->upload_type) {
		ct = xasprintf("Content-Type: %s", q->upload_type);
		h = kl_curl()->slist_append(h, ct);
	}
	if (q->content_range) {
		cr = xasprintf("Content-Range: %s", q->content_range);
		h = kl_curl()->slist_append(h, cr);
	}
	return h;
}

static CURLcode
attempt(struct registry *r, struct request *q, const char *url)
{
	struct curl_slist *h = NULL;
	_cleanup_free_ char *auth = NULL, *accept = NULL, *range = NULL;
	CURLcode c;

	kl_curl()->easy_reset(r->curl);
	r->errbuf[0] = '\0';
	q->curl = r->curl;
	q->status = 0;
	q->body_started = q->stopped = q->stalled = false;
	q->got = q->error_body = 0;
	q->attempts++;
	if (q->accept) {
		accept = xasprintf("Accept: %s", q->accept);
		h = kl_curl()->slist_append(h, accept);
	}
	if (r->authorization) {
		auth = xasprintf("Authorization: %s", r->authorization);
		h = kl_curl()->slist_append(h, auth);
	}
	if (q->ranged)
		range = xasprintf("%" PRIu64 "-%" PRIu64, q->start + q->delivered, q->end);
	else if (q->resumable && q->delivered)
		range = xasprintf("%" PRIu64 "-", q->delivered);
	kl_curl()->easy_setopt(r->curl, CURLOPT_URL, url);
	kl_curl()->easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
	kl_curl()->easy_setopt(r->curl, CURLOPT_ERRORBUFFER, r->errbuf);
	kl_curl()->easy_setopt(r->curl, CURLOPT_FOLLOWLOCATION, 1L);
	kl_curl()->easy_setopt(r->curl, CURLOPT_MAXREDIRS, 10L);
	kl_curl()->easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	kl_curl()->easy_setopt(r->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	kl_curl()->easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)r->timeout_ms);
	kl_curl()->easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	kl_curl()->easy_setopt(r->curl, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	kl_curl()->easy_setopt(r->curl, CURLOPT_HEADERFUNCTION, on_header);
	kl_curl()->easy_setopt(r->curl, CURLOPT_HEADERDATA, q);
	kl_curl()->easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
	kl_curl()->easy_setopt(r->curl, CURLOPT_WRITEDATA, q);
	if (range)
		kl_curl()->easy_setopt(r->curl, CURLOPT_RANGE, range);
	if (q->post) {
		kl_curl()->easy_setopt(r->curl, CURLOPT_POSTFIELDS, q->post);
		kl_curl()->easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(q->post));
	}
	h = set_method(r, q, h);
	kl_curl()->easy_setopt(r->curl, CURLOPT_HTTPHEADER, h);
	if (r->insecure) {
		kl_curl()->easy_setopt(r->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		kl_curl()->easy_setopt(r->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	c = run(r, q);
	(void)kl_curl()->easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &q->status);
	r->sent += q->upload_sent;
	kl_curl()->slist_free_all(h);
	return c;
}

/* A stalled attempt, told as what the user waited for. */
static int
stall_error(struct registry *r, const struct request *q, struct kl_error **err)
{
	char t[REGISTRY_DURATION_SIZE];
	_cleanup_free_ char *who =
	    q->server ? xasprintf("the token server '%s'", q->server) : xstrdup("the registry");

	registry_format_duration(r->timeout_ms, t);
	if (!q->got)
		return kl_error_setf(err, ETIMEDOUT, "%s from '%s/%s': no response from %s in %s",
		                     q->what, r->host, r->repository, who, t);
	return kl_error_setf(err, ETIMEDOUT,
	                     "%s from '%s/%s': %s stopped sending for %s, after %" PRIu64 " bytes",
	                     q->what, r->host, r->repository, who, t, q->got);
}

/* The message for an attempt that failed in transfer. */
static int
transfer_error(struct registry *r, const struct request *q, CURLcode c, struct kl_error **err)
{
	if (q->stalled)
		return stall_error(r, q, err);
	return error_from_curl(r, err, c, q->what);
}

/* A body that is not its descriptor's size. */
static int
size_error(struct registry *r, const struct request *q, struct kl_error **err)
{
	if (q->excess > REGISTRY_SIZE_MARGIN)
		return kl_error_setf(err, EBADMSG,
		                     "%s from '%s/%s' has the wrong size: more than %" PRIu64
		                     " bytes, its descriptor says %" PRIu64,
		                     q->what, r->host, r->repository,
		                     q->size + REGISTRY_SIZE_MARGIN, q->size);
	return kl_error_setf(
	    err, EBADMSG,
	    "%s from '%s/%s' has the wrong size: %" PRIu64 " bytes, its descriptor says %" PRIu64,
	    q->what, r->host, r->repository,
	    q->excess || !q->wrong_size ? q->delivered + q->excess : q->announced, q->size);
}

/* After a retryable answer: how long to wait before the next attempt (*ret_ms: its
 * Retry-After, or backoff_ms), or an error when the registry asks for a longer wait than
 * REGISTRY_MAX_RETRY_AFTER_MS: not worth waiting for. */
static int
retry_delay(struct registry *r, const struct request *q, unsigned backoff_ms, unsigned *ret_ms,
            struct kl_error **err)
{
	char t[REGISTRY_DURATION_SIZE];
	uint64_t ms;

	*ret_ms = backoff_ms;
	if ((q->status != 429 && q->status != 503) || !q->retry_after ||
	    registry_parse_retry_after(q->retry_after, time(NULL), &ms) < 0)
		return 0;
	if (ms > REGISTRY_MAX_RETRY_AFTER_MS)
		return kl_error_setf(err, EAGAIN,
		                     "%s from '%s/%s': HTTP %ld, and the registry asks to retry "
		                     "in %" PRIu64 " s: longer than the %s kiln waits",
		                     q->what, r->host, r->repository, q->status, ms / 1000,
		                     registry_format_duration(REGISTRY_MAX_RETRY_AFTER_MS, t));
	*ret_ms = (unsigned)ms;
	return 0;
}

/* Performs q with retries and an insecure host's fallback to HTTP; leaves q->status set. */
static int
perform(struct registry *r, struct request *q, const char *path, struct kl_error **err)
{
	unsigned delay = r->backoff_ms, wait;
	CURLcode c = CURLE_OK;
	int ret;

	for (unsigned i = 0;; i++) {
		_cleanup_free_ char *url =
		    !strncmp(path, "http://", 7) || !strncmp(path, "https://", 8) ? xstrdup(path)
		    : path[0] == '/' ? xasprintf("%s://%s%s", r->scheme, r->host, path)
		                     : xasprintf("%s://%s/v2/%s", r->scheme, r->host, path);

		if (restart_sink(q) < 0)
			return kl_error_setf(err, EIO, "%s from '%s/%s': transfer failed midway",
			                     q->what, r->host, r->repository);
		c = attempt(r, q, url);
		if (q->sink_error == -EFBIG && q->kind == SINK_MEMORY)
			return kl_error_setf(err, EFBIG, "%s from '%s/%s': larger than %zu bytes",
			                     q->what, r->host, r->repository, q->max);
		if (q->sink_error)
			return kl_error_set(err, -q->sink_error, "%s from '%s/%s'", q->what,
			                    r->host, r->repository);
		if (q->upload_error)
			return kl_error_set(err, q->upload_error, "%s to '%s/%s': reading the body",
			                    q->what, r->host, r->repository);
		if (q->wrong_size || q->excess)
			return size_error(r, q, err);
		if (q->stalled)
			return stall_error(r, q, err);
		if (c != CURLE_OK && r->insecure && !strcmp(r->scheme, "https") &&
		    (c == CURLE_SSL_CONNECT_ERROR || c == CURLE_COULDNT_CONNECT ||
		     c == CURLE_GOT_NOTHING || c == CURLE_RECV_ERROR)) {
			kl_debug("registry %s: https failed (%s), trying plain http", r->host,
			         kl_curl()->easy_strerror(c));
			free(r->scheme);
			r->scheme = xstrdup("http");
			i--;
			continue;
		}
		if (!retryable(c, q->status) || i >= r->retries || q->no_retry)
			break;
		ret = retry_delay(r, q, delay, &wait, err);
		if (ret < 0)
			return ret;
		kl_debug("registry %s: %s: %s (HTTP %ld), retrying in %u ms", r->host, q->what,
		         c ? kl_curl()->easy_strerror(c) : "server error", q->status, wait);
		backoff(wait);
		delay *= 2;
	}
	if (c != CURLE_OK)
		return transfer_error(r, q, c, err);
	return 0;
}

void
registry_request_done(struct request *q)
{
	free(q->buf);
	free(q->content_type);
	free(q->www_authenticate);
	free(q->retry_after);
	free(q->location);
	free(q->docker_digest);
	free(q->range);
}

/* The token request for challenge c: a GET with the scope in the query and basic credentials,
 * or, with an identity token, the OAuth2 refresh-token grant POSTed as a form (distribution's
 * token spec, "oauth.md"). */
static void
token_request(struct registry *r, const struct registry_challenge *c, char **ret_url,
              char **ret_post)
{
	_cleanup_free_ char *scope = NULL, *scopes = NULL;
	char *esc_scope, *esc_extra = NULL, *esc_service, *esc_token;

	scope = c->scope ? xstrdup(c->scope) : xasprintf("repository:%s:pull", r->repository);
	esc_scope = kl_curl()->easy_escape(r->curl, scope, 0);
	/* A second scope= field, as docker asks for a mount's source repository. */
	if (r->extra_scope)
		esc_extra = kl_curl()->easy_escape(r->curl, r->extra_scope, 0);
	scopes = xasprintf("%s%s%s", esc_scope ? esc_scope : "", esc_extra ? "&scope=" : "",
	                   esc_extra ? esc_extra : "");
	esc_service = c->service ? kl_curl()->easy_escape(r->curl, c->service, 0) : NULL;
	if (r->auth.identity_token) {
		esc_token = kl_curl()->easy_escape(r->curl, r->auth.identity_token, 0);
		*ret_url = xstrdup(c->realm);
		*ret_post =
		    xasprintf("grant_type=refresh_token&client_id=kiln&refresh_token=%s"
		              "&scope=%s%s%s",
		              esc_token ? esc_token : "", scopes, esc_service ? "&service=" : "",
		              esc_service ? esc_service : "");
		kl_curl()->free(esc_token);
	} else {
		*ret_url = xasprintf(
		    "%s%sscope=%s%s%s", c->realm, strchr(c->realm, '?') ? "&" : "?", scopes,
		    esc_service ? "&service=" : "", esc_service ? esc_service : "");
		*ret_post = NULL;
	}
	kl_curl()->free(esc_scope);
	kl_curl()->free(esc_extra);
	kl_curl()->free(esc_service);
}

/* Fetches a bearer token for challenge c. */
static int
fetch_token(struct registry *r, const struct registry_challenge *c, struct kl_error **err)
{
	_cleanup_free_ char *url = NULL, *post = NULL;
	struct request q = {.what = "auth token",
	                    .server = c->realm,
	                    .kind = SINK_MEMORY,
	                    .max = REGISTRY_MAX_TOKEN_RESPONSE};
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
		ret = transfer_error(r, &q, cc, err);
	else if (q.sink_error)
		ret = kl_error_set(err, -q.sink_error, "auth token for '%s'", r->host);
	else if (q.status != 200)
		ret = kl_error_setf(err, EACCES,
		                    "auth token for '%s/%s': the token server '%s' "
		                    "answered HTTP %ld%s",
		                    r->host, r->repository, c->realm, q.status,
		                    post ? " to the identity token" : "");
	if (ret < 0) {
		registry_request_done(&q);
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
	registry_request_done(&q);
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

int
registry_send(struct registry *r, struct request *q, const char *path, struct kl_error **err)
{
	int ret;

	ret = perform(r, q, path, err);
	if (ret < 0 || q->status != 401)
		return ret;
	ret = authenticate(r, q, err);
	if (ret < 0)
		return ret;
	return perform(r, q, path, err);
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
		return kl_error_setf(
		    err, EIO, "%s from '%s/%s': HTTP %ld%s", q->what, r->host, r->repository,
		    q->status,
		    retryable(CURLE_OK, q->status) && q->attempts > 1 ? " to every attempt" : "");
	if (q->sized && q->delivered != q->size)
		return size_error(r, q, err);
	return 0;
}

/* A descriptor's size above what the caller reads: refused before anything is fetched. */
static int
check_size_limit(struct registry *r, const char *what, uint64_t size, size_t max,
                 struct kl_error **err)
{
	if (size == REGISTRY_SIZE_UNKNOWN || size <= max)
		return 0;
	return kl_error_setf(err, EFBIG,
	                     "%s from '%s/%s': its descriptor says %" PRIu64
	                     " bytes, more than the %zu kiln reads",
	                     what, r->host, r->repository, size, max);
}

int
registry_get_manifest(struct registry *r, const char *ref, uint64_t size, size_t max,
                      char **ret_buf, size_t *ret_len, char **ret_content_type,
                      struct kl_error **err)
{
	_cleanup_free_ char *what = xasprintf("manifest '%s'", ref);
	_cleanup_free_ char *path = xasprintf("%s/manifests/%s", r->repository, ref);
	struct request q = {.what = what,
	                    .accept = OCI_MANIFEST_ACCEPT,
	                    .kind = SINK_MEMORY,
	                    .max = max,
	                    .sized = size != REGISTRY_SIZE_UNKNOWN,
	                    .size = size};
	struct digest want, got;
	int ret;

	ret = check_size_limit(r, what, size, max, err);
	if (ret < 0)
		return ret;
	ret = get(r, &q, path, err);
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
	registry_request_done(&q);
	return ret;
}

int
registry_get_blob(struct registry *r, const struct digest *d, uint64_t size, size_t max,
                  char **ret_buf, size_t *ret_len, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *what = xasprintf("blob %s", digest_to_string(d, id));
	_cleanup_free_ char *path = xasprintf("%s/blobs/%s", r->repository, id);
	struct request q = {.what = what,
	                    .kind = SINK_MEMORY,
	                    .max = max,
	                    .resumable = true,
	                    .sized = size != REGISTRY_SIZE_UNKNOWN,
	                    .size = size};
	struct digest got;
	int ret;

	ret = check_size_limit(r, what, size, max, err);
	if (ret < 0)
		return ret;
	ret = get(r, &q, path, err);
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
	registry_request_done(&q);
	return ret;
}

int
registry_fetch_blob(struct registry *r, const struct digest *d, uint64_t size, struct store *s,
                    struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *what = xasprintf("blob %s", digest_to_string(d, id));
	_cleanup_free_ char *path = xasprintf("%s/blobs/%s", r->repository, id);
	struct request q = {.what = what,
	                    .kind = SINK_WRITER,
	                    .progress = r->progress ? r : NULL,
	                    .id = id,
	                    .resumable = true,
	                    .sized = size != REGISTRY_SIZE_UNKNOWN,
	                    .size = size};
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
	if (ret >= 0 && r->progress)
		r->progress(r->progress_userdata, id, q.delivered, q.delivered);
	store_writer_abort(q.w);
	registry_request_done(&q);
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
	registry_request_done(&q);
	return ret;
}
