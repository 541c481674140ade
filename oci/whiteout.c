// SPDX-License-Identifier: Apache-2.0
/* Tar names of OCI layers: Docker's cleaning, whiteout and opaque-marker names both ways. */
#include "oci/whiteout.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

char *
oci_clean_name(const char *name)
{
	size_t n = strlen(name), o = 0;
	char *out = xmalloc(n + 1);
	const char *p = name;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (o == 0) {
				free(out);
				return NULL;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else if (len && !(len == 1 && p[0] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p += len + (slash ? 1 : 0);
	}
	out[o] = '\0';
	return out;
}

static bool
starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

int
oci_name_classify(const char *clean, enum oci_name_kind *ret_kind, char **ret_path)
{
	const char *slash = strrchr(clean, '/'), *first_end = strchr(clean, '/');
	const char *base = slash ? slash + 1 : clean;
	size_t dir_len = slash ? (size_t)(slash - clean) : 0;
	size_t first_len = first_end ? (size_t)(first_end - clean) : strlen(clean);
	char *path;

	if (!strcmp(base, OCI_WHITEOUT_OPAQUE)) {
		*ret_kind = OCI_NAME_OPAQUE;
		*ret_path = xstrndup(clean, dir_len);
		return 0;
	}
	/* aufs keeps hardlink sources under a top-level ".wh..wh.plnk": nothing below counts. */
	if (starts_with(base, strlen(base), OCI_WHITEOUT_META_PREFIX) ||
	    starts_with(clean, first_len, OCI_WHITEOUT_META_PREFIX)) {
		*ret_kind = OCI_NAME_AUFS;
		*ret_path = NULL;
		return 0;
	}
	if (!starts_with(base, strlen(base), OCI_WHITEOUT_PREFIX)) {
		*ret_kind = OCI_NAME_PLAIN;
		*ret_path = xstrdup(clean);
		return 0;
	}
	base += strlen(OCI_WHITEOUT_PREFIX);
	if (!strcmp(base, "") || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	path = xmalloc(dir_len + 1 + strlen(base) + 1);
	memcpy(path, clean, dir_len);
	if (dir_len)
		path[dir_len++] = '/';
	strcpy(path + dir_len, base);
	*ret_kind = OCI_NAME_WHITEOUT;
	*ret_path = path;
	return 0;
}

/* dir + "/" + prefix + name (no "/" for the root). */
static char *
join_prefixed(const char *dir, size_t dir_len, const char *prefix, const char *name,
              size_t name_len)
{
	size_t pl = strlen(prefix), o = 0;
	char *out = xmalloc(dir_len + 1 + pl + name_len + 1);

	memcpy(out, dir, dir_len);
	o = dir_len;
	if (dir_len)
		out[o++] = '/';
	memcpy(out + o, prefix, pl);
	memcpy(out + o + pl, name, name_len);
	out[o + pl + name_len] = '\0';
	return out;
}

char *
oci_whiteout_name(const char *path, size_t len)
{
	const char *slash = memrchr(path, '/', len);
	size_t dir_len = slash ? (size_t)(slash - path) : 0;
	const char *base = slash ? slash + 1 : path;

	return join_prefixed(path, dir_len, OCI_WHITEOUT_PREFIX, base, len - (size_t)(base - path));
}

char *
oci_opaque_name(const char *dir, size_t len)
{
	return join_prefixed(dir, len, OCI_WHITEOUT_OPAQUE, "", 0);
}
