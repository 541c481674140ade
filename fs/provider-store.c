// SPDX-License-Identifier: Apache-2.0
/* The store as a provider: content already present as a blob, verified before use unless the
 * store already trusts it. */
#include "fs/provider.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/store.h"
#include "util/cleanup.h"
#include "util/error.h"

static int
blob_open(void *data, struct store *s, const struct provider_request *req,
          struct provider_source *ret, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	char d_s[DIGEST_STRING_SIZE];

	(void)data;
	/* A "sha256:" locator names the same thing as the digest; the set passes it as the
	 * request's digest, so only the digest is read here. */
	if (!req->digest)
		return kl_error_setf(err, EINVAL,
		                     "content of '%s' has a store locator but no digest",
		                     req->path ? req->path : "(unnamed)");
	fd = store_open_blob(s, req->digest, err);
	if (fd < 0)
		return fd; /* -ENOENT: absent, err untouched */
	if (fstat(fd, &st) < 0)
		return kl_error_set(err, errno, "stat of blob %s",
		                    digest_to_string(req->digest, d_s));
	ret->fd = TAKE_FD(fd);
	ret->size = (uint64_t)st.st_size;
	ret->in_store = true;
	ret->trusted = store_blob_trusted(s, req->digest, &st);
	ret->st = st;
	return 0;
}

const struct provider_ops provider_store_ops = {
    .scheme = "sha256",
    .open = blob_open,
};
