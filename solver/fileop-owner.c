// SPDX-License-Identifier: Apache-2.0
/* Owners of file actions: user and group names looked up in the destination tree's
 * /etc/passwd and /etc/group, as Docker's --chown resolves them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "solver/fileop-internal.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/xalloc.h"

#define MAX_DB_SIZE (16u << 20) /* bytes of /etc/passwd or /etc/group read */

/* A decimal id that fits 32 bits, as strconv.ParseUint(s, 10, 32) takes it. */
static bool
parse_id(const char *s, uint32_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*ret = (uint32_t)v;
	return true;
}

/* The content of file (a path of t, followed through symlinks); empty when it is absent or
 * not a regular file, as for a passwd file that cannot be opened. */
static int
read_db(struct fileop_action_ctx *x, const struct tree *t, const char *file, char **ret,
        size_t *ret_len, struct kl_error **err)
{
	_cleanup_free_ char *resolved = NULL;
	struct tree_entry e;
	uint32_t idx;
	int r;

	r = fileop_path_resolve(t, file, strlen(file), true, file, &resolved, &idx, err);
	if (r < 0 && r != -ENOTDIR)
		return r;
	if (r == -ENOTDIR || idx == TREE_NONE)
		goto empty;
	idx = tree_resolve_hardlink(t, idx);
	tree_entry_at(t, idx, &e);
	if (e.type != TREE_REG)
		goto empty;
	return fileop_read_file(x, t, idx, MAX_DB_SIZE, ret, ret_len, err);
empty:
	*ret = xstrdup("");
	*ret_len = 0;
	return 0;
}

/* Field k (0-based) of the ':'-separated line [s, end): its start and length, or false. */
static bool
field(const char *s, const char *end, unsigned k, const char **ret, size_t *ret_len)
{
	for (; k > 0; k--) {
		const char *colon = memchr(s, ':', (size_t)(end - s));

		if (!colon)
			return false;
		s = colon + 1;
	}
	const char *colon = memchr(s, ':', (size_t)(end - s));

	*ret = s;
	*ret_len = (size_t)((colon ? colon : end) - s);
	return true;
}

static bool
parse_id_n(const char *s, size_t n, uint32_t *ret)
{
	char buf[16];

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return parse_id(buf, ret);
}

/* Finds name in a passwd or group database: the numbers in fields id_field and gid_field
 * (gid_field < 0: none) of its first entry. */
static bool
lookup(const char *db, size_t len, const char *name, unsigned id_field, int gid_field,
       uint32_t *ret_id, uint32_t *ret_gid)
{
	size_t name_len = strlen(name);

	for (const char *s = db, *end; s < db + len; s = end + 1) {
		const char *f;
		size_t flen;

		end = memchr(s, '\n', (size_t)(db + len - s));
		if (!end)
			end = db + len;
		if (!field(s, end, 0, &f, &flen) || flen != name_len || memcmp(f, name, flen))
			continue;
		if (!field(s, end, id_field, &f, &flen) || !parse_id_n(f, flen, ret_id))
			continue;
		if (gid_field >= 0 && (!field(s, end, (unsigned)gid_field, &f, &flen) ||
		                       !parse_id_n(f, flen, ret_gid)))
			continue;
		return true;
	}
	return false;
}

int
fileop_owner_resolve(struct fileop_action_ctx *x, const struct tree *t, const struct graph_owner *o,
                     struct fileop_owner *ret, struct kl_error **err)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	struct fileop_owner out = {.set = true};
	size_t len;
	int r;

	if (!o || (!o->user && !o->group)) {
		*ret = (struct fileop_owner){0};
		return 0;
	}
	if (o->user && parse_id(o->user, &out.uid)) {
		out.gid = out.uid;
	} else if (o->user) {
		r = read_db(x, t, "etc/passwd", &passwd, &len, err);
		if (r < 0)
			return r;
		if (!lookup(passwd, len, o->user, 2, 3, &out.uid, &out.gid))
			return kl_error_setf(
			    err, ENOENT,
			    "unable to find user %s: no matching entries in passwd file", o->user);
	}
	if (o->group && !parse_id(o->group, &out.gid)) {
		r = read_db(x, t, "etc/group", &group, &len, err);
		if (r < 0)
			return r;
		if (!lookup(group, len, o->group, 2, -1, &out.gid, NULL))
			return kl_error_setf(
			    err, ENOENT,
			    "unable to find group %s: no matching entries in group file", o->group);
	}
	*ret = out;
	return 0;
}
