// SPDX-License-Identifier: Apache-2.0
/* Reading xattrs through "/proc/self/fd/N/name": any entry type, no PATH_MAX limits. */
#include "fs/tree-xattrs.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

void
tree_xattr_list_done(struct tree_xattr_list *l)
{
	free(l->names);
	free(l->values);
	free(l->xs);
	*l = (struct tree_xattr_list){0};
}

int
tree_xattrs_read(int dir_fd, const char *name, const char *shown_path, struct tree_xattr_list *l,
                 struct kl_error **err)
{
	_cleanup_free_ char *p = xasprintf("/proc/self/fd/%d/%s", dir_fd, name);
	size_t used = 0, max = 0, cap = 0;
	ssize_t len;

	len = llistxattr(p, NULL, 0);
	if (len < 0 && (errno == ENOTSUP || errno == ENODATA))
		len = 0;
	if (len < 0)
		return kl_error_set(err, errno, "listing xattrs of '%s'", shown_path);
	if (len == 0)
		return 0;
	l->names = xmalloc((size_t)len);
	len = llistxattr(p, l->names, (size_t)len);
	if (len < 0)
		return kl_error_set(err, errno, "listing xattrs of '%s'", shown_path);
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(l->names + i) + 1)
		max++;
	l->xs = xcalloc(max, sizeof(*l->xs));
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(l->names + i) + 1) {
		const char *xn = l->names + i;
		ssize_t vlen = lgetxattr(p, xn, NULL, 0);

		if (vlen < 0 && errno == ENODATA)
			continue; /* removed since listed */
		if (vlen < 0 || (size_t)vlen > TREE_MAX_XATTR_VALUE)
			return kl_error_set(err, vlen < 0 ? errno : E2BIG,
			                    "reading xattr '%s' of '%s'", xn, shown_path);
		l->values = xgrow(l->values, &cap, used + (size_t)vlen + 1, 1);
		vlen = lgetxattr(p, xn, l->values + used, (size_t)vlen);
		if (vlen < 0)
			return kl_error_set(err, errno, "reading xattr '%s' of '%s'", xn,
			                    shown_path);
		/* an offset until values stops growing */
		l->xs[l->n] =
		    (struct tree_xattr){xn, strlen(xn), (void *)(uintptr_t)used, (size_t)vlen};
		used += (size_t)vlen;
		l->n++;
	}
	for (size_t i = 0; i < l->n; i++)
		l->xs[i].value = l->values + (uintptr_t)l->xs[i].value;
	return 0;
}
