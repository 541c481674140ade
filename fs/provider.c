// SPDX-License-Identifier: Apache-2.0
/* Resolving a file's content: the store first, then the provider its locator's scheme names. */
#include "fs/provider.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/singleflight.h"
#include "fs/store.h"
#include "fs/uring.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define MAX_PROVIDERS 16

struct provider {
	const struct provider_ops *ops;
	void *data;
};

struct provider_set {
	struct store *store;
	struct provider providers[MAX_PROVIDERS];
	size_t n_providers;
	/* one hash of a store blob among the callers that open it at once (a read and the
	 * lazy filesystem's warming, say), keyed by its digest */
	struct singleflight *verifies;
	_Atomic uint64_t verified, trusted, fetched, failed, bytes;
};

struct provider_set *
provider_set_new(struct store *s)
{
	struct provider_set *ps = xcalloc(1, sizeof(*ps));

	ps->store = store_ref(s);
	ps->verifies = singleflight_new();
	provider_set_add(ps, &provider_store_ops, NULL);
	return ps;
}

struct provider_set *
provider_set_new_default(struct store *s, const char *local_root)
{
	struct provider_set *ps = provider_set_new(s);

	provider_set_add(ps, &provider_local_ops, provider_local_data_new(local_root));
	return ps;
}

struct provider_set *
provider_set_free(struct provider_set *ps)
{
	if (!ps)
		return NULL;
	for (size_t i = 0; i < ps->n_providers; i++)
		if (ps->providers[i].ops->free)
			ps->providers[i].ops->free(ps->providers[i].data);
	singleflight_free(ps->verifies);
	store_unref(ps->store);
	free(ps);
	return NULL;
}

void
provider_set_add(struct provider_set *ps, const struct provider_ops *ops, void *data)
{
	struct provider *p = NULL;

	for (size_t i = 0; i < ps->n_providers; i++)
		if (strcmp(ps->providers[i].ops->scheme, ops->scheme) == 0)
			p = &ps->providers[i];
	if (p && p->ops->free)
		p->ops->free(p->data);
	if (!p) {
		if (ps->n_providers == MAX_PROVIDERS)
			abort(); /* a programming error: providers are a short fixed list */
		p = &ps->providers[ps->n_providers++];
	}
	p->ops = ops;
	p->data = data;
}

static const struct provider *
find_provider(const struct provider_set *ps, const char *locator, size_t len)
{
	const char *colon = memchr(locator, ':', len);

	if (!colon)
		return NULL;
	for (size_t i = 0; i < ps->n_providers; i++) {
		const char *scheme = ps->providers[i].ops->scheme;
		if (strlen(scheme) == (size_t)(colon - locator) &&
		    memcmp(scheme, locator, (size_t)(colon - locator)) == 0)
			return &ps->providers[i];
	}
	return NULL;
}

static const char *
shown(const struct provider_request *req)
{
	return req->path ? req->path : "(unnamed)";
}

/* Picks the provider for req: the store when its blob is there, else the locator's. On success
 * *ret_src is open when the provider is fd-backed (src->fd >= 0). */
static int
resolve(struct provider_set *ps, const struct provider_request *req, const struct provider **ret,
        struct provider_source *ret_src, struct kl_error **err)
{
	const struct provider *p;
	int r;

	ret_src->fd = -1;
	if (req->digest) {
		r = provider_store_ops.open(NULL, ps->store, req, ret_src, err);
		if (r != -ENOENT) {
			*ret = &ps->providers[0];
			return r;
		}
	}
	if (req->store_only)
		return -ENOENT;
	if (!req->locator)
		return req->digest ? kl_error_setf(err, ENOENT,
		                                   "content of '%s' is not in the store "
		                                   "and has no locator",
		                                   shown(req))
		                   : kl_error_setf(err, ENOENT, "'%s' has no content", shown(req));
	p = find_provider(ps, req->locator, req->locator_len);
	if (!p)
		return kl_error_setf(
		    err, ENOTSUP, "no provider for the locator of '%s' ('%.*s')", shown(req),
		    (int)(req->locator_len > 64 ? 64 : req->locator_len), req->locator);
	*ret = p;
	if (!p->ops->open)
		return 0;
	return p->ops->open(p->data, ps->store, req, ret_src, err);
}

static int
hash_chunk(void *userdata, const void *buf, size_t n)
{
	digest_ctx_update(userdata, buf, n);
	return 0;
}

static int
writer_chunk(void *userdata, const void *buf, size_t n)
{
	store_writer_hash(userdata, buf, n);
	return 0;
}

/* After hashing store blob src: a good one is trusted from now on, a corrupt one loses its
 * record. */
static int
verify_result(struct provider_set *ps, const struct provider_request *req,
              const struct provider_source *src, const struct digest *got, struct kl_error **err)
{
	char want_s[DIGEST_STRING_SIZE], got_s[DIGEST_STRING_SIZE];

	if (!digest_equal(got, req->digest)) {
		store_blob_distrust(ps->store, req->digest);
		return kl_error_setf(err, EBADMSG,
		                     "blob %s in the store is corrupt (its bytes hash to %s), "
		                     "needed by '%s'",
		                     digest_to_string(req->digest, want_s),
		                     digest_to_string(got, got_s), shown(req));
	}
	store_blob_trust(ps->store, req->digest, &src->st);
	atomic_fetch_add(&ps->verified, 1);
	return 0;
}

/* Blobs up to this size are hashed from one pread: for a small file the ring's submission and
 * completion cost more than the read. */
#define SMALL_BLOB (64u << 10)

/* Hashes the first size bytes at fd into got: -errno, -ENODATA when it is shorter. */
static int
hash_small(int fd, uint64_t size, struct digest *got)
{
	_cleanup_free_ char *buf = xmalloc(size ? size : 1);
	ssize_t n = kl_io_pread_full(fd, buf, size, 0);

	if (n < 0)
		return (int)n;
	if ((uint64_t)n < size)
		return -ENODATA;
	digest_buffer(buf, size, got);
	return 0;
}

/* Hashes a store blob and compares it with the digest that names it. */
static int
verify_blob(struct provider_set *ps, struct uring *u, const struct provider_request *req,
            const struct provider_source *src, struct kl_error **err)
{
	char want_s[DIGEST_STRING_SIZE];
	struct digest got;
	int r;

	if (src->size <= SMALL_BLOB) {
		r = hash_small(src->fd, src->size, &got);
	} else {
		struct digest_ctx *ctx = digest_ctx_new();

		r = uring_stream(u, src->fd, -1, src->size, hash_chunk, ctx);
		digest_ctx_final(ctx, &got);
		digest_ctx_free(ctx);
	}
	atomic_fetch_add(&ps->bytes, src->size);
	if (r < 0)
		return kl_error_set(err, -r, "reading blob %s for '%s'",
		                    digest_to_string(req->digest, want_s), shown(req));
	return verify_result(ps, req, src, &got, err);
}

struct verify {
	struct provider_set *ps;
	struct uring *u;
	const struct provider_request *req;
	const struct provider_source *src;
};

static int
verify_flight(void *userdata, void *ret_value, struct kl_error **err)
{
	struct verify *v = userdata;

	(void)ret_value;
	/* a flight that ended just before this one began may have trusted it */
	if (store_blob_trusted(v->ps->store, v->req->digest, &v->src->st))
		return 0;
	return verify_blob(v->ps, v->u, v->req, v->src, err);
}

/* Streams an fd-backed source into a new writer (not yet committed). */
static int
copy_source(struct provider_set *ps, struct uring *u, const struct provider *p,
            const struct provider_request *req, const struct provider_source *src,
            struct store_writer **ret, struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *w = NULL;
	int r;

	r = store_writer_begin(ps->store, &w, err);
	if (r < 0)
		return r;
	r = uring_stream(u, src->fd, store_writer_fd(w), src->size, writer_chunk, w);
	atomic_fetch_add(&ps->bytes, src->size);
	if (r == -ENODATA)
		return kl_error_setf(err, EIO, "'%s' is shorter than when it was scanned",
		                     shown(req));
	if (r < 0)
		return kl_error_set(err, -r, "fetching '%s'", shown(req));
	if (p->ops->check) {
		r = p->ops->check(p->data, req, src, err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(w);
	return 0;
}

static int
fetch_generic(struct provider_set *ps, const struct provider *p, const struct provider_request *req,
              struct store_writer **ret, struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *w = NULL;
	int r;

	r = store_writer_begin(ps->store, &w, err);
	if (r < 0)
		return r;
	r = p->ops->fetch(p->data, req, w, err);
	if (r < 0)
		return r;
	atomic_fetch_add(&ps->bytes, store_writer_size(w));
	*ret = TAKE_PTR(w);
	return 0;
}

static int
commit_fetched(struct provider_set *ps, const struct provider_request *req, struct store_writer *w,
               struct digest *ret, struct kl_error **err)
{
	uint64_t size = store_writer_size(w);

	if (size != req->size) {
		store_writer_abort(w);
		return kl_error_setf(err, EIO, "'%s' has %s bytes than expected", shown(req),
		                     size < req->size ? "fewer" : "more");
	}
	int r = store_writer_commit(w, req->digest, ret, err);

	if (r < 0) {
		kl_error_prefix(err, "fetching '%s'", shown(req));
		return r;
	}
	atomic_fetch_add(&ps->fetched, 1);
	return 0;
}

static int
open_content(struct provider_set *ps, struct uring *u, const struct provider_request *req,
             struct digest *ret_digest, struct kl_error **err)
{
	struct provider_source src = {.fd = -1};
	struct store_writer *w = NULL;
	const struct provider *p;
	_cleanup_close_ int fd = -1;
	struct digest d;
	int r;

	r = resolve(ps, req, &p, &src, err);
	fd = src.fd;
	if (r < 0)
		return r;
	if (src.in_store && src.trusted)
		atomic_fetch_add(&ps->trusted, 1);
	if (src.in_store) {
		struct verify v = {.ps = ps, .u = u, .req = req, .src = &src};

		r = src.trusted ? 0
		                : singleflight_do(ps->verifies, req->digest, verify_flight, &v,
		                                  NULL, 0, NULL, err);
		if (r < 0)
			return r;
		*ret_digest = *req->digest;
		return TAKE_FD(fd);
	}
	r = fd >= 0 ? copy_source(ps, u, p, req, &src, &w, err)
	            : fetch_generic(ps, p, req, &w, err);
	if (r < 0)
		return r;
	r = commit_fetched(ps, req, w, &d, err);
	if (r < 0)
		return r;
	r = store_open_blob(ps->store, &d, err);
	if (r < 0)
		return r == -ENOENT
		           ? kl_error_setf(err, EIO, "blob of '%s' vanished from the store",
		                           shown(req))
		           : r;
	*ret_digest = d;
	return r;
}

/* A "sha256:<hex>" locator names a store blob: it becomes the request's digest. */
static const struct provider_request *
normalize(const struct provider_request *req, struct provider_request *copy, struct digest *d)
{
	if (req->digest || !req->locator || req->locator_len < 7 ||
	    memcmp(req->locator, "sha256:", 7) != 0 ||
	    digest_parse(req->locator, req->locator_len, d, NULL) < 0)
		return req;
	*copy = *req;
	copy->digest = d;
	copy->locator = NULL;
	copy->locator_len = 0;
	return copy;
}

int
provider_set_open(struct provider_set *ps, struct uring *u, const struct provider_request *req,
                  struct digest *ret_digest, struct kl_error **err)
{
	struct provider_request copy;
	char d_s[DIGEST_STRING_SIZE];
	struct digest d;
	int r;

	req = normalize(req, &copy, &d);
	r = open_content(ps, u, req, ret_digest, err);
	if (r == -ENOENT && req->store_only)
		return r; /* an answer: not in the store */
	if (r < 0) {
		atomic_fetch_add(&ps->failed, 1);
		return r;
	}
	kl_debug("content of '%s' ready as %s", shown(req), digest_to_string(ret_digest, d_s));
	return r;
}

struct batch_item {
	const struct provider *p;
	struct provider_source src;
	struct store_writer *w;
	struct digest_ctx *ctx; /* verifying a store blob */
	struct kl_error *err;
};

/* Resolves one request of a batch and describes its I/O as a job (size 0 when none is left). */
static int
batch_prepare(struct provider_set *ps, const struct provider_request *req, struct batch_item *it,
              struct uring_job *job)
{
	int r;

	*job = (struct uring_job){.src_fd = -1, .dst_fd = -1};
	r = resolve(ps, req, &it->p, &it->src, &it->err);
	if (r < 0)
		return r;
	if (it->src.in_store && it->src.trusted)
		return 0; /* nothing to read */
	if (it->src.in_store) {
		it->ctx = digest_ctx_new();
		*job = (struct uring_job){.src_fd = it->src.fd,
		                          .dst_fd = -1,
		                          .size = it->src.size,
		                          .fn = hash_chunk,
		                          .userdata = it->ctx};
		return 0;
	}
	if (it->src.fd < 0)
		return fetch_generic(ps, it->p, req, &it->w, &it->err);
	r = store_writer_begin(ps->store, &it->w, &it->err);
	if (r < 0)
		return r;
	*job = (struct uring_job){.src_fd = it->src.fd,
	                          .dst_fd = store_writer_fd(it->w),
	                          .size = it->src.size,
	                          .fn = writer_chunk,
	                          .userdata = it->w};
	return 0;
}

/* Checks and commits one request of a batch once its job ran. */
static int
batch_finish(struct provider_set *ps, struct store_batch *b, const struct provider_request *req,
             struct batch_item *it, const struct uring_job *job, struct digest *ret)
{
	struct store_writer *w = TAKE_PTR(it->w);
	uint64_t size;
	int r;

	atomic_fetch_add(&ps->bytes, job->size);
	if (job->result < 0) {
		store_writer_abort(w);
		return job->result == -ENODATA
		           ? kl_error_setf(&it->err, EIO, "'%s' is shorter than expected",
		                           shown(req))
		           : kl_error_set(&it->err, -job->result, "fetching '%s'", shown(req));
	}
	if (it->src.in_store && it->src.trusted) {
		*ret = *req->digest;
		atomic_fetch_add(&ps->trusted, 1);
		return 0;
	}
	if (it->ctx) {
		digest_ctx_final(it->ctx, ret);
		return verify_result(ps, req, &it->src, ret, &it->err);
	}
	if (it->src.fd >= 0 && it->p->ops->check) {
		r = it->p->ops->check(it->p->data, req, &it->src, &it->err);
		if (r < 0) {
			store_writer_abort(w);
			return r;
		}
	}
	size = store_writer_size(w);
	if (size != req->size) {
		store_writer_abort(w);
		return kl_error_setf(&it->err, EIO, "'%s' has %s bytes than expected", shown(req),
		                     size < req->size ? "fewer" : "more");
	}
	r = store_writer_commit_batch(w, b, req->digest, ret, &it->err);
	if (r < 0) {
		kl_error_prefix(&it->err, "fetching '%s'", shown(req));
		return r;
	}
	atomic_fetch_add(&ps->fetched, 1);
	return 0;
}

int
provider_set_fetch_batch(struct provider_set *ps, struct uring *u,
                         const struct provider_request *reqs, size_t n, int *results,
                         struct digest *digests, struct kl_error **err)
{
	_cleanup_(store_batch_freep) struct store_batch *b = store_batch_new(ps->store);
	_cleanup_free_ struct batch_item *items = xcalloc(n ? n : 1, sizeof(*items));
	_cleanup_free_ struct uring_job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	_cleanup_free_ struct provider_request *norm = xcalloc(n ? n : 1, sizeof(*norm));
	_cleanup_free_ struct digest *norm_d = xcalloc(n ? n : 1, sizeof(*norm_d));
	struct digest d;
	int r, first = 0;

	for (size_t i = 0; i < n; i++) {
		const struct provider_request *req = normalize(&reqs[i], &norm[i], &norm_d[i]);

		if (req != &norm[i])
			norm[i] = *req;
		items[i].src.fd = -1;
		results[i] = batch_prepare(ps, &norm[i], &items[i], &jobs[i]);
	}
	r = uring_run(u, jobs, n);
	for (size_t i = 0; i < n; i++) {
		if (results[i] >= 0)
			results[i] = batch_finish(ps, b, &norm[i], &items[i], &jobs[i], &d);
		if (results[i] >= 0 && digests)
			digests[i] = d;
		if (results[i] < 0)
			atomic_fetch_add(&ps->failed, 1);
		if (results[i] < 0 && !first) {
			first = results[i];
			if (err && !*err)
				*err = TAKE_PTR(items[i].err);
		}
		kl_error_free(items[i].err);
		store_writer_abort(items[i].w);
		if (items[i].ctx)
			digest_ctx_free(items[i].ctx);
		if (items[i].src.fd >= 0)
			(void)close(items[i].src.fd);
	}
	if (r < 0 && !first)
		first = kl_error_set(err, -r, "running a batch of fetches");
	/* Whatever succeeded becomes visible even when other requests failed. */
	r = store_batch_commit(b, first ? NULL : err);
	if (r < 0 && !first) {
		first = r;
		for (size_t i = 0; i < n; i++)
			if (results[i] >= 0)
				results[i] = r;
	}
	return first;
}

void
provider_set_get_stats(struct provider_set *ps, struct provider_stats *ret)
{
	ret->verified = atomic_load(&ps->verified);
	ret->trusted = atomic_load(&ps->trusted);
	ret->fetched = atomic_load(&ps->fetched);
	ret->failed = atomic_load(&ps->failed);
	ret->bytes = atomic_load(&ps->bytes);
}
