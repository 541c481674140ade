// SPDX-License-Identifier: Apache-2.0
/* A step's "user[:group]" resolved in its rootfs's /etc/passwd and /etc/group, by BuildKit's
 * rules (those of runc's libcontainer/user, which BuildKit uses). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

#define ID_MAX 2147483647u        /* ids are 31-bit, as libcontainer checks */
#define USER_FILE_MAX (16u << 20) /* bytes of /etc/passwd or /etc/group read */

void
exec_user_done(struct exec_user *u)
{
	free(u->groups);
	free(u->home);
	*u = (struct exec_user){0};
}

/* A decimal id (digits only); false for anything else or out of range. */
static bool
parse_id(const char *s, size_t len, uint32_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > ID_MAX)
		return false;
	*ret = (uint32_t)v;
	return true;
}

/* Splits one line of a colon-separated file into at most max fields; returns the count. */
static size_t
split_fields(const char *line, size_t len, const char **f, size_t *flen, size_t max)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= len && n < max; i++) {
		if (i == len || line[i] == ':') {
			f[n] = line + start;
			flen[n++] = i - start;
			start = i + 1;
		}
	}
	return n;
}

static bool
field_is(const char *f, size_t len, const char *s, size_t slen)
{
	return len == slen && memcmp(f, s, len) == 0;
}

/* Calls fn on each entry line of a passwd or group file (comments and blank lines skipped);
 * stops when fn returns true. */
static void
each_line(const char *buf, size_t len, bool (*fn)(const char *line, size_t n, void *ud), void *ud)
{
	size_t pos = 0;

	while (buf && pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		const char *line = buf + pos;

		pos += n + 1;
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		while (n && (*line == ' ' || *line == '\t')) {
			line++;
			n--;
		}
		if (n == 0 || *line == '#')
			continue;
		if (fn(line, n, ud))
			return;
	}
}

struct user_match {
	const char *name; /* match by name, or … */
	size_t name_len;
	bool by_id; /* … by uid */
	uint32_t id;
	bool found;
	char *matched_name;
	uint32_t uid, gid;
	char *home;
};

static bool
match_user(const char *line, size_t n, void *ud)
{
	struct user_match *m = ud;
	const char *f[7];
	size_t fl[7];
	uint32_t uid, gid = 0;
	size_t nf = split_fields(line, n, f, fl, 7);

	if (nf < 3 || !parse_id(f[2], fl[2], &uid))
		return false;
	if (m->by_id ? uid != m->id : !field_is(f[0], fl[0], m->name, m->name_len))
		return false;
	if (nf >= 4)
		(void)parse_id(f[3], fl[3], &gid);
	m->found = true;
	m->matched_name = xstrndup(f[0], fl[0]);
	m->uid = uid;
	m->gid = gid;
	m->home = nf >= 6 && fl[5] ? xstrndup(f[5], fl[5]) : NULL;
	return true;
}

struct group_match {
	/* explicit group: by name or id; implicit: groups listing member */
	const char *name;
	size_t name_len;
	bool by_id;
	uint32_t id;
	const char *member;
	bool found;
	uint32_t gid;
	uint32_t *gids; /* implicit: every group listing member, in file order */
	size_t n_gids, cap_gids;
};

static bool
lists_member(const char *list, size_t len, const char *member)
{
	size_t ml = strlen(member), start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || list[i] == ',') {
			if (field_is(list + start, i - start, member, ml))
				return true;
			start = i + 1;
		}
	}
	return false;
}

static bool
match_group(const char *line, size_t n, void *ud)
{
	struct group_match *m = ud;
	const char *f[4];
	size_t fl[4];
	uint32_t gid;
	size_t nf = split_fields(line, n, f, fl, 4);

	if (nf < 3 || !parse_id(f[2], fl[2], &gid))
		return false;
	if (m->member) {
		if (nf >= 4 && lists_member(f[3], fl[3], m->member)) {
			m->gids = xgrow(m->gids, &m->cap_gids, m->n_gids + 1, sizeof(*m->gids));
			m->gids[m->n_gids++] = gid;
		}
		return false;
	}
	if (m->by_id ? gid != m->id : !field_is(f[0], fl[0], m->name, m->name_len))
		return false;
	m->found = true;
	m->gid = gid;
	return true;
}

/* The home of uid in passwd, "/" when it has none. */
static char *
home_of(const char *passwd, size_t len, uint32_t uid)
{
	struct user_match m = {.by_id = true, .id = uid};
	char *home;

	each_line(passwd, len, match_user, &m);
	free(m.matched_name);
	home = m.home && *m.home ? m.home : NULL;
	if (!home)
		free(m.home);
	return home ? home : xstrdup("/");
}

int
exec_user_parse(const char *spec, const char *passwd, size_t passwd_len, const char *group,
                size_t group_len, struct exec_user *ret, struct kl_error **err)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;
	const char *user = spec ? spec : "";
	size_t user_len = colon ? (size_t)(colon - user) : strlen(user);
	const char *grp = colon ? colon + 1 : "";
	size_t grp_len = strlen(grp);
	struct exec_user u = {0};
	struct user_match um = {0};
	uint32_t uid_arg = 0, gid_arg = 0;
	bool uid_num = parse_id(user, user_len, &uid_arg);
	bool gid_num = parse_id(grp, grp_len, &gid_arg);

	/* BuildKit's fast path: numbers for both, or nothing at all, need no files */
	if ((uid_num && gid_num) || (user_len == 0 && grp_len == 0)) {
		u.uid = uid_arg;
		u.gid = gid_arg;
		u.home = home_of(passwd, passwd_len, u.uid);
		*ret = u;
		return 0;
	}
	if (user_len == 0)
		return kl_error_setf(err, EINVAL, "user '%s': no user before the group", spec);
	um.name = user;
	um.name_len = user_len;
	um.by_id = uid_num;
	um.id = uid_arg;
	each_line(passwd, passwd_len, match_user, &um);
	if (um.found) {
		u.uid = um.uid;
		u.gid = um.gid;
		u.home = um.home && *um.home ? TAKE_PTR(um.home) : xstrdup("/");
	} else if (uid_num) {
		u.uid = uid_arg; /* a number without an entry: that uid, group 0 */
		u.home = xstrdup("/");
	} else {
		return kl_error_setf(err, EINVAL,
		                     "user '%.*s' is not in the rootfs's /etc/passwd%s",
		                     (int)user_len, user, passwd ? "" : " (there is no such file)");
	}
	free(um.home);
	if (grp_len) {
		struct group_match gm = {
		    .name = grp, .name_len = grp_len, .by_id = gid_num, .id = gid_arg};

		each_line(group, group_len, match_group, &gm);
		if (gm.found) {
			u.gid = gm.gid;
		} else if (gid_num) {
			u.gid = gid_arg;
		} else {
			free(um.matched_name);
			exec_user_done(&u);
			return kl_error_setf(err, EINVAL,
			                     "group '%s' is not in the rootfs's /etc/group%s", grp,
			                     group ? "" : " (there is no such file)");
		}
	} else if (um.matched_name) {
		struct group_match gm = {.member = um.matched_name};

		each_line(group, group_len, match_group, &gm);
		u.groups = gm.gids;
		u.n_groups = gm.n_gids;
	}
	free(um.matched_name);
	*ret = u;
	return 0;
}

/* Reads path inside the rootfs at root_fd (symlinks resolved inside it); *ret NULL when the
 * file does not exist. */
static int
read_in_root(int root_fd, const char *path, char **ret, size_t *ret_len, struct kl_error **err)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	_cleanup_close_ int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	int r;

	*ret = NULL;
	*ret_len = 0;
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return 0;
	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s' in the rootfs", path);
	r = kl_io_read_all(fd, USER_FILE_MAX, ret, ret_len);
	if (r < 0)
		return kl_error_set(err, -r, "reading '%s' in the rootfs", path);
	return 0;
}

int
exec_user_resolve(int root_fd, const char *spec, struct exec_user *ret, struct kl_error **err)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	size_t passwd_len, group_len;
	int r;

	r = read_in_root(root_fd, "/etc/passwd", &passwd, &passwd_len, err);
	if (r >= 0)
		r = read_in_root(root_fd, "/etc/group", &group, &group_len, err);
	if (r < 0)
		return r;
	return exec_user_parse(spec, passwd, passwd_len, group, group_len, ret, err);
}
