// SPDX-License-Identifier: Apache-2.0
/* Reading xattrs relative to a directory fd: listxattrat/getxattrat (Linux 6.13) where the
 * kernel has them, else through "/proc/self/fd/N/name"; any entry type, no PATH_MAX limits. */
#include "fs/tree-xattrs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/tree-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

/* Not in Debian 12's headers yet: the numbers are the same on every architecture. */
#ifndef SYS_getxattrat
#define SYS_getxattrat 464
#endif
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif

struct xattr_at_args { /* the kernel's struct xattr_args */
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

/* One entry's xattr calls: the *at syscalls, or the /proc path when the kernel lacks them. */
struct xattr_target {
	int dir_fd;
	const char *name;
	char *proc_path;
};

static void
xattr_target_done(struct xattr_target *t)
{
	free(t->proc_path);
}

static atomic_bool no_at_syscalls;

/* An older kernel says ENOSYS; a seccomp filter that does not know the call may say EPERM
 * (listing xattrs never does). Either way the /proc path still works. */
static bool
syscall_missing(int e)
{
	return e == ENOSYS || e == EPERM;
}

static ssize_t
list_names(struct xattr_target *t, char *buf, size_t size)
{
	if (!atomic_load_explicit(&no_at_syscalls, memory_order_relaxed)) {
		long n =
		    syscall(SYS_listxattrat, t->dir_fd, t->name, AT_SYMLINK_NOFOLLOW, buf, size);

		if (n >= 0 || errno != ENOSYS)
			return (ssize_t)n;
		atomic_store_explicit(&no_at_syscalls, true, memory_order_relaxed);
	}
	if (!t->proc_path)
		t->proc_path = xasprintf("/proc/self/fd/%d/%s", t->dir_fd, t->name);
	return llistxattr(t->proc_path, buf, size);
}

static ssize_t
get_value(struct xattr_target *t, const char *xname, void *buf, size_t size)
{
	if (!atomic_load_explicit(&no_at_syscalls, memory_order_relaxed)) {
		struct xattr_at_args a = {.value = (uint64_t)(uintptr_t)buf,
		                          .size = (uint32_t)size};
		long n = syscall(SYS_getxattrat, t->dir_fd, t->name, AT_SYMLINK_NOFOLLOW, xname, &a,
		                 sizeof(a));

		if (n >= 0 || !syscall_missing(errno))
			return (ssize_t)n;
		atomic_store_explicit(&no_at_syscalls, true, memory_order_relaxed);
	}
	if (!t->proc_path)
		t->proc_path = xasprintf("/proc/self/fd/%d/%s", t->dir_fd, t->name);
	return lgetxattr(t->proc_path, xname, buf, size);
}

void
tree_xattr_list_done(struct tree_xattr_list *l)
{
	free(l->names);
	free(l->values);
	free(l->xs);
	*l = (struct tree_xattr_list){0};
}

/* Points each xs[i].value, an offset into l->values until it stopped growing, at its bytes. */
static void
fix_values(struct tree_xattr_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		l->xs[i].value = l->values + (uintptr_t)l->xs[i].value;
}

int
tree_xattrs_read(int dir_fd, const char *name, const char *shown_path, struct tree_xattr_list *l,
                 struct kl_error **err)
{
	_cleanup_(xattr_target_done) struct xattr_target t = {dir_fd, name, NULL};
	size_t used = 0, max = 0, cap = 0;
	ssize_t len;
	int r = 0;

	len = list_names(&t, NULL, 0);
	if (len < 0 && (errno == ENOTSUP || errno == ENODATA))
		len = 0;
	if (len > 0) {
		l->names = xmalloc((size_t)len);
		len = list_names(&t, l->names, (size_t)len);
	}
	if (len < 0)
		return kl_error_set(err, errno, "listing xattrs of '%s'", shown_path);
	if (len == 0)
		return 0;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(l->names + i) + 1)
		max++;
	l->xs = xcalloc(max, sizeof(*l->xs));
	for (ssize_t i = 0; r == 0 && i < len; i += (ssize_t)strlen(l->names + i) + 1) {
		const char *xn = l->names + i;
		ssize_t vlen = get_value(&t, xn, NULL, 0);

		if (vlen < 0 && errno == ENODATA)
			continue; /* removed since listed */
		if (vlen < 0 || (size_t)vlen > TREE_MAX_XATTR_VALUE) {
			r = kl_error_set(err, vlen < 0 ? errno : E2BIG,
			                 "reading xattr '%s' of '%s'", xn, shown_path);
			break;
		}
		l->values = xgrow(l->values, &cap, used + (size_t)vlen + 1, 1);
		/* A size of 0 would ask for the length again, not the (empty) value. */
		if (vlen > 0)
			vlen = get_value(&t, xn, l->values + used, (size_t)vlen);
		if (vlen < 0) { /* ERANGE: it grew since; the file is changing under the scan */
			r = kl_error_set(err, errno, "reading xattr '%s' of '%s'", xn, shown_path);
			break;
		}
		l->xs[l->n++] =
		    (struct tree_xattr){xn, strlen(xn), (void *)(uintptr_t)used, (size_t)vlen};
		used += (size_t)vlen;
	}
	fix_values(l);
	return r;
}

/* Encoded: per xattr, its name, a NUL, the value's length as u32 little-endian, the value. */

void
tree_xattrs_encode(const struct tree_xattr *xs, size_t n, char **ret, size_t *ret_len)
{
	size_t len = 0, w = 0;
	char *out;

	for (size_t i = 0; i < n; i++)
		len += xs[i].name_len + 1 + 4 + xs[i].value_len;
	out = xmalloc(len + 1);
	for (size_t i = 0; i < n; i++) {
		uint32_t v = (uint32_t)xs[i].value_len;
		const uint8_t le[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24};

		memcpy(out + w, xs[i].name, xs[i].name_len + 1);
		w += xs[i].name_len + 1;
		memcpy(out + w, le, 4);
		w += 4;
		memcpy(out + w, xs[i].value, xs[i].value_len);
		w += xs[i].value_len;
	}
	*ret = out;
	*ret_len = len;
}

static int
compare_xattr_names(const void *a, const void *b)
{
	return strcmp(((const struct tree_xattr *)a)->name, ((const struct tree_xattr *)b)->name);
}

/* Whether two of l's xattrs share a name (which a tree refuses); sorts a copy of the list. */
static bool
has_duplicate(const struct tree_xattr_list *l)
{
	_cleanup_free_ struct tree_xattr *v = NULL;
	bool dup = false;

	if (l->n < 2)
		return false;
	v = xmalloc(l->n * sizeof(*v));
	memcpy(v, l->xs, l->n * sizeof(*v));
	qsort(v, l->n, sizeof(*v), compare_xattr_names);
	for (size_t i = 1; i < l->n && !dup; i++)
		dup = strcmp(v[i - 1].name, v[i].name) == 0;
	return dup;
}

int
tree_xattrs_decode(const void *buf, size_t len, struct tree_xattr_list *l)
{
	const uint8_t *p = buf;
	size_t off = 0, max = 0;

	*l = (struct tree_xattr_list){0};
	if (len == 0)
		return 0;
	l->values = xmalloc(len);
	memcpy(l->values, buf, len);
	for (size_t i = 0; i < len; i++)
		max += p[i] == '\0'; /* at least one NUL per xattr: enough slots */
	l->xs = xcalloc(max ? max : 1, sizeof(*l->xs));
	while (off < len) {
		const char *name = l->values + off;
		size_t nl = strnlen(name, len - off), vl;

		if (nl == 0 || nl > TREE_MAX_XATTR_NAME || len - off - nl < 1 + 4 || l->n == max)
			goto bad;
		off += nl + 1;
		vl = (size_t)p[off] | (size_t)p[off + 1] << 8 | (size_t)p[off + 2] << 16 |
		     (size_t)p[off + 3] << 24;
		off += 4;
		if (vl > TREE_MAX_XATTR_VALUE || vl > len - off)
			goto bad;
		l->xs[l->n++] = (struct tree_xattr){name, nl, l->values + off, vl};
		off += vl;
	}
	if (has_duplicate(l))
		goto bad;
	return 0;
bad:
	tree_xattr_list_done(l);
	return -EBADMSG;
}
