/* registry-internal — the client's state and one request, shared by the pull side
 * (registry.c) and the push side (registry-push.c). Only oci/registry*.c include it. */
#pragma once
#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "oci/registry.h"

struct store_writer;

#define REGISTRY_MAX_ERROR_KEPT 4096u /* bytes of an error answer a push quotes from */

struct registry {
	CURLM *multi; /* runs each transfer, so that a silence is measured to the ms */
	CURL *curl;
	char *host, *repository, *scheme;
	bool insecure;    /* may fall back to plain HTTP */
	char *auth_file;  /* a Docker config.json, or NULL */
	bool auth_loaded; /* auth holds what auth_file gives (read at the first 401) */
	struct registry_auth
	    auth;            /* basic, identity token (a helper's answer, when it names one) */
	char *authorization; /* the Authorization header value in use, or NULL */
	unsigned retries, backoff_ms, helper_timeout_ms;
	unsigned timeout_ms; /* silence after which a request gives up */
	registry_progress_fn progress;
	void *progress_userdata;
	uint64_t sent;     /* request body bytes sent (pushes) */
	char *extra_scope; /* also asked of a token server (a mount's source), or NULL */
	char errbuf[CURL_ERROR_SIZE];
};

/* Where a response body goes. */
enum sink_kind { SINK_MEMORY, SINK_WRITER, SINK_CALLBACK };

struct request {
	const char *what;   /* for messages: "manifest latest", "blob sha256:…" */
	const char *server; /* for messages: who answers; NULL: the registry */
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
	const struct registry *progress; /* counts delivered bytes under id (a blob fetch) */
	const char *id;
	bool resumable; /* a retry asks only for what is missing */
	bool sized;     /* the whole body's length is known: size (a descriptor's) */
	uint64_t size;
	uint64_t delivered; /* body bytes handed to the sink over all attempts */
	uint64_t excess;    /* body bytes past size: counted, never sunk */
	uint64_t announced; /* with wrong_size and no excess: the length the headers gave */
	bool wrong_size;    /* the body is known not to be size bytes long: stop */
	uint64_t skip;      /* bytes to drop (a 200 answer to a range request) */
	CURL *curl;
	int sink_error; /* -errno a sink failed with */
	unsigned attempts;
	/* The current attempt: */
	bool body_started;   /* its response's body has begun */
	bool stopped;        /* we ended it on purpose, with what we need: not a failure */
	bool stalled;        /* it met the timeout's silence */
	int64_t last_ms;     /* when it last received a byte (or began) */
	uint64_t got;        /* bytes it received, headers included */
	uint64_t error_body; /* bytes of an error answer's body it dropped */
	long status;
	char *content_type, *www_authenticate, *retry_after;
	char *location, *docker_digest, *range; /* Location, Docker-Content-Digest, Range */
	/* What a push sends (registry-push.c); all unset for the GETs: */
	const char *method;     /* "HEAD", "POST", "PUT", "PATCH"; NULL: GET (POST with post) */
	bool no_retry;          /* not idempotent (a chunk PATCH): one attempt */
	bool keep_error;        /* SINK_MEMORY: keep an error answer's first bytes in buf */
	bool upload;            /* send a body of upload_len bytes: … */
	const char *upload_buf; /* … from memory, or … */
	int upload_fd;          /* … from upload_fd at upload_off */
	uint64_t upload_off, upload_len, upload_sent;
	const char *upload_type;   /* its Content-Type */
	const char *content_range; /* a Content-Range header value, or NULL */
	int upload_error;          /* errno of a failed read of the body */
};

/* Performs q on /v2/<path> (or on path itself when it is an absolute URL or starts with "/",
 * as upload Locations are), with retries (unless q->no_retry) and one auth negotiation on a
 * 401 — also when a token is held already: a push needs more scope than the pull it got. Leaves
 * q->status set; a status is not an error here. */
int registry_send(struct registry *r, struct request *q, const char *path, struct kl_error **err);
/* Frees what q holds (body, captured headers). */
void registry_request_done(struct request *q);
