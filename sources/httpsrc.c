// SPDX-License-Identifier: Apache-2.0
/* The http source: a download streamed into the store with libcurl, hashed on the way, then a
 * tree of one file. */
#include "sources/httpsrc.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "util/cleanup.h"
#include "util/dl-curl.h"
#include "util/error.h"
#include "util/xalloc.h"

#define MAX_REDIRECTS 10L

struct download {
	const struct httpsrc_options *o;
	struct store_writer *w;
	struct kl_error *write_err; /* what made the write callback stop */
	char errbuf[CURL_ERROR_SIZE];
};

static size_t
on_data(char *p, size_t size, size_t n, void *userdata)
{
	struct download *d = userdata;

	if (store_writer_write(d->w, p, size * n, &d->write_err) < 0)
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	return size * n;
}

static int
on_progress(void *userdata, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
	struct download *d = userdata;
	struct pollfd p = {.fd = d->o->cancel_fd, .events = POLLIN};

	(void)ut;
	(void)un;
	if (d->o->cancel_fd >= 0 && poll(&p, 1, 0) > 0)
		return 1; /* CURLE_ABORTED_BY_CALLBACK */
	if (d->o->progress && now > 0)
		d->o->progress(d->o->progress_userdata, (uint64_t)now, (uint64_t)total);
	return 0;
}

static int
error_from_curl(struct download *d, CURLcode c, struct kl_error **err)
{
	int code = c == CURLE_OPERATION_TIMEDOUT     ? ETIMEDOUT
	           : c == CURLE_COULDNT_CONNECT      ? ECONNREFUSED
	           : c == CURLE_COULDNT_RESOLVE_HOST ? EHOSTUNREACH
	           : c == CURLE_UNSUPPORTED_PROTOCOL ? EPROTONOSUPPORT
	                                             : EIO;

	if (c == CURLE_ABORTED_BY_CALLBACK)
		return -ECANCELED;
	if (c == CURLE_WRITE_ERROR && d->write_err)
		return kl_error_setf(err, d->write_err->code, "%s", d->write_err->msg);
	return kl_error_setf(err, code, "%s",
	                     d->errbuf[0] ? d->errbuf : kl_curl()->easy_strerror(c));
}

/* The file name a download of url gets without an explicit one (a new string). */
static char *
httpsrc_filename(const char *url)
{
	size_t end = strcspn(url, "?#"), start;
	const char *scheme = strstr(url, "://");
	size_t host_end = scheme ? (size_t)(scheme - url) + 3 : 0;

	host_end += strcspn(url + host_end, "/?#");
	while (end > host_end && url[end - 1] == '/')
		end--;
	start = end;
	while (start > host_end && url[start - 1] != '/')
		start--;
	if (start == end || (end - start == 1 && url[start] == '.') ||
	    (end - start == 2 && !strncmp(url + start, "..", 2)))
		return xstrdup("index");
	return xstrndup(url + start, end - start);
}

static int
transfer(struct download *d, long *ret_status, int64_t *ret_mtime, struct kl_error **err)
{
	CURL *c = kl_curl()->easy_init();
	long filetime = -1;
	CURLcode cc;

	if (!c)
		return kl_error_setf(err, ENOMEM, "creating a libcurl handle");
	kl_curl()->easy_setopt(c, CURLOPT_URL, d->o->url);
	kl_curl()->easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	kl_curl()->easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	kl_curl()->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	kl_curl()->easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	kl_curl()->easy_setopt(c, CURLOPT_FILETIME, 1L);
	kl_curl()->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	kl_curl()->easy_setopt(c, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	kl_curl()->easy_setopt(c, CURLOPT_ERRORBUFFER, d->errbuf);
	kl_curl()->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	kl_curl()->easy_setopt(c, CURLOPT_WRITEDATA, d);
	kl_curl()->easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	kl_curl()->easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	kl_curl()->easy_setopt(c, CURLOPT_XFERINFODATA, d);
	kl_curl()->easy_setopt(c, CURLOPT_FAILONERROR, 0L);
	cc = kl_curl()->easy_perform(c);
	kl_curl()->easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
	kl_curl()->easy_getinfo(c, CURLINFO_FILETIME, &filetime);
	kl_curl()->easy_cleanup(c);
	*ret_mtime = filetime > 0 ? filetime : 0;
	return cc == CURLE_OK ? 0 : error_from_curl(d, cc, err);
}

static int
write_tree(struct store *s, const struct httpsrc_options *o, const struct digest *content,
           uint64_t size, int64_t mtime, struct digest *ret, struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = tree_builder_new();
	_cleanup_free_ char *name = o->filename ? xstrdup(o->filename) : httpsrc_filename(o->url);
	struct tree_entry root = {.path = "", .type = TREE_DIR, .mode = 0755};
	struct tree_entry e = {
	    .path = name,
	    .path_len = strlen(name),
	    .type = TREE_REG,
	    .flags = TREE_ENTRY_HAS_DIGEST,
	    .mode = o->mode ? o->mode : 0600,
	    .uid = o->uid,
	    .gid = o->gid,
	    .mtime_sec = mtime,
	    .size = size,
	    .digest = *content,
	};
	int r;

	r = tree_builder_add(b, &root, NULL, 0, err);
	if (r >= 0)
		r = tree_builder_add(b, &e, NULL, 0, err);
	if (r >= 0)
		r = tree_builder_write(b, s, ret, err);
	return r;
}

int
httpsrc_fetch(struct store *s, const struct httpsrc_options *o, struct digest *ret_tree,
              struct digest *ret_content, struct kl_error **err)
{
	struct download d = {.o = o};
	struct digest content;
	long status = 0;
	int64_t mtime = 0;
	uint64_t size;
	int r;

	r = kl_curl_load(err);
	if (r < 0)
		return r;
	if (kl_curl()->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return kl_error_setf(err, EIO, "initializing libcurl");
	r = store_writer_begin(s, &d.w, err);
	if (r < 0)
		return r;
	r = transfer(&d, &status, &mtime, err);
	if (r >= 0 && status >= 400)
		r = kl_error_setf(err,
		                  status == 404                    ? ENOENT
		                  : status == 401 || status == 403 ? EACCES
		                                                   : EIO,
		                  "HTTP status %ld", status);
	size = store_writer_size(d.w);
	if (r >= 0)
		r = store_writer_commit(TAKE_PTR(d.w), o->checksum, &content, err);
	store_writer_abort(d.w);
	kl_error_free(d.write_err);
	if (r >= 0)
		r = write_tree(s, o, &content, size, mtime, ret_tree, err);
	if (r < 0) {
		if (r != -ECANCELED)
			kl_error_prefix(err, "downloading '%s'", o->url);
		return r;
	}
	*ret_content = content;
	return 0;
}
