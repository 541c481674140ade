// SPDX-License-Identifier: Apache-2.0
/* The digest of what a context scan saw, and its record per directory and options. */
#include "sources/ctxsrc-fingerprint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/store-record.h"
#include "fs/store.h"
#include "util/error.h"
#include "util/cleanup.h"
#include "util/io.h"
#include "util/log.h"
#include "util/path.h"
#include "util/xalloc.h"

#define BUF_SIZE (64u << 10) /* entries are hashed a buffer at a time */
#define SCANS_DIR "ctxsrc/scans"

struct ctxsrc_fingerprint {
	struct digest_ctx *ctx;
	char *buf;
	size_t len;
};

struct ctxsrc_fingerprint *
ctxsrc_fingerprint_new(void)
{
	struct ctxsrc_fingerprint *f = xcalloc(1, sizeof(*f));

	f->ctx = digest_ctx_new();
	f->buf = xmalloc(BUF_SIZE);
	digest_ctx_update(f->ctx, "kiln context scan 1", 19);
	return f;
}

struct ctxsrc_fingerprint *
ctxsrc_fingerprint_free(struct ctxsrc_fingerprint *f)
{
	if (!f)
		return NULL;
	digest_ctx_free(f->ctx);
	free(f->buf);
	free(f);
	return NULL;
}

void
ctxsrc_fingerprint_reset(struct ctxsrc_fingerprint *f)
{
	struct digest ignored;

	digest_ctx_final(f->ctx, &ignored); /* resets it */
	f->len = 0;
	digest_ctx_update(f->ctx, "kiln context scan 1", 19);
}

static void
flush(struct ctxsrc_fingerprint *f)
{
	digest_ctx_update(f->ctx, f->buf, f->len);
	f->len = 0;
}

static void
put(struct ctxsrc_fingerprint *f, const void *p, size_t n)
{
	if (f->len + n > BUF_SIZE)
		flush(f);
	if (n > BUF_SIZE) {
		digest_ctx_update(f->ctx, p, n);
		return;
	}
	memcpy(f->buf + f->len, p, n);
	f->len += n;
}

void
ctxsrc_fingerprint_add(struct ctxsrc_fingerprint *f, const char *path, size_t len,
                       const struct stat *st)
{
	const uint64_t fields[] = {
	    len,
	    st->st_mode,
	    st->st_uid,
	    st->st_gid,
	    (uint64_t)st->st_size,
	    (uint64_t)st->st_mtim.tv_sec,
	    (uint64_t)st->st_mtim.tv_nsec,
	    (uint64_t)st->st_ctim.tv_sec,
	    (uint64_t)st->st_ctim.tv_nsec,
	    st->st_ino,
	    st->st_dev,
	    st->st_nlink,
	    st->st_rdev,
	};

	put(f, fields, sizeof(fields));
	put(f, path, len);
}

void
ctxsrc_fingerprint_final(struct ctxsrc_fingerprint *f, struct digest *ret)
{
	flush(f);
	digest_ctx_final(f->ctx, ret);
}

int
ctxsrc_fingerprint_load(struct store *s, const struct digest *key, struct digest *ret_fp,
                        struct digest *ret_tree)
{
	_cleanup_free_ char *p = store_record_path(s, SCANS_DIR, key);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char buf[2 * DIGEST_STRING_SIZE + 2];
	ssize_t n;

	if (fd < 0)
		return -ENOENT;
	/* "<fingerprint> <tree>\n", both as sha256:<hex> */
	n = kl_io_read_full(fd, buf, sizeof(buf));
	if (n != 2 * (DIGEST_STRING_SIZE - 1) + 2 || buf[DIGEST_STRING_SIZE - 1] != ' ' ||
	    buf[n - 1] != '\n' || digest_parse(buf, DIGEST_STRING_SIZE - 1, ret_fp, NULL) < 0 ||
	    digest_parse(buf + DIGEST_STRING_SIZE, DIGEST_STRING_SIZE - 1, ret_tree, NULL) < 0)
		return -ENOENT;
	return 0;
}

void
ctxsrc_fingerprint_save(struct store *s, const struct digest *key, const struct digest *fp,
                        const struct digest *tree)
{
	char a[DIGEST_STRING_SIZE], b[DIGEST_STRING_SIZE];
	_cleanup_free_ char *line =
	    xasprintf("%s %s\n", digest_to_string(fp, a), digest_to_string(tree, b));
	struct kl_error *err = NULL;

	if (store_record_write(s, SCANS_DIR, key, line, strlen(line), &err) < 0) {
		kl_debug("context: keeping the scan's fingerprint failed: %s", err->msg);
		kl_error_free(err);
	}
}
