// SPDX-License-Identifier: Apache-2.0
/* Small records of a module, kept by key under the store root and replaced by rename. */
#include "fs/store-record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fs/digest.h"
#include "fs/store.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

char *
store_record_path(struct store *s, const char *dir, const struct digest *key)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/%s/%s", store_root(s), dir, digest_to_hex(key, hex));
}

int
store_record_read(struct store *s, const char *dir, const struct digest *key, size_t max,
                  char **ret, size_t *ret_len)
{
	_cleanup_free_ char *p = store_record_path(s, dir, key);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || kl_io_read_all(fd, max, ret, ret_len) < 0)
		return -ENOENT;
	return 0;
}

int
store_record_write(struct store *s, const char *dir, const struct digest *key, const void *text,
                   size_t n, struct kl_error **err)
{
	_cleanup_free_ char *d = kl_path_join(store_root(s), dir);
	_cleanup_free_ char *p = store_record_path(s, dir, key);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", p, (int)getpid());
	_cleanup_close_ int fd = -1;
	int r;

	r = kl_path_mkdir_p(d, 0755);
	if (r < 0)
		return kl_error_set(err, -r, "creating '%s'", d);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return kl_error_set(err, errno, "creating '%s'", tmp);
	r = kl_io_write_all(fd, text, n);
	if (r >= 0 && rename(tmp, p) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return kl_error_set(err, -r, "writing '%s'", p);
	}
	return 0;
}
