// SPDX-License-Identifier: Apache-2.0
/* Reading OCI image layout directories (index.json, tags by ref.name, verified blobs). */
#include "oci/layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/image.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

int
oci_layout_open_blob(const char *dir, const struct digest *d, struct kl_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	_cleanup_free_ char *p = xasprintf("%s/blobs/sha256/%s", dir, digest_to_hex(d, hex));
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return kl_error_set(err, errno, "opening blob sha256:%s of layout '%s'", hex, dir);
	return fd;
}

int
oci_layout_read_blob(const char *dir, const struct digest *d, size_t max, char **ret,
                     size_t *ret_len, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct digest got;
	size_t len;
	int r;

	fd = oci_layout_open_blob(dir, d, err);
	if (fd < 0)
		return fd;
	r = kl_io_read_all(fd, max, &buf, &len);
	if (r == -EFBIG)
		return kl_error_setf(err, EFBIG, "blob %s of layout '%s' is larger than %zu bytes",
		                     digest_to_string(d, id), dir, max);
	if (r < 0)
		return kl_error_set(err, -r, "reading blob %s of layout '%s'",
		                    digest_to_string(d, id), dir);
	digest_buffer(buf, len, &got);
	if (!digest_equal(&got, d))
		return kl_error_setf(err, EBADMSG,
		                     "blob %s of layout '%s' does not match its digest",
		                     digest_to_string(d, id), dir);
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int
take(struct oci_index *idx, size_t i, struct oci_descriptor *ret)
{
	*ret = idx->manifests[i];
	idx->manifests[i] = (struct oci_descriptor){0};
	return 0;
}

int
oci_layout_find(const char *dir, const char *tag, const struct digest *digest,
                struct oci_descriptor *ret, struct kl_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/index.json", dir);
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct oci_index idx = {0};
	char id[DIGEST_STRING_SIZE];
	size_t len;
	int r, found = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s' (not an OCI image layout?)", path);
	r = kl_io_read_all(fd, OCI_MAX_MANIFEST_SIZE, &buf, &len);
	if (r < 0)
		return kl_error_set(err, -r, "reading '%s'", path);
	r = oci_index_parse(buf, len, &idx, err);
	if (r < 0) {
		kl_error_prefix(err, "'%s'", path);
		return r;
	}
	if (!tag && !digest && idx.n_manifests == 1)
		found = 0;
	for (size_t i = 0; found < 0 && i < idx.n_manifests; i++) {
		const struct oci_descriptor *d = &idx.manifests[i];

		if (digest ? digest_equal(&d->digest, digest)
		           : d->ref_name && !strcmp(d->ref_name, tag ? tag : "latest"))
			found = (int)i;
	}
	if (found < 0) {
		oci_index_done(&idx);
		return kl_error_setf(err, ENOENT, "layout '%s' has no image %s%s", dir,
		                     digest ? "with digest " : "tagged ",
		                     digest ? digest_to_string(digest, id)
		                     : tag  ? tag
		                            : "latest");
	}
	take(&idx, (size_t)found, ret);
	oci_index_done(&idx);
	return 0;
}
