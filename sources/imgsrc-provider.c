// SPDX-License-Identifier: Apache-2.0
/* The "layer" content provider: range-reads one file's zstd frames (zstd:chunked) or gzip
 * members (eStargz) from the store, an image layout or the registry the layer came from, and
 * decompresses them into the store. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "oci/layout.h"
#include "oci/registry.h"
#include "sources/imgsrc-internal.h"
#include "sources/imgsrc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

struct provider_data {
	struct store *store;
	char *auth_file; /* a Docker config.json for registry reads, or NULL */
};

/* One file's decoder: zstd frames or gzip members, writing at most want bytes (an eStargz
 * member runs on into the tar padding and the next headers: that tail is dropped). */
struct unzstd {
	bool gz;
	ZSTD_DStream *z;
	z_stream zs;
	bool zs_end;
	struct store_writer *w;
	uint64_t want, got;
	char *out;
	size_t out_size;
	int error;
	size_t zerr;
	int gzerr;
};

static int
gunzip_feed(struct unzstd *u, const void *buf, size_t n)
{
	u->zs.next_in = (Bytef *)buf;
	u->zs.avail_in = (uInt)n;
	while (u->zs.avail_in && u->got < u->want) {
		uint64_t left = u->want - u->got;
		size_t room = left < u->out_size ? (size_t)left : u->out_size;
		int zr, w;

		if (u->zs_end) {
			inflateReset(&u->zs); /* a file split into chunks: one member per chunk */
			u->zs_end = false;
		}
		u->zs.next_out = (Bytef *)u->out;
		u->zs.avail_out = (uInt)room;
		zr = inflate(&u->zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			u->zs_end = true;
		else if (zr != Z_OK && !(zr == Z_BUF_ERROR && !u->zs.avail_in)) {
			u->gzerr = zr;
			return -EBADMSG;
		}
		u->got += room - u->zs.avail_out;
		w = store_writer_write(u->w, u->out, room - u->zs.avail_out, NULL);
		if (w < 0)
			return w;
	}
	return 0;
}

static int
unzstd_feed(const void *buf, size_t n, void *userdata)
{
	struct unzstd *u = userdata;
	ZSTD_inBuffer in = {buf, n, 0};

	if (u->gz)
		return gunzip_feed(u, buf, n);
	while (in.pos < in.size) {
		ZSTD_outBuffer out = {u->out, u->out_size, 0};
		size_t r = ZSTD_decompressStream(u->z, &out, &in);
		int w;

		if (ZSTD_isError(r)) {
			u->zerr = r;
			return -EBADMSG;
		}
		if (u->got + out.pos > u->want)
			return -EFBIG;
		u->got += out.pos;
		w = store_writer_write(u->w, u->out, out.pos, NULL);
		if (w < 0)
			return w;
	}
	return 0;
}

/* Parses "layer:<hex>:<off>:<len>" (zstd) or "layer:<hex>:gz:<off>:<len>" (eStargz). */
static int
parse_locator(const struct provider_request *req, struct digest *ret_blob, bool *ret_gz,
              uint64_t *ret_off, uint64_t *ret_len)
{
	_cleanup_free_ char *s = xstrndup(req->locator, req->locator_len);
	_cleanup_free_ char *d = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	unsigned long long off, len;
	bool gz = false;
	int n = 0;

	if (sscanf(s, "layer:%64[0-9a-f]:gz:%llu:%llu%n", hex, &off, &len, &n) == 3 && !s[n])
		gz = true;
	else if (n = 0,
	         sscanf(s, "layer:%64[0-9a-f]:%llu:%llu%n", hex, &off, &len, &n) != 3 || s[n])
		return -EINVAL;
	if (strlen(hex) != DIGEST_HEX_LEN || len == 0 || off > UINT64_MAX - len)
		return -EINVAL;
	d = xasprintf("sha256:%s", hex);
	if (digest_parse(d, strlen(d), ret_blob, NULL) < 0)
		return -EINVAL;
	*ret_gz = gz;
	*ret_off = off;
	*ret_len = len;
	return 0;
}

/* Reads [off, off+len) of a local file (a store blob or a layout blob) into fn. */
static int
read_local_range(int fd, uint64_t off, uint64_t len, registry_data_fn fn, void *userdata)
{
	_cleanup_free_ char *buf = xmalloc(1u << 16);

	while (len) {
		size_t want = len < (1u << 16) ? (size_t)len : (1u << 16);
		ssize_t n = kl_io_pread_full(fd, buf, want, (off_t)off);
		int r;

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		r = fn(buf, (size_t)n, userdata);
		if (r < 0)
			return r;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Fetches the range from where the blob came from: the store when the whole blob is there,
 * else the origin recorded at resolve time ("oci-layout DIR" or "SCHEME HOST REPOSITORY"). */
static int
fetch_range(struct provider_data *pd, const struct digest *blob, uint64_t off, uint64_t len,
            struct unzstd *u, struct kl_error **err)
{
	_cleanup_free_ char *origin = NULL;
	_cleanup_(registry_freep) struct registry *reg = NULL;
	char id[DIGEST_STRING_SIZE];
	char scheme[16], host[1024], *repo;
	_cleanup_close_ int fd = store_open_blob(pd->store, blob, NULL);
	int r;

	if (fd >= 0)
		return read_local_range(fd, off, len, unzstd_feed, u);
	if (imgsrc_record_read(pd->store, "origins", blob, &origin) < 0)
		return kl_error_setf(err, ENOENT, "layer %s: no record of where it came from",
		                     digest_to_string(blob, id));
	if (!strncmp(origin, "oci-layout ", 11)) {
		fd = oci_layout_open_blob(origin + 11, blob, err);
		if (fd < 0)
			return fd;
		return read_local_range(fd, off, len, unzstd_feed, u);
	}
	repo = strchr(origin, '\n');
	if (repo)
		*repo = '\0';
	if (sscanf(origin, "%15s %1023s", scheme, host) != 2 || !(repo = strrchr(origin, ' ')))
		return kl_error_setf(err, EBADMSG, "layer %s: bad origin record",
		                     digest_to_string(blob, id));
	{
		const char *insecure[] = {host};
		struct registry_options o = {.insecure_hosts = insecure,
		                             .n_insecure_hosts = !strcmp(scheme, "http") ? 1 : 0,
		                             .auth_file = pd->auth_file};

		r = registry_new(host, repo + 1, &o, &reg, err);
	}
	if (r < 0)
		return r;
	return registry_get_range(reg, blob, off, len, unzstd_feed, u, err);
}

static int
layer_fetch(void *data, const struct provider_request *req, struct store_writer *w,
            struct kl_error **err)
{
	struct provider_data *pd = data;
	struct unzstd u = {.w = w, .want = req->size, .out_size = ZSTD_DStreamOutSize()};
	struct digest blob;
	uint64_t off, len;
	int r;

	if (parse_locator(req, &blob, &u.gz, &off, &len) < 0)
		return kl_error_setf(err, EINVAL, "bad layer locator '%.*s'", (int)req->locator_len,
		                     req->locator);
	if (u.gz ? inflateInit2(&u.zs, 16 + MAX_WBITS) != Z_OK : !(u.z = ZSTD_createDStream()))
		return kl_error_setf(err, ENOMEM, "creating a %s stream", u.gz ? "zlib" : "zstd");
	u.out = xmalloc(u.out_size);
	r = fetch_range(pd, &blob, off, len, &u, err);
	if (r >= 0 && u.got != u.want)
		r = kl_error_setf(err, EBADMSG,
		                  "'%s': %" PRIu64 " bytes in its %s, expected %" PRIu64,
		                  req->path ? req->path : "file", u.got,
		                  u.gz ? "gzip members" : "frames", u.want);
	if (r == -EBADMSG && u.zerr)
		r = imgsrc_error_from_zstd(err, u.zerr,
		                           "decompressing a file of a zstd:chunked layer");
	if (r == -EBADMSG && u.gzerr)
		r = imgsrc_error_from_zlib(err, u.gzerr, u.zs.msg,
		                           "decompressing a file of an eStargz layer");
	if (u.gz)
		inflateEnd(&u.zs);
	else
		ZSTD_freeDStream(u.z);
	free(u.out);
	kl_debug("layer provider: %s %" PRIu64 "+%" PRIu64 ": %d", req->path ? req->path : "?", off,
	         len, r);
	return r < 0 ? r : 0;
}

static void
layer_free(void *data)
{
	struct provider_data *pd = data;

	store_unref(pd->store);
	free(pd->auth_file);
	free(pd);
}

static const struct provider_ops layer_ops = {
    .scheme = "layer",
    .fetch = layer_fetch,
    .free = layer_free,
};

void
imgsrc_add_provider(struct provider_set *ps, struct store *s, const char *auth_file)
{
	struct provider_data *pd = xcalloc(1, sizeof(*pd));

	pd->store = store_ref(s);
	pd->auth_file = auth_file ? xstrdup(auth_file) : NULL;
	provider_set_add(ps, &layer_ops, pd);
}
