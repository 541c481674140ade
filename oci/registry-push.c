// SPDX-License-Identifier: Apache-2.0
/* The distribution API's push side: blob HEAD, cross-repository mount, chunked upload, manifest
 * PUT. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/registry-internal.h"
#include "util/cleanup.h"
#include "util/dl-curl.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

uint64_t
registry_bytes_sent(const struct registry *r)
{
	return r->sent;
}

/* What the registry said about a failure: its first error's code and message, else its body. */
static char *
registry_says(const struct request *q)
{
	json_t *j = q->buf ? json_loadb(q->buf, q->len, 0, NULL) : NULL;
	json_t *e = j ? json_array_get(json_object_get(j, "errors"), 0) : NULL;
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	char *out;

	if (code || msg)
		out = xasprintf(": %s%s%s", code ? code : "", code && msg ? ": " : "",
		                msg ? msg : "");
	else if (q->len && q->buf)
		out = xasprintf(": %.200s", q->buf);
	else
		out = xstrdup("");
	if (j)
		json_decref(j);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

static int
status_error(struct registry *r, const struct request *q, struct kl_error **err)
{
	_cleanup_free_ char *says = registry_says(q);
	int code = q->status == 401 || q->status == 403 ? EACCES : q->status == 404 ? ENOENT : EIO;

	return kl_error_setf(err, code, "%s to '%s/%s': HTTP %ld%s", q->what, r->host,
	                     r->repository, q->status, says);
}

/* Sends q on path with a memory sink for error answers. */
static int
send_request(struct registry *r, struct request *q, const char *path, struct kl_error **err)
{
	q->kind = SINK_MEMORY;
	q->max = REGISTRY_MAX_ERROR_KEPT;
	q->keep_error = true;
	return registry_send(r, q, path, err);
}

/* 1 present, 0 absent. */
static int
blob_exists(struct registry *r, const char *id, uint64_t size, struct kl_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/blobs/%s", r->repository, id);
	_cleanup_free_ char *what = xasprintf("HEAD of blob %s", id);
	struct request q = {.what = what, .method = "HEAD"};
	curl_off_t cl = -1;
	int ret;

	ret = send_request(r, &q, path, err);
	if (ret >= 0 && q.status == 200) {
		(void)kl_curl()->easy_getinfo(r->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		ret = 1;
		if (cl >= 0 && (uint64_t)cl != size) {
			kl_debug("registry %s: blob %s is %" PRId64 " bytes there, not %" PRIu64
			         ": uploading it again",
			         r->host, id, (int64_t)cl, size);
			ret = 0;
		}
	} else if (ret >= 0 && q.status == 404) {
		ret = 0;
	} else if (ret >= 0) {
		ret = status_error(r, &q, err);
	}
	registry_request_done(&q);
	return ret;
}

/* POSTs a new upload (or a mount of id from repository from): 1 mounted, 0 with the upload
 * session's Location in *ret_location. */
static int
start_upload(struct registry *r, const char *id, const char *from, char **ret_location,
             struct kl_error **err)
{
	_cleanup_free_ char *path = NULL, *what = NULL;
	struct request q = {.method = "POST"};
	int ret;

	if (from) {
		path = xasprintf("%s/blobs/uploads/?mount=%s&from=%s", r->repository, id, from);
		what = xasprintf("mount of blob %s from '%s'", id, from);
		free(r->extra_scope);
		r->extra_scope = xasprintf("repository:%s:pull", from);
	} else {
		path = xasprintf("%s/blobs/uploads/", r->repository);
		what = xasprintf("upload of blob %s", id);
	}
	q.what = what;
	ret = send_request(r, &q, path, err);
	if (ret >= 0 && q.status == 201 && from) {
		ret = 1;
	} else if (ret >= 0 && q.status == 202 && q.location) {
		*ret_location = TAKE_PTR(q.location);
		ret = 0;
	} else if (ret >= 0 && q.status == 202) {
		ret = kl_error_setf(err, EBADMSG, "%s to '%s/%s': HTTP 202 without a Location",
		                    what, r->host, r->repository);
	} else if (ret >= 0) {
		ret = status_error(r, &q, err);
	}
	registry_request_done(&q);
	return ret;
}

/* The Range a PATCH answer gives ("0-N" or "bytes=0-N") must end at end. */
static bool
range_ends_at(const char *range, uint64_t end)
{
	const char *dash = range ? strrchr(range, '-') : NULL;
	char *tail;
	unsigned long long n;

	if (!dash)
		return true; /* not said: the PUT's digest check still guards */
	n = strtoull(dash + 1, &tail, 10);
	return *tail == '\0' && n == end;
}

/* One PATCH of bytes [off, off+n) of fd; *location moves to the answer's. */
static int
patch_chunk(struct registry *r, const char *id, char **location, int fd, uint64_t off, uint64_t n,
            struct kl_error **err)
{
	_cleanup_free_ char *what = xasprintf("upload of blob %s", id);
	_cleanup_free_ char *range = xasprintf("%" PRIu64 "-%" PRIu64, off, off + n - 1);
	struct request q = {.what = what,
	                    .method = "PATCH",
	                    .no_retry = true,
	                    .upload = true,
	                    .upload_fd = fd,
	                    .upload_off = off,
	                    .upload_len = n,
	                    .upload_type = "application/octet-stream",
	                    .content_range = range};
	int ret;

	ret = send_request(r, &q, *location, err);
	if (ret >= 0 && q.status != 202)
		ret = status_error(r, &q, err);
	else if (ret >= 0 && !range_ends_at(q.range, off + n - 1))
		ret = kl_error_setf(
		    err, EIO, "%s to '%s/%s': the registry has bytes up to '%s', not %" PRIu64,
		    what, r->host, r->repository, q.range, off + n - 1);
	if (ret >= 0 && q.location) {
		free(*location);
		*location = TAKE_PTR(q.location);
	}
	registry_request_done(&q);
	return ret;
}

/* The PUT that ends an upload: ?digest=, no body. */
static int
finish_upload(struct registry *r, const char *id, const char *location, struct kl_error **err)
{
	_cleanup_free_ char *what = xasprintf("upload of blob %s", id);
	_cleanup_free_ char *url =
	    xasprintf("%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?", id);
	struct request q = {.what = what, .method = "PUT"};
	int ret;

	ret = send_request(r, &q, url, err);
	if (ret >= 0 && q.status != 201 && q.status != 204)
		ret = status_error(r, &q, err);
	else if (ret >= 0 && q.docker_digest && strcmp(q.docker_digest, id))
		ret = kl_error_setf(err, EBADMSG, "%s to '%s/%s': the registry stored it as %s",
		                    what, r->host, r->repository, q.docker_digest);
	registry_request_done(&q);
	return ret;
}

static int
upload(struct registry *r, const char *id, uint64_t size, uint64_t chunk, char **location,
       registry_open_fn open_fn, void *userdata, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	int ret = 0;

	if (size) {
		fd = open_fn(userdata, err);
		if (fd < 0)
			return fd;
	}
	for (uint64_t off = 0; off < size && ret >= 0;) {
		uint64_t n = size - off < chunk ? size - off : chunk;

		ret = patch_chunk(r, id, location, fd, off, n, err);
		off += n;
	}
	if (ret >= 0)
		ret = finish_upload(r, id, *location, err);
	return ret;
}

int
registry_push_blob(struct registry *r, const struct digest *d, uint64_t size,
                   const char *mount_from, uint64_t chunk, registry_open_fn open_fn, void *userdata,
                   struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *location = NULL;
	int ret;

	digest_to_string(d, id);
	if (!chunk)
		chunk = REGISTRY_DEFAULT_CHUNK;
	ret = blob_exists(r, id, size, err);
	if (ret != 0)
		return ret < 0 ? ret : REGISTRY_BLOB_PRESENT;
	if (mount_from && strcmp(mount_from, r->repository)) {
		ret = start_upload(r, id, mount_from, &location, err);
		free(r->extra_scope);
		r->extra_scope = NULL;
		if (ret < 0)
			return ret;
		if (ret == 1)
			return REGISTRY_BLOB_MOUNTED;
		kl_debug("registry %s: blob %s not mounted from '%s': uploading it", r->host, id,
		         mount_from);
	} else {
		ret = start_upload(r, id, NULL, &location, err);
		if (ret < 0)
			return ret;
	}
	ret = upload(r, id, size, chunk, &location, open_fn, userdata, err);
	return ret < 0 ? ret : REGISTRY_BLOB_UPLOADED;
}

int
registry_put_manifest(struct registry *r, const char *ref, const char *media_type, const char *buf,
                      size_t len, struct kl_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/manifests/%s", r->repository, ref);
	_cleanup_free_ char *what = xasprintf("manifest '%s'", ref);
	struct request q = {.what = what,
	                    .method = "PUT",
	                    .upload = true,
	                    .upload_buf = buf,
	                    .upload_len = len,
	                    .upload_type = media_type};
	char id[DIGEST_STRING_SIZE];
	struct digest want;
	int ret;

	digest_buffer(buf, len, &want);
	digest_to_string(&want, id);
	ret = send_request(r, &q, path, err);
	if (ret >= 0 && q.status != 201 && q.status != 200 && q.status != 204)
		ret = status_error(r, &q, err);
	else if (ret >= 0 && q.docker_digest && strcmp(q.docker_digest, id))
		ret = kl_error_setf(err, EBADMSG, "%s to '%s/%s': the registry stored %s, not %s",
		                    what, r->host, r->repository, q.docker_digest, id);
	registry_request_done(&q);
	return ret;
}
